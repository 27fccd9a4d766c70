"""PyPI's side of trusted publishing: trade the GitHub OIDC token for a short-lived upload token.

`GET <web>/_/oidc/audience` says which audience the OIDC token must carry; `POST
<web>/_/oidc/mint-token` with `{"token": <JWT>}` returns an API token that lives 15 minutes.
`Credentials` hands the uploader a valid (user, password) pair before each file and mints a
new token (from a new OIDC token: each is single use) when the current one is about to expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol
from urllib.parse import urlsplit, urlunsplit

from .diagnose import event_error, refusal_help
from .errors import CredentialError
from .net import API_TIMEOUT, TOKEN_USER, describe_transport_error, pypi_web_url, sanitize_url
from .oidc import claim_lines, fetch_oidc_token, token_request_from_env, unverified_claims

if TYPE_CHECKING:
    import requests

    from .gha import Console

#: Mint a new token when the current one has less than this many seconds left: an upload of
#: a large file must not outlive its token (gh-action-pypi-publish#307).
REFRESH_MARGIN = 300.0


def index_web_url(repository_url: str) -> str:
    """Scheme and host of the index's web app, where the OIDC endpoints live: PyPI's web host
    for its upload host, the upload URL's own scheme and host for any other index."""
    parts = urlsplit(repository_url)
    return pypi_web_url(repository_url) or urlunsplit((parts.scheme, parts.netloc, "", "", ""))


@dataclass(frozen=True)
class MintedToken:
    """An upload token from the exchange."""

    value: str = field(repr=False)
    """The API token (a secret: masked as soon as it arrives)."""
    expires: float
    """Unix time after which the index refuses it."""


def discover_audience(session: requests.Session, web_url: str) -> str:
    """The audience the index wants in the OIDC token (`pypi`, `testpypi`, ...)."""
    import requests

    url = f"{web_url}/_/oidc/audience"
    try:
        resp = session.get(url, timeout=API_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise CredentialError(
            f"Could not reach the index at {sanitize_url(web_url)}: "
            f"{describe_transport_error(exc)}.",
            fix="Check `repository-url`; if it is right, the index may be down: re-run later.",
        ) from None
    if resp.status_code == 404:
        raise CredentialError(
            f"The index at {sanitize_url(web_url)} does not offer trusted publishing "
            "(GET /_/oidc/audience answered 404).",
            fix="Publish to this index with an API token or password: pass it as the "
            "`password` input (from a repository secret), and `user` if it is not a token.",
        )
    if resp.status_code == 403:
        raise CredentialError(
            f"Trusted publishing is turned off on {sanitize_url(web_url)} "
            f"({_message(resp) or 'HTTP 403'}).",
            fix="Wait until the index turns it back on, or publish with an API token "
            "passed as the `password` input.",
        )
    audience = _json(resp).get("audience") if resp.status_code == 200 else None
    if not isinstance(audience, str) or not audience:
        raise CredentialError(
            f"The index at {sanitize_url(web_url)} answered the audience request with HTTP "
            f"{resp.status_code} and no audience.",
            fix="Check that `repository-url` points at a PyPI-compatible index.",
        )
    return audience


def mint_token(
    session: requests.Session,
    web_url: str,
    oidc_token: str,
    console: Console,
    projects: Sequence[str] = (),
) -> MintedToken:
    """Trade `oidc_token` for an upload token; on refusal, PyPI's reasons and the claims."""
    import requests

    url = f"{web_url}/_/oidc/mint-token"
    try:
        resp = session.post(
            url, json={"token": oidc_token}, timeout=API_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise CredentialError(
            f"Could not reach the index at {sanitize_url(web_url)} to exchange the token: "
            f"{describe_transport_error(exc)}.",
            fix="The index may be down: re-run the job later.",
        ) from None
    body = _json(resp)
    token = body.get("token")
    if resp.status_code == 200 and isinstance(token, str) and token:
        console.mask(token)
        expires = body.get("expires")
        # An index that does not say assumes PyPI's 15 minutes.
        when = float(expires) if isinstance(expires, (int, float)) else time.time() + 900
        return MintedToken(value=token, expires=when)
    errors = body.get("errors")
    reasons = (
        [f"{e.get('code', '?')}: {e.get('description', '')}" for e in errors if isinstance(e, dict)]
        if isinstance(errors, list)
        else []
    )
    if not reasons:
        reasons = [f"HTTP {resp.status_code}: {_message(resp) or 'no explanation given'}"]
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict)] if errors else []
    help_lines, fix = refusal_help(unverified_claims(oidc_token), codes, web_url, projects)
    details = [*reasons, "The OIDC token's claims (what the index compared):"]
    details.extend(f"    {line}" for line in claim_lines(oidc_token))
    details.extend(help_lines)
    raise CredentialError(
        f"The index at {sanitize_url(web_url)} refused to exchange the OIDC token for an "
        "upload token.",
        details=details,
        fix=fix,
    )


class Credentials(Protocol):
    """What the uploader asks before each file."""

    def auth(self) -> tuple[str, str]:
        """(user, password) valid for at least the next upload."""
        ...


@dataclass(frozen=True)
class StaticCredentials:
    """A user and password (or `__token__` and an API token) given by the caller."""

    user: str
    password: str = field(repr=False)

    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)


class TrustedPublishingCredentials:
    """Upload tokens from the OIDC exchange, re-minted before they expire."""

    def __init__(
        self,
        session: requests.Session,
        repository_url: str,
        env: Mapping[str, str],
        console: Console,
        *,
        projects: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self._session = session
        self._console = console
        self._clock = clock
        self._margin = refresh_margin
        self.web_url = index_web_url(repository_url)
        self._projects = tuple(projects)
        refused = event_error(env)
        if refused:
            raise refused
        # Read (and checked) first: a missing permission is the commonest mistake and is
        # known without asking the network anything.
        self._request = token_request_from_env(env, console)
        self._audience: str | None = None
        self._token: MintedToken | None = None
        self.mints = 0
        # Parallel uploads ask at once; only one of them may re-mint.
        self._lock = threading.Lock()

    def obtain(self) -> None:
        """Do the exchange now, so a refused publisher stops the run before any upload."""
        if self._audience is None:
            self._audience = discover_audience(self._session, self.web_url)
        oidc_token = fetch_oidc_token(self._session, self._request, self._audience, self._console)
        self._token = mint_token(
            self._session, self.web_url, oidc_token, self._console, self._projects
        )
        self.mints += 1
        self._console.debug(
            f"Minted an upload token at {sanitize_url(self.web_url)}, valid for "
            f"{self._token.expires - self._clock():.0f} s."
        )

    def auth(self) -> tuple[str, str]:
        with self._lock:
            if self._token is None or self._token.expires - self._clock() < self._margin:
                if self._token is not None:
                    self._console.info(
                        "The upload token expires in under "
                        f"{self._margin / 60:.0f} minutes: minting a new one."
                    )
                self.obtain()
            assert self._token is not None  # noqa: S101 - obtain() sets it or raises
            return (TOKEN_USER, self._token.value)


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(resp: requests.Response) -> str:
    msg = _json(resp).get("message")
    return msg if isinstance(msg, str) else ""
