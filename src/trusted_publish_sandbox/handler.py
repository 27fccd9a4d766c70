"""What every route of the sandbox's HTTP server shares: the ``Backend`` it answers from,
and sending answers (and reading small bodies) the way warehouse does."""

from __future__ import annotations

import json
import logging
import ssl
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional, Protocol

from .faults import Faults
from .oidc import SigningKey
from .publishing import TrustedPublishing
from .warehouse import Warehouse

logger = logging.getLogger("trusted_publish_sandbox")

# Bodies of the small JSON endpoints are read whole; anything past this is drained unread.
_MAX_SMALL_BODY = 1024 * 1024
CHUNK = 64 * 1024


class Backend(Protocol):
    """What the server answers from: ``Sandbox`` is one (a protocol, so that the server
    does not import the sandbox that starts it)."""

    warehouse: Warehouse
    publishing: TrustedPublishing
    faults: Faults
    key: SigningKey
    gitlab_key: SigningKey
    google_key: SigningKey
    oidc_request_token: str
    metadata_secret: str
    burn_token: bool

    @property
    def base_url(self) -> str: ...

    @property
    def issuer(self) -> str: ...

    @property
    def gitlab_issuer(self) -> str: ...

    @property
    def google_issuer(self) -> str: ...

    def id_token(self, audience: Optional[str] = None) -> str: ...

    def gitlab_id_token(self, audience: str = "pypi") -> str: ...

    def google_id_token(self, audience: str) -> str: ...


class HasBackend(Protocol):
    """The server a handler answers for."""

    sandbox: Backend


def _reason(message: str) -> str:
    # A status line is one line of ISO-8859-1, as PyPI's (warehouse encodes with
    # "replace" for the same reason).
    text = message.encode("iso-8859-1", "replace").decode("iso-8859-1")
    return " ".join(text.split())


class BaseHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 plumbing: TLS handshakes in the connection's thread, answers, small bodies."""

    protocol_version = "HTTP/1.1"
    server: HasBackend  # type: ignore[assignment]
    server_version = "trusted-publish-sandbox"
    # Socket timeout: an idle keep-alive connection or a client stalled mid-body for
    # this long is dropped instead of holding a thread forever.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    # -- plumbing --------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        *,
        reason: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
        close: bool = False,
    ) -> None:
        self.send_response(status, _reason(reason) if reason is not None else None)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(
        self, status: int, payload: Any, *, headers: Optional[dict[str, str]] = None
    ) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers=headers)

    def _send_message(self, status: int, message: str) -> None:
        """An answer in warehouse's style: the message is the reason phrase and the body."""
        accept = self.headers.get("Accept", "")
        if "application/json" in accept:
            title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            payload = {"message": message, "code": f"{status} {message}", "title": title}
            self._send(
                status, json.dumps(payload).encode(), "application/json", reason=message or None
            )
        else:
            self._send(status, message.encode(), reason=message or None)

    def _content_length(self) -> Optional[int]:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            length = int(raw)
        except ValueError:
            return None
        return length if length >= 0 else None

    def _read_small_body(self) -> bytes:
        length = self._content_length() or 0
        data = bytearray()
        while length > 0:
            chunk = self.rfile.read(min(CHUNK, length))
            if not chunk:
                self.close_connection = True
                break
            length -= len(chunk)
            if len(data) < _MAX_SMALL_BODY:
                data += chunk
        return bytes(data)
