"""Runs the uploads: the first file of each release alone, then the rest in parallel, and
never one more file once the run must stop.

Whether a file may start and whether the run stops are decided under one lock: a worker
takes its next file only while nothing has failed for good and no signal has arrived, and a
worker whose file failed for good says so under that same lock, before any other worker can
take another file. So a broken release stops growing the moment we know it is broken.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from packaging.utils import canonicalize_name

from trusted_publish.dists.discover import Distribution, describe
from trusted_publish.errors import UploadError
from trusted_publish.http.transport import RetryPolicy
from trusted_publish.index.listing import clash
from trusted_publish.index.upload import Outcome, send

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.listing import Lookup
    from trusted_publish.index.target import Index
    from trusted_publish.runtime.signals import StopRequest

#: Files at least this large report their progress while they upload.
PROGRESS_FROM = 16 * 1024 * 1024
#: How often the main thread looks at its workers and at the stop request.
_POLL_SECONDS = 0.05


class Status(Enum):
    """Where one file of the run stands: before, during and after the upload stage."""

    PENDING = "not started"
    IN_FLIGHT = "in flight"
    UNKNOWN = "in flight when the run stopped: unknown (a re-run settles it)"
    REFUSED = "refused by the index"
    UPLOADED = "uploaded"
    SKIPPED = "already on the index"
    WOULD_UPLOAD = "would be uploaded (dry run)"


class UploadEvents(Protocol):
    """Who hears of each file as the stage goes: a signal may end the run at any moment,
    and what it then says of each file must be what was known at that moment."""

    def mark(self, dist: Distribution, status: Status) -> None:
        """`dist` is now `status` (in flight, uploaded, skipped, refused or unknown)."""
        ...

    def stopped(self) -> None:
        """The run stops now: a file still in flight is unknown, and stays so."""
        ...


@dataclass(frozen=True)
class UploadTarget:
    """Where the files go and as whom: the index, asked again through `lookup` when it says
    a name is taken."""

    session: requests.Session
    index: Index
    lookup: Lookup
    current_auth: Callable[[], tuple[str, str]]
    """(user, password) valid for at least the next upload (re-minted when due)."""


@dataclass(frozen=True)
class UploadSettings:
    """How the uploads run, as the user set it."""

    policy: RetryPolicy
    max_parallel: int
    skip_existing: bool


class UploadRun:
    """The upload stage of one run, over the files still to upload."""

    def __init__(
        self,
        target: UploadTarget,
        settings: UploadSettings,
        *,
        attestations: Mapping[str, str],
        events: UploadEvents,
        console: Console,
        stop: StopRequest,
    ) -> None:
        self._target = target
        self._settings = settings
        # File name → the `attestations` form field (empty when this run makes none).
        self._attestations = attestations
        self._events = events
        self._console = console
        self._stop = stop
        # Guards `_queue` and `_failures`: taking a file and stopping are one decision.
        self._lock = threading.Lock()
        self._queue: deque[Distribution] = deque()
        self._failures: list[BaseException] = []
        self._settled: dict[str, Status] = {}

    def run(self, dists: list[Distribution]) -> dict[str, Status]:
        """Upload `dists`: file name → `UPLOADED` or `SKIPPED` (each also told to `events` as
        it happens). The first final failure (or the signal) is raised once every file in
        flight has finished (or, after a signal, its grace is over)."""
        first: dict[tuple[str, str], Distribution] = {}
        rest: list[Distribution] = []
        for dist in dists:
            key = (str(canonicalize_name(dist.name)), dist.version)
            if key in first:
                rest.append(dist)
            else:
                first[key] = dist
        with self._stop.deferred():
            for batch in (list(first.values()), rest):
                self._in_parallel(batch)
        if self._stop.requested:
            # A signal that arrived while the last files finished still stops the run.
            self._events.stopped()
            raise self._stop.error()
        return dict(self._settled)

    def _in_parallel(self, dists: list[Distribution]) -> None:
        if not dists:
            return
        with self._lock:
            self._queue.extend(dists)
        # Daemon threads: after a signal's grace the process exits with its report written,
        # and an upload still in flight must not hold it open (it is reported as unknown).
        workers = [
            threading.Thread(target=self._work, name=f"upload-{i}", daemon=True)
            for i in range(min(self._settings.max_parallel, len(dists)))
        ]
        for worker in workers:
            worker.start()
        while any(w.is_alive() for w in workers):
            if self._stop.requested and self._stop.grace_left() <= 0:
                self._events.stopped()
                raise self._stop.error()
            for worker in workers:
                worker.join(_POLL_SECONDS / len(workers))
        if self._stop.requested:
            self._events.stopped()
            raise self._stop.error()
        if self._failures:
            raise self._failures[0]

    def _next(self) -> Optional[Distribution]:
        """The next file to start, or None when none may start (under the one lock)."""
        with self._lock:
            if self._failures or self._stop.requested or not self._queue:
                return None
            dist = self._queue.popleft()
            self._events.mark(dist, Status.IN_FLIGHT)
            return dist

    def _work(self) -> None:
        while (dist := self._next()) is not None:
            try:
                self._one(dist)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
                with self._lock:
                    self._failures.append(exc)
                    self._queue.clear()
                landed_unknown = getattr(exc, "maybe_landed", True)
                if getattr(exc, "never_sent", False):
                    # No connection ever opened for it: nothing was sent.
                    self._events.mark(dist, Status.PENDING)
                else:
                    self._events.mark(dist, Status.UNKNOWN if landed_unknown else Status.REFUSED)
                return

    def _one(self, dist: Distribution) -> None:
        console = self._console
        console.info(f"Uploading {describe(dist)}")
        started = time.monotonic()
        target = self._target
        answer = send(
            target.session,
            target.index.upload_url,
            dist,
            target.current_auth,
            policy=self._settings.policy,
            progress=_progress_printer(dist, console),
            on_retry=console.info,
            attestations=self._attestations.get(dist.filename),
        )
        seconds = time.monotonic() - started
        if answer.outcome is Outcome.UPLOADED:
            # A rate for a small file would measure the round trip, not the bandwidth.
            rate = (
                f" ({dist.size / seconds / 1024 / 1024:.1f} MiB/s)"
                if dist.size >= 1024 * 1024 and seconds > 0
                else ""
            )
            console.info(f"Uploaded {dist.filename} in {seconds:.1f} s{rate}")
            self._settle(dist, Status.UPLOADED)
            return
        self._already_there(dist, answer.message)

    def _settle(self, dist: Distribution, status: Status) -> None:
        with self._lock:
            self._settled[dist.filename] = status
        self._events.mark(dist, status)

    def _already_there(self, dist: Distribution, message: str) -> None:
        """The index says the name is taken: only its listing says whether that is fine.

        Skipped only when the index lists this very file name: with our bytes, or (with
        `skip-existing`) without a digest to compare. PyPI gives the same answer for our
        bytes under another file name, which is no reason to call this file published.
        """
        listing = self._target.lookup.files(dist.name, dist.version, fresh=True)
        if listing is not None and dist.filename in listing:
            theirs = listing[dist.filename]
            if theirs == dist.sha256 or (theirs is None and self._settings.skip_existing):
                self._console.notice(
                    f"Skipped {dist.filename}: the index already has it ({message})."
                )
                self._settle(dist, Status.SKIPPED)
                return
            if theirs is not None:
                raise UploadError(
                    f"The index already has a file named {dist.filename}: {clash(dist, theirs)}",
                    fix="A released file can never be replaced: bump the version and rebuild.",
                )
        listed = (
            "the index's listing could not be read"
            if listing is None
            else "the index does not list a file of that name"
        )
        raise UploadError(
            f"The index refused {dist.filename}: {message} ({listed}, so it is not known to "
            "be there).",
            fix="PyPI refuses a file whose bytes were already uploaded under another name, "
            "or whose name was used by a deleted file: publish a new version. If the file is "
            "there after all, re-run: files the index lists with our digest are skipped.",
        )


def _progress_printer(dist: Distribution, console: Console) -> Callable[[int], None] | None:
    """Progress lines at each quarter of a large file: readable in a CI log, no TTY bar."""
    if dist.size < PROGRESS_FROM:
        return None
    marks = iter((25, 50, 75))
    state = {"next": next(marks)}

    def report(sent: int) -> None:
        percent = sent * 100 // dist.size
        while state["next"] and percent >= state["next"]:
            console.info(f"  {dist.filename}: {state['next']}% sent")
            state["next"] = next(marks, 0)

    return report
