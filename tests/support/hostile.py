"""A hostile index on loopback: one server whose endpoints can drip, hang, echo, lie, answer
huge, reset the connection or answer HTML, for driving the real CLI into trouble.

It speaks just enough of each protocol for a whole run: GitHub's OIDC token endpoint
(`/_github/token`, an unsigned JWT: nothing here verifies it), PyPI's trusted-publishing
endpoints (`/_/oidc/audience`, `/_/oidc/mint-token`, `/_/oidc/burn-token`), the legacy
upload (`/legacy/`), the simple index (`/simple/<project>/`, PEP 691 JSON) and the JSON API
(`/pypi/<project>/<version>/json`). Each answers normally until told otherwise with
`behave(endpoint, Behaviour(...))`; its own record of what landed (`landed`) is what tests
compare the client's report against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, Optional
from urllib.parse import urlsplit

from support.multipart import parse_multipart
from support.procs import LOOPBACK

Endpoint = Literal["token", "audience", "mint", "burn", "upload", "simple", "json"]
Mode = Literal["ok", "status", "slow", "drip", "hang", "echo", "huge", "reset", "html", "lie"]

#: The upload token the mint endpoint hands out (tests look for it in logs).
UPLOAD_TOKEN = "pypi-hostile-upload-token-0123456789abcdef"
#: The runner's request token the client must send to the OIDC endpoint.
REQUEST_TOKEN = "hostile-request-token-0123456789"


@dataclass(frozen=True)
class Behaviour:
    """How one endpoint answers.

    - ok: as a well-behaved index; status: `status` with `body`;
    - slow: as ok, after `seconds` (an upload lands only when the wait is over);
    - drip: headers at once, then the body one byte every `seconds`, for `size` bytes;
    - hang: read the request, then say nothing until the server stops;
    - echo: `status` with the request's headers and path in the body, as a JSON `message`;
    - huge: `status` with a body of `size` bytes (streamed: the server holds none of it);
    - reset: read the request and close the connection with a TCP reset;
    - html: 200 with an HTML sign-in page, whatever was asked;
    - lie: ok to the client, but an upload is not stored, and a listing shows other digests.
    """

    mode: Mode = "ok"
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    seconds: float = 0.0
    size: int = 0
    times: Optional[int] = None
    """Behave so this many times, then answer ok again (None: always)."""
    after: int = 0
    """Answer ok this many times first, then behave."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers for a `status` answer (`Retry-After`, ...)."""
    length: Optional[str] = None
    """A `status` answer's Content-Length as sent (None: the body's length); with it the
    connection closes after the body."""
    declared: bool = True
    """huge and drip: say the body's length (False: no Content-Length, the body ends when
    the connection closes, so only a reader that counts can stop it)."""


@dataclass
class _Stored:
    filename: str
    project: str
    version: str
    sha256: str


@dataclass
class _State:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    landed: list[_Stored] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, Mapping[str, str]]] = field(default_factory=list)
    token_seconds: float = 900.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hanging client or answer must not block teardown
    state: _State
    stopping: threading.Event


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    # --- plumbing --------------------------------------------------------------------------
    def _endpoint(self) -> Optional[Endpoint]:
        path = urlsplit(self.path).path
        table: tuple[tuple[str, Endpoint], ...] = (
            ("/_github/token", "token"),
            ("/_/oidc/audience", "audience"),
            ("/_/oidc/mint-token", "mint"),
            ("/_/oidc/burn-token", "burn"),
            ("/legacy", "upload"),
            ("/simple/", "simple"),
            ("/pypi/", "json"),
        )
        for prefix, name in table:
            if path.startswith(prefix):
                return name
        return None

    def _behaviour(self, endpoint: Optional[Endpoint]) -> Behaviour:
        state = self.server.state
        with state.lock:
            behaviour = state.behaviours.get(endpoint or "", Behaviour())
            if behaviour.after > 0:
                state.behaviours[endpoint or ""] = replace(behaviour, after=behaviour.after - 1)
                return Behaviour()
            if behaviour.times is not None:
                left = behaviour.times - 1
                if left <= 0:
                    state.behaviours.pop(endpoint or "", None)
                else:
                    state.behaviours[endpoint or ""] = replace(behaviour, times=left)
        return behaviour

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _length(self, behaviour: Behaviour) -> None:
        if behaviour.declared:
            self.send_header("Content-Length", str(behaviour.size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode())

    # --- one request -------------------------------------------------------------------------
    def _handle(self) -> None:
        endpoint = self._endpoint()
        body = self._body() if self.command == "POST" else b""
        state = self.server.state
        with state.lock:
            state.requests.append((self.command, self.path, dict(self.headers.items())))
            if endpoint == "upload":
                state.received.extend(
                    value[0]
                    for name, value in parse_multipart(tuple(self.headers.items()), body)
                    if name == "content" and isinstance(value, tuple)
                )
        behaviour = self._behaviour(endpoint)
        mode = behaviour.mode
        if mode == "hang":
            self.server.stopping.wait()
            self.close_connection = True
            return
        if mode == "reset":
            # SO_LINGER with a zero timeout turns close() into a TCP reset. Closed here: the
            # server's own teardown would send a FIN (a polite close) before it.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if mode == "echo":
            headers = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
            message = f"Bad request {self.path} with {headers}"
            self._json(behaviour.status, {"message": message, "code": f"{behaviour.status}"})
            return
        if mode == "html":
            page = b"<!doctype html><html><body><h1>Sign in</h1><form></form></body></html>"
            self._send(200, page, "text/html; charset=utf-8")
            return
        if mode == "status":
            self.send_response(behaviour.status)
            self.send_header("Content-Type", behaviour.content_type)
            self.send_header("Content-Length", behaviour.length or str(len(behaviour.body)))
            if behaviour.length is not None:
                self.close_connection = True
            for name, value in behaviour.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(behaviour.body)
            return
        if mode == "huge":
            self.send_response(behaviour.status)
            self.send_header("Content-Type", behaviour.content_type)
            self._length(behaviour)
            chunk = b" " * 65536
            sent = 0
            try:
                while sent < behaviour.size and not self.server.stopping.is_set():
                    piece = chunk[: behaviour.size - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:
                pass  # the client stopped reading: what a capped reader should do
            self.close_connection = True
            return
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", behaviour.content_type)
            self._length(behaviour)
            try:
                for _ in range(behaviour.size):
                    if self.server.stopping.wait(behaviour.seconds):
                        break
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "slow" and self.server.stopping.wait(behaviour.seconds):
            return
        self._ok(endpoint, body, lie=mode == "lie")

    def _ok(self, endpoint: Optional[Endpoint], body: bytes, *, lie: bool) -> None:
        if endpoint == "token":
            self._json(200, {"value": fake_jwt(urlsplit(self.path).query)})
        elif endpoint == "audience":
            self._json(200, {"audience": "pypi"})
        elif endpoint == "mint":
            expires = time.time() + self.server.state.token_seconds
            self._json(200, {"success": True, "token": UPLOAD_TOKEN, "expires": expires})
        elif endpoint == "burn":
            self._json(200, {"success": True})
        elif endpoint == "upload" and self.command == "POST":
            self._upload(body, lie=lie)
        elif endpoint == "simple":
            self._simple(lie=lie)
        elif endpoint == "json":
            self._release_json(lie=lie)
        else:
            self._json(404, {"message": "Not Found"})

    def _upload(self, body: bytes, *, lie: bool) -> None:
        fields = dict(parse_multipart(tuple(self.headers.items()), body))
        content = fields.get("content")
        name, version = fields.get("name"), fields.get("version")
        if not isinstance(content, tuple):
            self._json(400, {"message": "Upload payload does not have a file."})
            return
        stored = _Stored(
            filename=content[0],
            project=name if isinstance(name, str) else "",
            version=version if isinstance(version, str) else "",
            sha256=hashlib.sha256(content[1]).hexdigest(),
        )
        if not lie:
            with self.server.state.lock:
                self.server.state.landed.append(stored)
        self._send(200, b"OK", "text/plain")

    def _files(self, project: str) -> list[_Stored]:
        with self.server.state.lock:
            return [f for f in self.server.state.landed if _norm(f.project) == _norm(project)]

    def _simple(self, *, lie: bool) -> None:
        project = urlsplit(self.path).path[len("/simple/") :].strip("/")
        files = [
            {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": "0" * 64 if lie else f.sha256},
            }
            for f in self._files(project)
        ]
        if not files and project:
            self._json(404, {"message": "Not Found"})
            return
        page = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
        self._send(200, json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")

    def _release_json(self, *, lie: bool) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        project, version = (parts[1], parts[2]) if len(parts) >= 4 else (parts[-1], "")
        files = [f for f in self._files(project) if not version or f.version == version]
        if not files:
            self._json(404, {"message": "Not Found"})
            return
        urls = [
            {
                "filename": f.filename,
                "digests": {"sha256": "0" * 64 if lie else f.sha256},
                "upload_time_iso_8601": "2026-01-01T00:00:00.000000Z",
            }
            for f in files
        ]
        self._json(200, {"info": {"name": project, "version": version}, "urls": urls})

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def fake_jwt(query: str = "") -> str:
    """An unsigned JWT with GitHub's claims; the audience from the token request's query."""
    audience = "pypi"
    for part in query.split("&"):
        if part.startswith("audience="):
            audience = part.split("=", 1)[1]
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "aud": audience,
        "repository": "octo-org/demo",
        "repository_owner": "octo-org",
        "workflow_ref": "octo-org/demo/.github/workflows/release.yml@refs/tags/v1",
        "job_workflow_ref": "octo-org/demo/.github/workflows/release.yml@refs/tags/v1",
        "exp": int(time.time()) + 300,
    }

    def segment(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.c2ln"


class HostileIndex:
    """The server, in a daemon thread on 127.0.0.1; a context manager."""

    def __init__(self) -> None:
        self._server = _Server((LOOPBACK, 0), _Handler)
        self._server.state = _State()
        self._server.stopping = threading.Event()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileIndex:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def repository_url(self) -> str:
        return f"{self.url}/legacy/"

    def token_lifetime(self, seconds: float) -> None:
        """Minted upload tokens expire `seconds` after minting (PyPI: 900)."""
        with self._server.state.lock:
            self._server.state.token_seconds = seconds

    def behave(self, endpoint: Endpoint, behaviour: Behaviour) -> None:
        with self._server.state.lock:
            self._server.state.behaviours[endpoint] = behaviour

    @property
    def landed(self) -> list[str]:
        """The file names this index stored, in the order they landed."""
        with self._server.state.lock:
            return [f.filename for f in self._server.state.landed]

    @property
    def received(self) -> list[str]:
        """The file names of every upload that arrived whole, stored or not."""
        with self._server.state.lock:
            return list(self._server.state.received)

    def requests_to(self, endpoint: Endpoint) -> list[tuple[str, str, Mapping[str, str]]]:
        """The requests one endpoint received: (method, path, headers)."""
        prefix = {
            "token": "/_github/token",
            "audience": "/_/oidc/audience",
            "mint": "/_/oidc/mint-token",
            "burn": "/_/oidc/burn-token",
            "upload": "/legacy",
            "simple": "/simple/",
            "json": "/pypi/",
        }[endpoint]
        with self._server.state.lock:
            return [r for r in self._server.state.requests if r[1].startswith(prefix)]

    def env(self) -> dict[str, str]:
        """The variables of a GitHub job with `id-token: write` pointed at this index."""
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/_github/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
            "TRUSTED_PUBLISH_REPOSITORY_URL": self.repository_url,
        }
