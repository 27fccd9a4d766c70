"""HTTP routing: one ``ThreadingHTTPServer`` answers for the CIs' issuers (GitHub's token
service, GitLab's and Google's discovery documents, Google's metadata server) and PyPI."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, quote, urlsplit

from .faults import InjectedFailure, falsify_provenance
from .google import is_metadata_path
from .handler import CHUNK, Backend, logger
from .issuers import IssuerRoutes
from .pages import wants_json
from .warehouse import LEGACY_REDIRECT_TEXT

if TYPE_CHECKING:
    from socketserver import _RequestType

__all__ = ["Backend", "SandboxHTTPServer"]


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        sandbox: Backend,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)
        if tls is not None:
            # The handshake runs in the connection's own thread (_Handler.setup), so a
            # slow or broken client cannot stall the accept loop.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: _RequestType, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; failed TLS handshakes and dropped
        # connections are routine here, so they go to the debug log instead.
        logger.debug("connection from %s failed", client_address, exc_info=True)

    # Open (keep-alive) connections are tracked so that stopping the sandbox ends them
    # too: a stopped sandbox must not keep answering on sockets accepted before.
    def process_request(self, request: _RequestType, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _RequestType) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(IssuerRoutes):
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- dispatch --------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - one failed request must not end the server thread
            logger.exception("sandbox request failed: %s %s", method, urlsplit(self.path).path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, b"Internal Server Error", close=True)

    def _route(self, method: str) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query)

        failure = sandbox.faults.take(path)
        if failure is not None:
            self._injected_failure(method, path, failure)
            return

        if path == "/legacy/" and method == "POST":
            self._upload()
            return
        if path == "/legacy" and method == "POST":
            self._legacy_redirect()
            return
        if path.startswith("/_/oidc/"):
            self._pypi_oidc(method, path)
            return
        if method == "POST":
            self._read_small_body()
        if method not in ("GET", "HEAD"):
            self._send_message(405, "Method Not Allowed")
            return
        if path.startswith(("/_github/", "/_gitlab/", "/_google/")) or is_metadata_path(path):
            self._issuers(path, query)
        elif path == "/simple" or path.startswith("/simple/"):
            self._simple(path, query)
        else:
            self._read(path)

    def _read(self, path: str) -> None:
        if path.startswith("/pypi/"):
            self._json_api(path)
        elif path.startswith("/integrity/"):
            self._integrity(path)
        elif path.startswith("/packages/"):
            self._package(path)
        elif path == "/":
            self._send(200, b"trusted-publish sandbox: CI OIDC issuers + PyPI on loopback\n")
        else:
            self._send_message(404, "Not Found")

    def _injected_failure(
        self, method: str, path: str, failure: InjectedFailure, body: Optional[bytes] = None
    ) -> None:
        # The body is read first: PyPI's front end fails after the bytes, too.
        if path == "/legacy/" and method == "POST":
            length = self._content_length()
            if length is not None:
                gone = self.server.sandbox.warehouse.receive_failed_upload(
                    self.rfile,
                    length,
                    self.headers.get("Content-Type"),
                    failure.status,
                    failure.reason,
                )
                if gone:
                    self.close_connection = True
                    return
        elif method in ("POST", "PUT", "PATCH"):
            self._read_small_body()
        self._send(
            failure.status,
            failure.body if body is None else body,
            reason=failure.reason,
            headers=failure.headers,
        )

    # -- PyPI: trusted publishing ------------------------------------------------------

    def _pypi_oidc(self, method: str, path: str) -> None:
        sandbox = self.server.sandbox
        body = self._read_small_body() if method == "POST" else b""
        mode = sandbox.publishing.mode
        routes = (
            "/_/oidc/audience",
            "/_/oidc/mint-token",
            "/_/oidc/github/mint-token",
            "/_/oidc/burn-token",
        )
        # PyPI has a burn-token endpoint (warehouse PR #20197); burn_token=False is an index
        # without one.
        burn_missing = path == "/_/oidc/burn-token" and not sandbox.burn_token
        if mode == "absent" or path not in routes or burn_missing:
            self._send_message(404, "Not Found")
            return
        if path == "/_/oidc/audience":
            if method not in ("GET", "HEAD"):
                self._send_message(405, "Method Not Allowed")
            elif mode == "disabled":
                self._send_json(403, {"message": "Trusted publishing functionality not enabled"})
            else:
                self._send_json(200, {"audience": sandbox.publishing.audience})
            return
        if method != "POST":
            self._send_message(405, "Method Not Allowed")
            return
        if path == "/_/oidc/burn-token":
            self._send(sandbox.publishing.burn(body))
            return
        status, payload = sandbox.publishing.mint(body)
        self._send_json(status, payload)

    # -- PyPI: upload ----------------------------------------------------------------

    def _legacy_redirect(self) -> None:
        sandbox = self.server.sandbox
        length = self._content_length() or 0
        received = 0
        while received < length:
            chunk = self.rfile.read(min(CHUNK, length - received))
            if not chunk:
                self.close_connection = True
                break
            received += len(chunk)
        sandbox.warehouse.note_redirected_upload(received)
        self._send(
            308,
            LEGACY_REDIRECT_TEXT.encode(),
            reason=LEGACY_REDIRECT_TEXT,
            headers={"Location": "/legacy/"},
        )

    def _upload(self) -> None:
        warehouse = self.server.sandbox.warehouse
        length = self._content_length()
        if length is None or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            warehouse.refuse_unsized_upload()
            self._send(411, b"Length Required", reason="Length Required", close=True)
            return
        if self.server.sandbox.faults.upload_fault == "drop":
            # 200 after the whole body, and nothing kept: a proxy or sign-in page would.
            self._injected_failure("POST", "/legacy/", InjectedFailure(200, None), body=b"")
            return
        result = warehouse.receive_upload(
            self.rfile, length, self.headers.get("Content-Type"), self.headers.get("Authorization")
        )
        if result is None:  # the client went away before the end of the body
            self.close_connection = True
        elif result.status == 200:
            if self.server.sandbox.faults.upload_fault == "alter" and result.filename:
                warehouse.alter_file(result.filename)
            # PyPI's success body holds its warnings, one per line; the sandbox has none.
            self._send(200, result.message.encode())
        else:
            self._send_message(result.status, result.message)

    # -- PyPI: reading ---------------------------------------------------------------

    def _redirect(self, location: str) -> None:
        self._send(301, b"", headers={"Location": location})

    def _simple(self, path: str, query: dict[str, list[str]]) -> None:
        sandbox = self.server.sandbox
        warehouse = sandbox.warehouse
        as_json = wants_json(self.headers.get("Accept"), query)
        if path in ("/simple", "/simple/"):
            if path == "/simple":
                self._redirect("/simple/")
                return
            text, content_type = warehouse.simple_index(as_json)
            self._send(200, text.encode(), content_type, headers={"Vary": "Accept"})
            return
        name = path[len("/simple/") :].rstrip("/")
        if not name or "/" in name:
            self._send_message(404, "Not Found")
            return
        canonical = warehouse.canonical_project(name)
        if canonical is None:
            self._send_message(404, "Not Found")
            return
        if canonical != name or not path.endswith("/"):
            self._redirect(f"/simple/{quote(canonical)}/")
            return
        text, content_type = warehouse.simple_project(
            name, sandbox.base_url, as_json, sandbox.faults.listing_lag
        )
        self._send(
            200,
            text.encode(),
            content_type,
            headers={"Vary": "Accept", "X-PyPI-Last-Serial": str(warehouse.serial)},
        )

    def _json_api(self, path: str) -> None:
        sandbox = self.server.sandbox
        parts = path.strip("/").split("/")
        if len(parts) not in (3, 4) or parts[-1] != "json":
            self._send_json(404, {"message": "Not Found"})
            return
        name = parts[1]
        version = parts[2] if len(parts) == 4 else None
        canonical = sandbox.warehouse.canonical_project(name)
        if canonical is not None and canonical != name:
            rest = f"/{version}" if version else ""
            self._redirect(f"/pypi/{quote(canonical)}{rest}/json")
            return
        document = sandbox.warehouse.project_json(
            name, sandbox.base_url, version, sandbox.faults.listing_lag
        )
        if document is None:
            self._send_json(404, {"message": "Not Found"})
            return
        self._send_json(200, document, headers={"X-PyPI-Last-Serial": str(document["last_serial"])})

    def _integrity(self, path: str) -> None:
        sandbox = self.server.sandbox
        parts = path.split("/")  # "", "integrity", project, version, filename, "provenance"
        if len(parts) != 6 or parts[5] != "provenance" or not all(parts[2:5]):
            self._send_message(404, "Not Found")
            return
        answer = sandbox.warehouse.provenance(
            parts[2], parts[3], parts[4], self.headers.get("Accept"), sandbox.faults.listing_lag
        )
        body, fault = answer.body, sandbox.faults.provenance_fault
        if fault is not None and answer.status == 200:
            body = falsify_provenance(body, fault)
        self._send(answer.status, body, answer.content_type, headers=answer.headers)

    def _package(self, path: str) -> None:
        sandbox = self.server.sandbox
        file_path = sandbox.warehouse.find_package(path)
        if file_path is None or not file_path.is_file():
            self._send_message(404, "Not Found")
            return
        size = file_path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with file_path.open("rb") as handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                self.wfile.write(chunk)
