"""The deadline watchdog: it shuts a request's socket down at its deadline, and the urllib3
connections that arm it as they start to wait for an answer (the one moment every request
passes, with the socket at hand). `transport.request` is its only user.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import requests


class Watch:
    """Shuts a request's socket down at its deadline: a blocked read returns at once."""

    def __init__(self, deadline: float | None, seconds: float) -> None:
        self._deadline = deadline
        self._seconds = seconds
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self.fired = False
        self.send_error: OSError | None = None
        """A failure while sending the request that urllib3 set aside to read an answer."""

    def arm(self, sock: socket.socket | None) -> None:
        """Called as the request waits for its answer (the body is sent)."""
        with self._lock:
            if self._deadline is None:
                self._deadline = time.monotonic() + self._seconds
            if sock is None or self._timer is not None:
                return
            left = max(0.0, self._deadline - time.monotonic())
            self._timer = threading.Timer(left, self._fire, args=(sock,))
            self._timer.daemon = True
            self._timer.start()

    def missed(self) -> str:
        return f"no complete answer within the {self._seconds:.3g} s deadline"

    def passed(self) -> bool:
        return self.fired or (self._deadline is not None and time.monotonic() > self._deadline)

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        # The plain socket's shutdown, also for TLS: it wakes a read blocked in another
        # thread without touching the TLS object that thread is using. An OSError means it
        # is closed already: nothing is waiting on it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Current(threading.local):
    watch: Optional[Watch] = None


#: The watch of the request this thread is making (uploads run in several threads at once).
current = _Current()


@cache
def _pool_classes() -> dict[str, type[Any]]:
    """urllib3 pools whose connections arm the current thread's watch when they wait for an
    answer: the one moment every request passes, with the socket at hand."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.response import BaseHTTPResponse

    def arm(conn: HTTPConnection) -> None:
        watch = current.watch
        if watch is not None:
            watch.arm(conn.sock)

    def sent(conn: HTTPConnection, *args: Any, **kwargs: Any) -> None:
        try:
            super(type(conn), conn).request(*args, **kwargs)
        except OSError as exc:
            # urllib3 swallows a reset or broken pipe while sending, to read an answer the
            # server may have sent first; when there is none, this is what happened.
            watch = current.watch
            if watch is not None:
                watch.send_error = exc
            raise

    class WatchedHTTPConnection(HTTPConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            sent(self, *args, **kwargs)

        def getresponse(self) -> Any:
            arm(self)
            response: BaseHTTPResponse = super().getresponse()
            return response

    class WatchedHTTPSConnection(HTTPSConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            sent(self, *args, **kwargs)

        def getresponse(self) -> Any:
            arm(self)
            response: BaseHTTPResponse = super().getresponse()
            return response

    class WatchedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    return {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}


def watched_adapter() -> requests.adapters.HTTPAdapter:
    """A transport adapter whose connections honour `request`'s deadline watchdog."""
    from requests.adapters import HTTPAdapter

    class WatchedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = _pool_classes()

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if not proxy.lower().startswith("socks"):
                manager.pool_classes_by_scheme = _pool_classes()
            return manager

    return WatchedAdapter()
