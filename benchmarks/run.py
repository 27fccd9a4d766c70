"""`make bench`: trusted-publish against twine and uv publish, measured in the same run.

(a) one 1 GiB wheel (and a 1 MiB one, for memory flatness) to a server that discards the
    body: wall time and the client's peak RSS;
(b) 60 small wheels to a server that takes 250 ms to answer each upload: wall time.

The servers run in their own process on 127.0.0.1 and answer every GET (our "which files do
you have" look-up) with 404, so every client does the same uploads. Peak RSS is the
client process's own maximum resident set (os.wait4), in MiB. Prints a table and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
MiB = 1024 * 1024


# --- servers (run with `python run.py --serve MODE PORTFILE`) ------------------------------------


def _handle(conn: socket.socket, delay: float) -> None:
    buf = bytearray(MiB)
    view = memoryview(buf)
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        method = head.split(b" ", 1)[0]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if b"100-continue" in head.lower():
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        remaining = length - len(rest)
        while remaining > 0:
            n = conn.recv_into(view, min(remaining, MiB))
            if n == 0:
                return
            remaining -= n
        if method == b"GET":
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        time.sleep(delay)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")


def serve(mode: str, portfile: str) -> None:
    delay = 0.25 if mode == "slow" else 0.0
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    Path(portfile).write_text(str(sock.getsockname()[1]))
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_handle, args=(conn, delay), daemon=True).start()


class Server:
    def __init__(self, mode: str, workdir: Path) -> None:
        portfile = workdir / f"{mode}.port"
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", mode, str(portfile)])
        deadline = time.monotonic() + 10
        while not portfile.exists() or not portfile.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("benchmark server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{portfile.read_text()}/legacy/"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


# --- distributions -------------------------------------------------------------------------------


def make_wheel(folder: Path, payload: int, tag: str = "py3-none-any") -> Path:
    """A valid wheel whose size is mostly one stored (uncompressed) random member."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tp_bench-1.0.0-{tag}.whl"
    meta = "Metadata-Version: 2.1\nName: tp-bench\nVersion: 1.0.0\nSummary: benchmark\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("tp_bench/__init__.py", "")
        with zf.open("tp_bench/blob.bin", "w", force_zip64=True) as fh:
            left = payload
            block = os.urandom(MiB)
            while left > 0:
                fh.write(block[: min(MiB, left)])
                left -= MiB
        zf.writestr("tp_bench-1.0.0.dist-info/METADATA", meta)
        zf.writestr(
            "tp_bench-1.0.0.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: {tag}\n",
        )
        zf.writestr("tp_bench-1.0.0.dist-info/RECORD", "")
    return path


# --- clients -------------------------------------------------------------------------------------


def commands(url: str, files: list[Path]) -> dict[str, list[str]]:
    names = [str(f) for f in files]
    folder = str(files[0].parent)
    return {
        "trusted-publish": [
            sys.executable, "-m", "trusted_publish", "--repository-url", url,
            "--packages-dir", folder, "--password", "pypi-benchmark", "--verify-metadata",
            "false",
        ],
        "twine": [
            str(BIN / "twine"), "upload", "--repository-url", url, "-u", "__token__",
            "-p", "pypi-benchmark", "--non-interactive", "--disable-progress-bar", *names,
        ],
        "uv publish": [
            str(BIN / "uv"), "publish", "--publish-url", url, "-u", "__token__",
            "-p", "pypi-benchmark", *names,
        ],
    }  # fmt: skip


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one run; raises if the client failed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINE_", "UV_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    # Measure what a runner sees: cached bytecode (this machine disables it by default, which
    # would charge every Python client ~0.4 s of compiling per run). The first of the runs
    # below warms the cache for every client alike.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def best_of(cmd: list[str], runs: int) -> tuple[float, float]:
    results = [measure(cmd) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=2, metavar=("MODE", "PORTFILE"), help=argparse.SUPPRESS)
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large wheel")
    parser.add_argument("--small-count", type=int, default=60)
    parser.add_argument("--runs", type=int, default=2, help="runs per client (best time)")
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0

    work = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    discard, slow = Server("discard", work), Server("slow", work)
    rows: list[tuple[str, str, float, float]] = []
    try:
        print(
            f"making a {args.big_mib} MiB wheel, a 1 MiB wheel and {args.small_count} small ones…"
        )
        big = make_wheel(work / "big", args.big_mib * MiB)
        small = make_wheel(work / "one-mib", MiB)
        tags = [f"cp3{m}-cp3{m}-manylinux_2_17_x86_64" for m in range(10, 14)]
        many = [
            make_wheel(work / "many", 16 * 1024, f"{tag.replace('x86_64', f'x86_64.p{i}')}")
            for i in range(args.small_count // len(tags) + 1)
            for tag in tags
        ][: args.small_count]
        for name, cmd in commands(discard.url, [small]).items():
            wall, rss = best_of(cmd, args.runs)
            rows.append(("(a) 1 MiB wheel", name, wall, rss))
        for name, cmd in commands(discard.url, [big]).items():
            wall, rss = best_of(cmd, args.runs)
            rows.append((f"(a) {args.big_mib} MiB wheel", name, wall, rss))
        for name, cmd in commands(slow.url, many).items():
            wall, rss = best_of(cmd, args.runs)
            rows.append((f"(b) {len(many)} wheels, 250 ms each", name, wall, rss))
    finally:
        discard.stop()
        slow.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| case | client | wall s | peak RSS MiB |\n|---|---|---:|---:|")
    for case, client, wall, rss in rows:
        print(f"| {case} | {client} | {wall:.2f} | {rss:.1f} |")
    t = {(c, n): (w, r) for c, n, w, r in rows}
    big_case, many_case = f"(a) {args.big_mib} MiB wheel", f"(b) {len(many)} wheels, 250 ms each"
    ours_big, twine_big = t[(big_case, "trusted-publish")], t[(big_case, "twine")]
    ours_small = t[("(a) 1 MiB wheel", "trusted-publish")]
    faster_peer = min(t[(many_case, "twine")][0], t[(many_case, "uv publish")][0])
    print()
    print(
        f"(a) wall time, trusted-publish / twine: {ours_big[0] / twine_big[0]:.2f} (target <= 0.50)"
    )
    print(
        f"(a) peak RSS: {ours_big[1]:.1f} MiB for {args.big_mib} MiB vs {ours_small[1]:.1f} MiB "
        f"for 1 MiB: +{ours_big[1] - ours_small[1]:.1f} MiB (targets: < 48 MiB, within 5 MiB)"
    )
    speedup = faster_peer / t[(many_case, "trusted-publish")][0]
    print(f"(b) speed-up over the faster peer: {speedup:.1f}x (target >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
