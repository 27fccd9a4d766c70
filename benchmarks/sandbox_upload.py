"""How long the sandbox takes to judge a numpy-sized sdist, and what a small upload waits.

Builds an sdist shaped like numpy's (17 License-File entries, ~25 MB compressed, ~45 MB
inflated, ~1,200 members) and a small wheel, then against a fresh sandbox:
(a) uploads the sdist alone: wall time of the POST;
(b) uploads it again (as another project) and, once the sandbox has all its bytes, a small
    wheel beside it: wall time of the small wheel's POST.

    .venv/bin/python benchmarks/sandbox_upload.py

To measure another checkout's sandbox, put its src/ first: PYTHONPATH=<checkout>/src.
"""

from __future__ import annotations

import hashlib
import io
import random
import secrets
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

from trusted_publish_sandbox import Sandbox

MIB = 1024 * 1024
LICENSES = [f"LICENSES/LICENSE-{i}.txt" for i in range(17)]


def pkg_info(name: str) -> str:
    return (
        f"Metadata-Version: 2.4\nName: {name}\nVersion: 1.0.0\nSummary: numpy-sized\n"
        + "".join(f"License-File: {lic}\n" for lic in LICENSES)
        + "\n"
    )


def big_sdist(folder: Path, name: str) -> Path:
    rng = random.Random(0)  # noqa: S311 - repeatable filler, not a secret
    root = f"{name}-1.0.0"
    path = folder / f"{root}.tar.gz"
    words = [rng.randbytes(6).hex() for _ in range(5000)]
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:

        def add(member: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        add("PKG-INFO", pkg_info(name).encode())
        for i in range(1200):  # source files: text that gzip shrinks about 3 times
            add(f"src/module_{i}.c", " ".join(rng.choices(words, k=2500)).encode())
        add("data/blob.bin", rng.randbytes(8 * MIB))
        for lic in LICENSES:
            add(lic, b"License text\n" * 100)
    return path


def small_wheel(folder: Path) -> Path:
    path = folder / "tp_small-1.0.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: tp-small\nVersion: 1.0.0\n\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tp_small/__init__.py", "")
        zf.writestr("tp_small-1.0.0.dist-info/METADATA", meta)
        zf.writestr("tp_small-1.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr("tp_small-1.0.0.dist-info/RECORD", "")
    return path


def body(path: Path, name: str) -> tuple[bytes, str]:
    data = path.read_bytes()
    sdist = path.name.endswith(".tar.gz")
    fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", "1.0.0"),
        ("metadata_version", "2.4" if sdist else "2.1"),
        ("filetype", "sdist" if sdist else "bdist_wheel"),
        ("pyversion", "source" if sdist else "py3"),
        ("sha256_digest", hashlib.sha256(data).hexdigest()),
        *(("license_file", lic) for lic in (LICENSES if sdist else [])),
    ]
    boundary = secrets.token_hex(8)
    out = io.BytesIO()
    for key, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    )
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def post(sb: Sandbox, payload: tuple[bytes, str]) -> tuple[int, float]:
    sess = requests.Session()
    sess.trust_env = False
    started = time.monotonic()
    resp = sess.post(
        sb.repository_url,
        data=payload[0],
        headers={"Content-Type": payload[1]},
        auth=("alice", "s3cret"),
        timeout=600,
    )
    return resp.status_code, time.monotonic() - started


def main() -> int:
    folder = Path(tempfile.mkdtemp())
    first, second = big_sdist(folder, "tp_big"), big_sdist(folder, "tp_big_two")
    wheel = small_wheel(folder)
    print(f"sdist: {first.stat().st_size / MIB:.1f} MiB, {len(LICENSES)} License-File entries")
    with Sandbox(users={"alice": "s3cret"}) as sb:
        status, took = post(sb, body(first, "tp-big"))
        print(f"(a) the sdist alone: HTTP {status} in {took:.2f} s")
        results: dict[str, tuple[int, float]] = {}
        big = threading.Thread(
            target=lambda: results.update(big=post(sb, body(second, "tp-big-two")))
        )
        big.start()
        # Once its body is all in (the sandbox's incoming file has every byte), it is
        # being checked: send the small one then.
        size = second.stat().st_size
        while not any(p.stat().st_size >= size for p in sb.warehouse.incoming_dir.iterdir()):
            time.sleep(0.005)
        results["small"] = post(sb, body(wheel, "tp-small"))
        big.join()
        print(
            f"(b) a small wheel beside it: HTTP {results['small'][0]} in "
            f"{results['small'][1]:.2f} s (the sdist: {results['big'][1]:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
