"""Stopped mid-run: a real process, real signals, and the index's own record of what landed.

GitHub cancels a step with SIGINT, then SIGTERM, then SIGKILL. Whatever arrives, no file
starts after it, and the log, the step outputs and the summary say what landed, what was in
flight (unknown) and what never started, and never show a success mark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from support.builders import make_wheel
from support.hostile import Behaviour, HostileIndex
from trusted_publish.console import Console
from trusted_publish.dists.discover import Distribution
from trusted_publish.errors import UploadError
from trusted_publish.index.listing import Lookup
from trusted_publish.index.scheduler import UploadRun, UploadSettings, UploadTarget
from trusted_publish.index.target import Index
from trusted_publish.index.upload import Answer, Outcome, RetryPolicy
from trusted_publish.report import Report, Status
from trusted_publish.runtime.signals import StopRequest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TAGS = [f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64" for minor in range(8, 14)]


@pytest.fixture
def hostile() -> Iterator[HostileIndex]:
    with HostileIndex() as index:
        yield index


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """Six wheels of one release: the first goes alone, the rest two at a time."""
    for tag in TAGS:
        make_wheel(tmp_path / "dist", tag=tag)
    return tmp_path / "dist"


@dataclass
class Finished:
    code: int
    log: str
    outputs: dict[str, list[str]]
    summary: str
    seconds: float


class Run:
    """`trusted-publish` as a child process, as the action runs it."""

    def __init__(self, hostile: HostileIndex, dist: Path, tmp_path: Path) -> None:
        self.output = tmp_path / "output.txt"
        self.summary = tmp_path / "summary.md"
        env = {
            **os.environ,
            **hostile.env(),
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
            "TRUSTED_PUBLISH_MAX_PARALLEL": "2",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trusted_publish"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.signalled_at = 0.0

    def signal(self, signum: int) -> None:
        self.signalled_at = time.monotonic()
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 30) -> Finished:
        log, _ = self.proc.communicate(timeout=timeout)
        seconds = time.monotonic() - self.signalled_at
        return Finished(self.proc.returncode, log, _outputs(self.output), self._summary(), seconds)

    def _summary(self) -> str:
        return self.summary.read_text() if self.summary.exists() else ""


def _outputs(path: Path) -> dict[str, list[str]]:
    """GITHUB_OUTPUT's heredoc entries, each a JSON list."""
    values: dict[str, list[str]] = {}
    lines = iter(path.read_text().splitlines() if path.exists() else [])
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value = next(lines)
        assert next(lines) == delimiter
        values[name] = json.loads(value)
    return values


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def assert_truthful(done: Finished, hostile: HostileIndex) -> None:
    """The report agrees with the index's own record, file by file."""
    landed = set(hostile.landed)
    uploaded = set(done.outputs["uploaded"])
    unknown = set(done.outputs["unknown"])
    not_started = set(done.outputs["not-started"])
    started = set(hostile.received)
    assert uploaded <= landed, "reported uploaded, but the index does not have it"
    assert landed <= uploaded | unknown, "landed, but reported neither uploaded nor unknown"
    assert not (not_started & started), "reported not started, but the index saw its upload"
    assert len(uploaded | unknown | not_started) == len(TAGS)
    assert "Done:" not in done.log
    assert "✅" not in done.summary
    assert "❌" in done.summary


def test_sigint_mid_upload_starts_no_new_file_and_reports_what_landed(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    # The first file (it creates the release) lands at once; the others take a second.
    hostile.behave("upload", Behaviour(mode="slow", seconds=1.0, after=1))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("upload")) >= 2)
    run.signal(signal.SIGINT)
    done = run.finish()
    assert done.code == 130
    time.sleep(1.5)  # let any upload the index was still taking finish on its side
    assert len(hostile.requests_to("upload")) <= 3  # the first, and the two in flight
    assert_truthful(done, hostile)
    # The files in flight finished within SIGINT's grace: they are known to have landed.
    assert set(done.outputs["uploaded"]) == set(hostile.landed)
    assert len(done.outputs["not-started"]) >= 3
    assert "Stopped by SIGINT" in done.log
    assert "Interrupted (" in done.summary


def test_sigterm_gives_files_in_flight_a_short_grace_then_calls_them_unknown(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    # The first file (it creates the release) lands at once; the others take their time.
    hostile.behave("upload", Behaviour(mode="slow", seconds=20.0, after=1))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("upload")) >= 3)
    run.signal(signal.SIGTERM)
    done = run.finish()
    assert done.code == 143
    assert done.seconds < 2.5, "GitHub kills the process 2.5 s after SIGTERM"
    assert_truthful(done, hostile)
    assert len(done.outputs["unknown"]) == 2
    assert "In flight when the run stopped (unknown" in done.log
    assert "unknown (a re-run settles it)" in done.summary


def test_a_second_signal_cuts_the_grace_short(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    # The first file (it creates the release) lands at once; the others take their time.
    hostile.behave("upload", Behaviour(mode="slow", seconds=20.0, after=1))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("upload")) >= 3)
    run.signal(signal.SIGINT)
    time.sleep(0.3)
    run.proc.send_signal(signal.SIGINT)
    done = run.finish()
    assert done.code == 130
    assert done.seconds < 2.0
    assert_truthful(done, hostile)


def test_a_signal_during_the_token_exchange_shows_no_success(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    hostile.behave("mint", Behaviour(mode="hang"))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("mint")) == 1)
    run.signal(signal.SIGTERM)
    done = run.finish()
    assert done.code == 143
    assert hostile.requests_to("upload") == []
    assert done.outputs["uploaded"] == []
    assert len(done.outputs["not-started"]) == len(TAGS)
    assert "✅" not in done.summary and "❌" in done.summary
    assert "Interrupted (0 uploaded" in done.summary


# --- after one file fails for good, no other file starts ------------------------------------


def test_no_file_starts_after_one_failed_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: the second worker finishes its file only once the first worker's
    failure is recorded, and must then find nothing more to start."""
    for tag in TAGS:
        make_wheel(tmp_path, tag=tag)
    index = Index.from_urls("http://127.0.0.1:9/legacy/")
    dists = _read_all(tmp_path)
    first, failing, slow, *rest = dists
    refused, slow_started = threading.Event(), threading.Event()
    started: list[str] = []

    class WatchedReport(Report):
        def mark(self, dist: Distribution, status: Status) -> None:
            super().mark(dist, status)
            if status is Status.REFUSED:
                refused.set()

    def fake_send(_session: object, _url: str, dist: Distribution, *_a: object, **_k: object):
        started.append(dist.filename)
        if dist is failing:
            assert slow_started.wait(5)
            raise UploadError("refused")
        if dist is slow:
            slow_started.set()
            assert refused.wait(5)
        return Answer(Outcome.UPLOADED, 200, "OK")

    report = WatchedReport(index=index)
    report.planned(dists)
    run = UploadRun(
        UploadTarget(
            None,  # type: ignore[arg-type]
            index,
            Lookup(None, index),  # type: ignore[arg-type]
            lambda: ("__token__", "x"),
        ),
        UploadSettings(RetryPolicy(), max_parallel=2, skip_existing=False),
        attestations={},
        events=report,
        console=Console(env={}),
        stop=StopRequest(),
    )
    monkeypatch.setattr("trusted_publish.index.scheduler.send", fake_send)
    with pytest.raises(UploadError, match="refused"):
        run.run(dists)
    assert sorted(started) == sorted([first.filename, failing.filename, slow.filename])
    assert [d.filename for d in report.files(Status.PENDING)] == [d.filename for d in rest]


def _read_all(folder: Path) -> list[Distribution]:
    from support.dists import read_distribution

    return [read_distribution(p) for p in sorted(folder.iterdir())]


# --- after the uploads: a signal cuts the read-back and the burn short -----------------------


def test_sigterm_during_the_read_back_reports_what_landed_within_a_second(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    # Every file lands; then the read-back (and the burn after it) would hang for good. Before
    # the upload the client asks for the project's page and the index's root page.
    hostile.behave("simple", Behaviour(mode="hang", after=2))
    hostile.behave("burn", Behaviour(mode="hang"))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("simple")) >= 3)
    signalled = time.time()
    run.signal(signal.SIGTERM)
    done = run.finish()
    assert done.code == 143
    assert done.seconds < 1.5, f"{done.seconds:.2f} s: GitHub kills the process 2.5 s after"
    written = run.summary.stat().st_mtime - signalled
    assert written < 1.0, f"the summary was written {written:.2f} s after SIGTERM"
    # Every file landed, and the report says so; none is claimed verified.
    assert sorted(done.outputs["uploaded"]) == sorted(hostile.landed)
    assert len(hostile.landed) == len(TAGS)
    assert done.outputs["verified"] == []
    assert "Interrupted (" in done.summary
    # The burn got what was left of half a second after the signal, and said so.
    assert "Could not burn the upload token (no complete answer within the" in done.log


def test_sigterm_during_the_burn_ends_it_and_the_finished_release_stays_finished(
    hostile: HostileIndex, wheels: Path, tmp_path: Path
) -> None:
    hostile.behave("burn", Behaviour(mode="hang"))
    run = Run(hostile, wheels, tmp_path)
    wait_for(lambda: len(hostile.requests_to("burn")) >= 1)
    run.signal(signal.SIGTERM)
    done = run.finish()
    assert done.seconds < 1.5, f"{done.seconds:.2f} s: GitHub kills the process 2.5 s after"
    # Uploaded and read back before the signal: the release is done, the burn a warning.
    assert done.code == 0, done.log
    assert sorted(done.outputs["uploaded"]) == sorted(hostile.landed)
    assert sorted(done.outputs["verified"]) == sorted(hostile.landed)
    assert "Could not burn the upload token (cut short by a signal)" in done.log
    assert "✅" in done.summary
