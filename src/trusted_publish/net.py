"""HTTP policy in one place: who we say we are, how long we wait, which URLs we talk to.

Rules (docs/security.md): TLS verification is never turned off; plain
`http://` only to loopback hosts; no redirect is ever followed (a redirect would carry our
credentials to wherever it points); every request has a timeout.
"""

from __future__ import annotations

import ipaddress
import platform
import socket
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from . import __version__

if TYPE_CHECKING:
    import requests

#: (connect, read) seconds for the small JSON calls: token, audience, mint, index queries.
API_TIMEOUT = (10.0, 30.0)

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


def make_session() -> requests.Session:
    """A requests session with our User-Agent; callers pass timeouts and allow_redirects=False."""
    # Imported here so `trusted-publish check` and `--help` never pay for requests' import.
    import requests

    class _NoNetrc(requests.auth.AuthBase):
        # requests consults ~/.netrc only when a request has no auth at all; a no-op auth
        # keeps a stray netrc entry from attaching credentials we never chose to send, while
        # trust_env still honours the runner's proxy and CA-bundle variables.
        def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
            return r

    session = requests.Session()
    session.headers["User-Agent"] = user_agent()
    session.auth = _NoNetrc()
    return session


def describe_transport_error(exc: BaseException) -> str:
    """A short reason for a failed connection, without the URL urllib3 puts in its messages."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    # urllib3 wraps the OS error several layers deep (MaxRetryError → NewConnectionError →
    # ConnectionRefusedError); the innermost one is the one that says what happened.
    innermost: BaseException = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        innermost = cause
        nxt = getattr(cause, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = cause.__cause__ or cause.__context__
        cause = nxt
    if isinstance(innermost, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({innermost.verify_message})"
    if isinstance(innermost, ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(innermost, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(innermost, ConnectionRefusedError):
        return "the connection was refused (is the server running and the port right?)"
    if isinstance(innermost, (TimeoutError, socket.timeout)) or "timed out" in str(innermost):
        return "the server did not answer in time"
    if isinstance(innermost, ConnectionResetError):
        return "the server closed the connection"
    return type(innermost).__name__
