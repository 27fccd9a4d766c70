"""HTTP policy in one place: who we say we are, how long we wait, which URLs we talk to.

Rules (docs/security.md): TLS verification is never turned off; plain
`http://` only to loopback hosts; no redirect is ever followed (a redirect would carry our
credentials to wherever it points); every request has a total deadline and every answer a size
cap (`transport.request`).
"""

from __future__ import annotations

import ipaddress
import platform
import re
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional
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


#: A host name (letters, digits, `-`, `_`, dots) or an IP address (IPv6 without its brackets).
_HOST = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")


@dataclass(frozen=True)
class Target:
    """Where a URL really leads: as requests prepares it and urllib3 connects."""

    scheme: str
    host: str
    """The host urllib3 opens a connection to (an IPv6 address without brackets)."""
    port: Optional[int]


class UnusableURL(ValueError):
    """Why a URL is not used (safe to print: it quotes no user info, path or query)."""


def connect_target(url: str) -> Target:
    """The scheme, host and port a request to `url` goes to; `UnusableURL` when it is
    ambiguous or can't be parsed.

    Parsed by the parser that sends the request: requests' `prepare_url` hands the URL to
    urllib3's `parse_url`, and the connection goes to the host that finds, never to a
    second opinion's: `http://10.0.0.1\\@127.0.0.1/` reads as host 127.0.0.1 to
    `urllib.parse` and connects to 10.0.0.1. What the parsers could read differently is
    refused outright (a backslash, white space, a control character, user info, a
    non-ASCII host, which requests would re-spell), and the host our own code reads with
    `urlsplit` must be the one urllib3 connects to. requests itself is not imported here
    (`trusted-publish check` runs without it); tests/http/test_env_urls.py compares this
    with requests' own preparation for any string. Any parser's exception becomes
    `UnusableURL`: a boundary, not a traceback.
    """
    from urllib3.util import parse_url

    if "\\" in url:
        raise UnusableURL("it holds a backslash, which URL parsers read differently")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UnusableURL("it holds white space or a control character")
    try:
        ours = urlsplit(url)
        our_host, our_port = ours.hostname, ours.port
        user_info = ours.username is not None or ours.password is not None
    except ValueError as exc:
        raise UnusableURL(f"it is not a valid URL ({exc})") from None
    if not our_host:
        raise UnusableURL("it has no host name")
    try:
        # requests parses once and rebuilds the URL from the parts; the adapter parses the
        # rebuilt one to connect. Both parses are urllib3's.
        sent = parse_url(parse_url(url).url)
    except Exception as exc:  # noqa: BLE001 - any failure of the parser is a refused URL
        raise UnusableURL(f"it is not a valid URL ({type(exc).__name__})") from None
    if sent.auth is not None or user_info:
        # A password in a URL ends up in logs and process listings.
        raise UnusableURL(
            "it must not carry a user name or password; use the user and password inputs"
        )
    host = (sent.host or "").strip("[]").lower()
    if not host:
        raise UnusableURL("it has no host name")
    if not host.isascii() or not our_host.isascii():
        raise UnusableURL("its host name is not ASCII; spell it as it is sent (IDNA, `xn--...`)")
    if host.startswith(("*", ".")) or not _HOST.fullmatch(host):
        # requests percent-encodes other characters (`"` becomes `%22`) when it rebuilds
        # the URL: the host it connects to would not be the one checked here.
        raise UnusableURL("its host name holds characters a host name can't")
    if our_host.lower() != host or our_port != sent.port:
        raise UnusableURL("its host or port reads differently to different URL parsers")
    return Target(scheme=(sent.scheme or "").lower(), host=host, port=sent.port)


def check_url(url: str) -> str | None:
    """Why `url` may not be used to send credentials, or None when it may."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("https", "http"):
        return "it must start with https://"
    try:
        target = connect_target(url)
    except UnusableURL as exc:
        return str(exc)
    if target.scheme not in ("https", "http"):
        return "it must start with https://"
    if target.scheme == "http" and not is_loopback_host(target.host):
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
