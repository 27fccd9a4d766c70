"""How fast `trusted-publish check` reads a release: 200 wheels, ~100 MB, as one command.

Every wheel holds ~0.5 MB of random (incompressible) bytes, like a native extension, so the
run reads ~100 MB that must all be hashed (SHA-256 and BLAKE2b-256) besides opening each zip
and validating its metadata. The command runs as a subprocess, as a build job would run it,
so interpreter start-up and imports are in the number; a run on a folder with one tiny wheel
is timed too, to show that fixed part. The files were just written, so they are in the page
cache: this measures our work, not the disk.

    .venv/bin/python benchmarks/check_bench.py [--wheels 200] [--size-kib 512] [--runs 5]

The goal (issue 4): under one second per 100 MB read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

MB = 1000 * 1000

METADATA = """\
Metadata-Version: 2.4
Name: tp-bench-{i}
Version: 1.0.0
Summary: A wheel made by the check benchmark
License-Expression: MIT
Requires-Python: >=3.9
Requires-Dist: requests>=2
Classifier: Programming Language :: Python :: 3
Description-Content-Type: text/markdown

# tp-bench-{i}

A wheel with a blob of random bytes.
"""


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheels(folder: Path, count: int, size: int) -> int:
    """`count` wheels of `size` random bytes each (plus METADATA, WHEEL, RECORD); total size."""
    for i in range(count):
        name = f"tp_bench_{i}"
        dist_info = f"{name}-1.0.0.dist-info"
        files = {
            f"{name}/_native.so": os.urandom(size),
            f"{dist_info}/METADATA": METADATA.format(i=i).encode(),
            f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: "
            b"false\nTag: cp312-cp312-manylinux_2_17_x86_64\n",
        }
        record = "\n".join(_record_line(p, d) for p, d in files.items())
        files[f"{dist_info}/RECORD"] = f"{record}\n{dist_info}/RECORD,,\n".encode()
        path = folder / f"{name}-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in files.items():
                zf.writestr(member, data)
    return sum(p.stat().st_size for p in folder.iterdir())


def time_check(folder: Path) -> float:
    command = [sys.executable, "-m", "trusted_publish", "check", str(folder)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"check failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=int, default=200)
    parser.add_argument("--size-kib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tp-check-bench-") as tmp:
        many, one = Path(tmp, "many"), Path(tmp, "one")
        many.mkdir()
        one.mkdir()
        total = make_wheels(many, args.wheels, args.size_kib * 1024)
        make_wheels(one, 1, 1024)
        time_check(many)  # warm-up: byte-code compiled, files in the page cache
        runs = [time_check(many) for _ in range(args.runs)]
        baseline = statistics.median(time_check(one) for _ in range(args.runs))

    median, best = statistics.median(runs), min(runs)
    print(f"trusted-publish check: {args.wheels} wheels, {total / MB:.1f} MB, {args.runs} runs")
    print(f"  median {median:.3f} s  best {best:.3f} s  ({total / MB / median:.0f} MB/s)")
    print(f"  {median / (total / (100 * MB)):.3f} s per 100 MB read (goal: under 1 s)")
    print(f"  of which start-up (one tiny wheel): {baseline:.3f} s")
    return 0 if median / (total / (100 * MB)) < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
