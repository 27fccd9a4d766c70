"""A loopback server that answers every request with the exact bytes it is given.

For fuzzing an answer's boundary with the real HTTP stack (requests, urllib3, http.client,
our transport): the status line, the headers and the body are whatever the test says, byte
for byte, so a header value no server library would send (a `Content-Length` of `²`, a
status of `099`, a line without a colon) reaches the client as it would from a hostile
index. Each answer is sent once and the connection closed.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Optional

from support.procs import LOOPBACK


class RawServer:
    """`with RawServer() as raw: raw.answer = b"HTTP/1.1 202 ...\\r\\n\\r\\n"; ... raw.url`."""

    def __init__(self) -> None:
        self.answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.requests = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(16)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._stopping.set()
        # A blocked accept() is not woken by close(): a connection of our own wakes it.
        with socket.create_connection(self._sock.getsockname()[:2], timeout=1):
            pass
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self._read_request(conn)
                    self.requests += 1
                    conn.sendall(self.answer)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    continue

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        """The request's head and a body of its Content-Length (what our client sends)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
