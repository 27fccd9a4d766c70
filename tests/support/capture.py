"""A loopback HTTP server that records every request and answers with canned responses."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Optional

from support.multipart import FormField, header_value, parse_multipart
from support.procs import LOOPBACK


@dataclass(frozen=True)
class CapturedRequest:
    """One request as it arrived: headers keep their order, case and repetitions."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        return header_value(self.headers, name)

    def form(self) -> list[FormField]:
        """The body parsed as ``multipart/form-data`` (see parse_multipart)."""
        return parse_multipart(self.headers, self.body)


@dataclass(frozen=True)
class CannedResponse:
    status: int = 200
    body: bytes = b"OK"
    headers: Mapping[str, str] = field(
        default_factory=lambda: {"Content-Type": "text/plain; charset=utf-8"}
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that hangs must not block teardown
    owner: CaptureServer


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so keep-alive, chunked uploads and "Expect: 100-continue" behave as with a
    # real index; every response therefore carries a Content-Length.
    protocol_version = "HTTP/1.1"
    server: _Server

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # Skip trailers up to the blank line that ends the message.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        request = CapturedRequest(
            method=self.command,
            path=self.path,
            headers=tuple(self.headers.items()),
            body=self._read_body(),
        )
        response = self.server.owner._record(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are recorded; stderr noise would only clutter pytest's output


class CaptureServer:
    """Records requests; answers ``queue``d responses first, then ``default``.

    Use as a context manager, or call start() and close().
    """

    def __init__(self, default: Optional[CannedResponse] = None) -> None:
        self.default = default or CannedResponse()
        self._lock = threading.Lock()
        self._requests: list[CapturedRequest] = []
        self._queued: deque[CannedResponse] = deque()
        self._httpd = _Server((LOOPBACK, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="capture-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def requests(self) -> list[CapturedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def respond_with(
        self, status: int = 200, body: bytes = b"OK", headers: Optional[Mapping[str, str]] = None
    ) -> None:
        """Change the default answer for all later requests."""
        self.default = CannedResponse(status, body, headers or CannedResponse().headers)

    def queue(self, *responses: CannedResponse) -> None:
        """Answer the next requests with these, in order (e.g. a 503 to test retries)."""
        with self._lock:
            self._queued.extend(responses)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: CapturedRequest) -> CannedResponse:
        with self._lock:
            self._requests.append(request)
            return self._queued.popleft() if self._queued else self.default

    def start(self) -> CaptureServer:
        # The socket is already bound and listening (constructor), so no readiness wait.
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()
