"""HTTP policy in one place: who we say we are, how long we wait, which URLs we talk to.

Rules (docs/security.md): TLS verification is never turned off; plain
`http://` only to loopback hosts; no redirect is ever followed (a redirect would carry our
credentials to wherever it points); every request has a total deadline and every answer a size
cap (`bounded.request`).
"""

from __future__ import annotations

import ipaddress
import platform
import socket
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from trusted_publish import __version__

if TYPE_CHECKING:
    pass

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

#: The user name that goes with an API token or a minted upload token.
TOKEN_USER = "__token__"  # noqa: S105 - a user name, not a secret


def user_agent() -> str:
    return (
        f"trusted-publish/{__version__} "
        f"({platform.python_implementation()}/{platform.python_version()}; {platform.system()})"
    )


def is_loopback_host(host: str) -> bool:
    """True for localhost names and the 127.0.0.0/8 and ::1 addresses."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str | None:
    """Why `url` may not be used to send credentials, or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http"):
        return "it must start with https://"
    if not host:
        return "it has no host name"
    if parts.username or parts.password:
        # A password in a URL ends up in logs and process listings.
        return "it must not carry a user name or password; use the user and password inputs"
    if parts.scheme == "http" and not is_loopback_host(host):
        return (
            "plain http:// is allowed only for loopback hosts (127.0.0.1, localhost); use https://"
        )
    return None


def sanitize_url(url: str) -> str:
    """A URL safe to print: no user info, no query string, no fragment."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "<unparsable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def never_opened(exc: BaseException) -> bool | None:
    """For a failed request: None when a connection may have opened; otherwise whether the
    host name resolved (False: it did not; True: it did, and the connection was refused).
    Through a proxy, the failure may be the proxy's, not the index's: None."""
    import requests

    if isinstance(exc, requests.exceptions.ProxyError):
        return None
    chain = exception_chain(exc)
    if any(isinstance(e, socket.gaierror) for e in chain):
        return False
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return True
    return None


def describe_transport_error(exc: BaseException) -> str:
    """A short reason for a failed connection, without the URL urllib3 puts in its messages."""
    import http.client

    # urllib3 wraps the OS error several layers deep (MaxRetryError → NewConnectionError →
    # ConnectionRefusedError; ProtocolError("Connection aborted.", ConnectionResetError)):
    # the one that says what happened is somewhere in the chain, as a cause or an argument.
    chain = exception_chain(exc)

    def first(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    cert = first(ssl.SSLCertVerificationError)
    if isinstance(cert, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({cert.verify_message})"
    if first(socket.gaierror):
        return "the host name could not be resolved"
    if first(ConnectionRefusedError):
        return "the connection was refused (is the server running and the port right?)"
    reset = first(ConnectionResetError)
    if reset is not None and not isinstance(reset, http.client.RemoteDisconnected):
        return "the server reset the connection"
    if first(http.client.RemoteDisconnected, http.client.BadStatusLine):
        return "the server closed the connection without answering"
    if first(http.client.IncompleteRead):
        return "the server closed the connection before the answer was complete"
    if first(BrokenPipeError):
        return "the server closed the connection while the request was being sent"
    if first(ssl.SSLError):
        return "TLS handshake failed"
    if first(TimeoutError, socket.timeout) or any("timed out" in str(e) for e in chain):
        return "the server did not answer in time"
    return type(chain[-1]).__name__


def exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception behind it, outermost first."""
    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        cause = todo.pop(0)
        if any(cause is seen for seen in chain):
            continue
        chain.append(cause)
        reason = getattr(cause, "reason", None)
        nexts = [reason, cause.__cause__, cause.__context__, *cause.args]
        todo.extend(e for e in nexts if isinstance(e, BaseException))
    return chain
