"""SIGINT and SIGTERM become a stop request that the run obeys without lying about it.

GitHub cancels a step with SIGINT, then SIGTERM about 7.5 s later, then SIGKILL 2.5 s after
that. Before the first upload, a signal stops the run at once (nothing can have landed).
While files upload, it only asks: no new file starts, the files in flight get a short grace
to finish (shorter after SIGTERM, cut short by a second signal), and the report then says
which files landed, which were in flight (unknown) and which never started. After the
uploads, a signal cuts the read-back, the provenance and the token burn short: whatever is
still to do after it must end within `AFTER_SIGNAL` seconds, so the report is written well
inside the second GitHub leaves after SIGTERM.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Callable, Optional

from trusted_publish.errors import Interrupted

#: Seconds the files in flight get to finish after SIGINT: under the 7.5 s before GitHub's
#: SIGTERM, with time left to write the report.
GRACE_AFTER_SIGINT = 5.0
#: After SIGTERM GitHub kills the process 2.5 s later: the report must be written before.
GRACE_AFTER_SIGTERM = 1.5
#: Seconds the work after the uploads (a token burn) may still take after a signal: the
#: report is written within a second of it.
AFTER_SIGNAL = 0.5

_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None
)


class StopRequest:
    """Whether (and by which signal) the run was asked to stop; safe to read from any thread.

    Written only by the signal handler, in the main thread; a plain attribute, not a lock,
    so the handler can never wait for a lock the interrupted code holds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.signum: Optional[int] = None
        self.hurry = False
        """A second signal arrived: give up waiting for the files in flight."""
        self.raise_at_once = True
        """Before (and after) the uploads, a signal ends the run where it is."""
        self._clock = clock
        self._at: Optional[float] = None
        self._acted_at: Optional[float] = None
        """When the run acted on a signal that came while it was deferred (the uploads'
        grace is over): the work after it is timed from then."""

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def handle(self, signum: int, frame: Optional[FrameType] = None) -> None:
        """The signal handler."""
        if self.signum is None:
            self.signum, self._at = signum, self._clock()
        else:
            self.hurry = True
        if self.raise_at_once:
            raise self.error()

    def error(self) -> Interrupted:
        return Interrupted(self.signum or signal.SIGINT)

    def grace_left(self) -> float:
        """Seconds the files in flight may still take (0 when there is no more waiting)."""
        if self._at is None:
            return float("inf")
        if self.hurry:
            return 0.0
        grace = GRACE_AFTER_SIGTERM if self.signum == signal.SIGTERM else GRACE_AFTER_SIGINT
        return max(0.0, self._at + grace - self._clock())

    def seconds_left(self, budget: float = AFTER_SIGNAL) -> float:
        """Seconds still allowed for work `budget` seconds long after the signal, or after
        the uploads' grace when it came during the uploads (infinite when none came)."""
        start = self._acted_at if self._acted_at is not None else self._at
        if start is None:
            return float("inf")
        return max(0.0, start + budget - self._clock())

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """While uploads run: a signal only asks them to stop (see `grace_left`)."""
        self.raise_at_once = False
        try:
            yield
        finally:
            self.raise_at_once = True
            if self._at is not None and self._acted_at is None:
                self._acted_at = self._clock()


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to `stop` for the duration; the main thread only (the only
    one that may install handlers), elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, stop.handle)
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
