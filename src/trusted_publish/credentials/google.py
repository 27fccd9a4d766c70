"""Google Cloud's side of trusted publishing: the service account's identity token.

A workload on Google Cloud asks the metadata server for an ID token of the machine's service
account, for an audience (`GET /computeMetadata/v1/instance/service-accounts/default/
identity?audience=pypi&format=full`, header `Metadata-Flavor: Google`). PyPI's Google
publisher (warehouse/oidc/models/google.py) is the account's email, and maybe its subject.
`GCE_METADATA_HOST` (google-auth's name) points at another metadata server, e.g. a test's
on loopback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlencode, urlsplit, urlunsplit

from trusted_publish.console import untrusted
from trusted_publish.credentials.claims import is_jwt, publisher_lines
from trusted_publish.errors import CredentialError
from trusted_publish.http import transport
from trusted_publish.http.answers import ProtocolError
from trusted_publish.http.policy import UnusableURL, connect_target, is_loopback_host
from trusted_publish.http.transport import Reply, RetryPolicy

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

DEFAULT_POLICY = RetryPolicy()
#: The claims PyPI matches a Google publisher on (shown when it refuses the token).
CLAIMS = ("email", "email_verified", "sub", "aud", "iss")

HOST_VAR = "GCE_METADATA_HOST"
DEFAULT_HOST = "metadata.google.internal"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
#: On a Google Compute Engine machine this names the product (as `id` checks it).
PRODUCT_NAME_FILE = Path("/sys/class/dmi/id/product_name")
_GOOGLE_PRODUCTS = ("Google", "Google Compute Engine")
#: The metadata server speaks plain HTTP on a link-local address, never leaving the machine;
#: these are its names. Any other plain-HTTP host must be loopback.
_METADATA_HOSTS = ("metadata.google.internal", "metadata", "169.254.169.254")


def on_google_cloud(env: Mapping[str, str], product_file: Path = PRODUCT_NAME_FILE) -> bool:
    """A metadata server was named, or this machine says it is Google's."""
    if env.get(HOST_VAR, "").strip():
        return True
    try:
        return product_file.read_text(encoding="utf-8").strip() in _GOOGLE_PRODUCTS
    except (OSError, UnicodeDecodeError):
        return False


def identity_url(env: Mapping[str, str]) -> str:
    """The metadata server's identity URL; `CredentialError` for a host we won't talk to.

    `GCE_METADATA_HOST` is `host[:port]`, maybe followed by a path the server lives under
    (google-auth puts it in front of `/computeMetadata/v1/` as it is; the sandbox serves
    its metadata server under a secret path). The host is the one urllib3 will connect to
    (`policy.connect_target`), so user info or a backslash can't make a far host look local.
    """
    host = env.get(HOST_VAR, "").strip() or DEFAULT_HOST
    url = f"http://{host}{IDENTITY_PATH}"
    try:
        if any(c in host for c in "?#"):
            raise UnusableURL("a query or fragment would move the identity path out of the URL")
        name = connect_target(url).host
    except UnusableURL as exc:
        problem = f"{exc}"
    else:
        if name in _METADATA_HOSTS or is_loopback_host(name):
            return url
        problem = (
            "the metadata server is reached over plain HTTP, so only its own names "
            "(metadata.google.internal, 169.254.169.254) or a loopback address are used"
        )
    raise CredentialError(
        f"{HOST_VAR} names {untrusted(repr(host))}: {problem}.",
        fix=f"Unset {HOST_VAR} on Google Cloud; set it only to a local test server "
        "(`127.0.0.1:PORT`).",
    )


def _where(url: str) -> str:
    """The metadata server as messages name it: scheme, host and port (a path it lives under
    may be a test server's secret)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def fetch_identity_token(
    session: requests.Session,
    url: str,
    audience: str,
    console: Console,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> str:
    """The service account's ID token for `audience`, masked before it is returned.

    Connection failures, timeouts, 5xx and 429 are retried as `policy` says.
    """
    query = urlencode({"audience": audience, "format": "full"})
    where = _where(url)

    try:
        resp = transport.call(
            session,
            "GET",
            f"{url}?{query}",
            what="the identity token request",
            policy=policy,
            request_kwargs=lambda: {"headers": {"Metadata-Flavor": "Google"}},
            on_retry=transport.announce(console.info, "Google's metadata server", policy),
        )
    except transport.RequestFailed as exc:  # too large, or a malformed answer
        raise CredentialError(
            f"Google's metadata server at {where}: {exc.reason}.",
            fix="Re-run the job; if it keeps failing, check the service account attached.",
        ) from None
    except transport.GaveUp as exc:
        said = exc.last.reply
        if said is None:
            raise CredentialError(
                f"Could not reach Google's metadata server at {where}: {exc.reason}.",
                fix="Run the publish on Google Cloud (a VM, Cloud Build, Cloud Run...) with a "
                "service account attached; elsewhere, name another CI with "
                "`trusted-publishing-provider`.",
            ) from None
        resp = said
    if resp.status_code != 200:
        raise CredentialError(
            f"Google's metadata server at {where} answered HTTP {resp.status_code} to the "
            "identity token request.",
            fix="Attach a service account to the machine or job that publishes; the "
            "trusted publisher on PyPI names that account's email.",
        )
    try:
        token = read_identity_token(resp)
    except ProtocolError:
        raise CredentialError(
            f"Google's metadata server at {where} did not answer with a token.",
            fix="Re-run the job; if it keeps failing, check the service account attached.",
        ) from None
    console.mask(token)
    return token


def read_identity_token(resp: Reply) -> str:
    """The metadata server's answer (the token as plain text): the ID token;
    `ProtocolError` when it holds none."""
    try:
        token = resp.content.decode("ascii").strip(" \t\r\n")
    except UnicodeDecodeError:
        raise ProtocolError("the answer to the identity token request is not ASCII") from None
    if not is_jwt(token):
        raise ProtocolError("the answer to the identity token request holds no JWT")
    return token


class GoogleSource:
    """The service account's identity tokens, from the metadata server."""

    provider = "google"
    name = "Google Cloud"

    def __init__(self, session: requests.Session, url: str, console: Console) -> None:
        self._session = session
        self._url = url
        self._console = console

    def fetch(self, audience: str, policy: RetryPolicy = DEFAULT_POLICY) -> str:
        return fetch_identity_token(self._session, self._url, audience, self._console, policy)

    def sigstore_unavailable(self, index: Index) -> Optional[str]:
        # Sigstore takes Google's identity tokens (the account's email), and PyPI verifies
        # attestations against a Google publisher's email.
        return None


@dataclass(frozen=True)
class GooglePublisher:
    """The Google trusted publisher PyPI would need, read off the token's claims."""

    email: str
    sub: Optional[str]
    email_verified: Any

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Optional[GooglePublisher]:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            return None
        sub = claims.get("sub")
        return cls(email, str(sub) if sub else None, claims.get("email_verified"))

    def form_url(self, form: str) -> str:
        params = {"provider": "google", "email": self.email}
        if self.sub:
            params["sub"] = self.sub
        return f"{form}?{urlencode(params)}"


def publisher_help(
    claims: Mapping[str, Any], descriptions: str, index: Index, projects: Sequence[str]
) -> Optional[tuple[list[str], list[str]]]:
    """(table and links, likely mismatches) for a refused Google token."""
    publisher = GooglePublisher.from_claims(claims)
    if publisher is None:
        return (
            [],
            [
                "The token names no service account email: ask the metadata server for the "
                "identity of a service account (`format=full`), or, impersonating one, "
                "request its ID token with `includeEmail: true`."
            ],
        )
    fields = [("Email", publisher.email), ("Subject (optional)", publisher.sub or "(leave empty)")]
    lines = publisher_lines("service account's token", fields, index, projects, publisher.form_url)
    likely = [
        f"PyPI compares the email exactly, case included: the publisher must name "
        f"{publisher.email}, the account this job runs as.",
        "A publisher with a subject must name this account's "
        f"({publisher.sub or 'none in the token'}), or leave it empty.",
    ]
    if publisher.email_verified is not True:
        likely.insert(
            0,
            "The token says the email is not verified (`email_verified` is not true), and "
            "PyPI requires it: use a service account's own identity token.",
        )
    return lines, likely
