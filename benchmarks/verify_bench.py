"""What the read-back after the upload costs: index requests and seconds, per release.

Publishes 60 small wheels (3 releases of 20 wheels each) to the sandbox, then counts the
requests the verification stage sent to the index (every GET of a simple page or the JSON
API after the last upload) and the seconds it took, with the sandbox answering at once and
with its listing lagging the upload by a few seconds (a cache), which costs retries.

    .venv/bin/python benchmarks/verify_bench.py [--releases 3] [--wheels 20] [--lag 2]

The goal (issue 13): at most one index round trip per release, plus the retries it needed.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.builders import make_wheel  # noqa: E402
from trusted_publish import publish as publish_module  # noqa: E402
from trusted_publish.console import Console  # noqa: E402
from trusted_publish.http.transport import make_session  # noqa: E402
from trusted_publish.inputs import load_inputs  # noqa: E402
from trusted_publish.report import Report, Verified  # noqa: E402
from trusted_publish_sandbox import Sandbox  # noqa: E402

PYTHONS = ("cp39", "cp310", "cp311", "cp312", "cp313")
PLATFORMS = ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "win_amd64", "macosx_11_0_arm64")


def make_release(folder: Path, name: str, wheels: int) -> None:
    tags = [f"{py}-{py}-{plat}" for py in PYTHONS for plat in PLATFORMS]
    if wheels > len(tags):
        raise SystemExit(f"at most {len(tags)} wheels per release")
    for tag in tags[:wheels]:
        make_wheel(folder, name, "1.0.0", tag=tag)


class Recorder:
    """Every request the run's session sends: (monotonic time, method, path)."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def session(self) -> Any:
        session = make_session()
        send = session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.requests.append((time.monotonic(), method, url))
            return send(method, url, *args, **kwargs)

        session.request = request  # type: ignore[method-assign]
        return session

    def after_uploads(self) -> list[str]:
        posts = [t for t, method, url in self.requests if method == "POST" and "/legacy/" in url]
        last = max(posts)
        return [
            url
            for t, method, url in self.requests
            if t > last and method == "GET" and ("/simple/" in url or "/pypi/" in url)
        ]


def run(releases: int, wheels: int, lag: float) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(users={"bench": "pw"}, listing_lag=lag) as sb,
    ):
        dist = Path(tmp) / "dist"
        dist.mkdir()
        for i in range(releases):
            make_release(dist, f"tp_bench_{chr(ord('a') + i)}", wheels)
        env = {"TRUSTED_PUBLISH_USER": "bench", "TRUSTED_PUBLISH_PASSWORD": "pw"}
        flags = {"repository_url": sb.repository_url, "packages_dir": str(dist)}
        console = Console(env={}, out=io.StringIO(), err=io.StringIO())
        inputs = load_inputs(flags, env)
        report = Report(index=inputs.index)
        recorder = Recorder()
        with mock.patch.object(publish_module, "make_session", recorder.session):
            publish_module.publish(inputs, console, env, report)
        return {
            "files": len(report.dists),
            "releases": releases,
            "verified": len(report.files_verified(Verified.YES)),
            "requests": len(recorder.after_uploads()),
            "seconds": report.seconds["verification"],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=3)
    parser.add_argument("--wheels", type=int, default=20, help="wheels per release (max 20)")
    parser.add_argument("--lag", type=float, default=2.0, help="listing lag of the second run")
    args = parser.parse_args()
    print("| listing lag s | files | releases | verified | index requests | seconds |")
    print("|---:|---:|---:|---:|---:|---:|")
    ok = True
    for lag in (0.0, args.lag):
        row = run(args.releases, args.wheels, lag)
        print(
            f"| {lag:.1f} | {row['files']} | {row['releases']} | {row['verified']} | "
            f"{row['requests']} | {row['seconds']:.2f} |"
        )
        ok &= row["verified"] == row["files"]
        if lag == 0:
            ok &= row["requests"] == row["releases"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
