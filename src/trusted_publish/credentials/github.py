"""GitHub's side of trusted publishing: ask the runner for an OIDC token (a signed JWT).

The runner hands a job two variables when it has `permissions: id-token: write`:
`ACTIONS_ID_TOKEN_REQUEST_URL` (already carrying a query string) and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`. We ask that URL for a token with the index's audience.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from trusted_publish.credentials.claims import claim_lines, unverified_claims
from trusted_publish.credentials.diagnose import no_token_error
from trusted_publish.errors import CredentialError
from trusted_publish.http import transport
from trusted_publish.http.policy import check_url, sanitize_url
from trusted_publish.http.transport import RetryPolicy

__all__ = [
    "TOKEN_VAR",
    "URL_VAR",
    "TokenRequest",
    "claim_lines",
    "fetch_oidc_token",
    "token_request_from_env",
    "unverified_claims",
]

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console

#: The policy when the caller gives none: `RetryPolicy`'s defaults.
DEFAULT_POLICY = RetryPolicy()
#: Where GitHub says whether its services are up.
GITHUB_STATUS = "https://www.githubstatus.com/"

URL_VAR = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VAR = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class TokenRequest:
    """Where and how to ask the runner for an OIDC token."""

    url: str
    """The runner's token endpoint, with its query string."""
    bearer: str = field(repr=False)
    """The runner's request token (a secret: masked, never printed)."""


def token_request_from_env(env: Mapping[str, str], console: Console) -> TokenRequest:
    """The runner's token endpoint, or a `CredentialError` naming what is missing and the fix."""
    url = env.get(URL_VAR, "")
    bearer = env.get(TOKEN_VAR, "")
    missing = [name for name, value in ((URL_VAR, url), (TOKEN_VAR, bearer)) if not value]
    if missing:
        raise no_token_error(missing, env)
    console.mask(bearer)
    # The bearer goes wherever this URL leads: the same rules as the index's URLs (https, or
    # http to loopback), read by the parsers that will send the request.
    problem = check_url(url)
    if problem is not None:
        raise CredentialError(
            f"{URL_VAR} can't be used: {problem}.",
            fix=f"Leave {URL_VAR} to the runner; set it only to a local test server.",
        )
    return TokenRequest(url=url, bearer=bearer)


def fetch_oidc_token(
    session: requests.Session,
    request: TokenRequest,
    audience: str,
    console: Console,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> str:
    """A fresh OIDC JWT for `audience`, masked before this function returns it.

    Connection failures, timeouts, 5xx and 429 are retried as `policy` says.
    """
    sep = "&" if "?" in request.url else "?"
    url = f"{request.url}{sep}audience={quote(audience, safe='')}"
    where = sanitize_url(request.url)

    headers = {"Authorization": f"bearer {request.bearer}", "Accept": "application/json"}
    try:
        resp = transport.call(
            session,
            "GET",
            url,
            what="the OIDC token request",
            policy=policy,
            request_kwargs=lambda: {"headers": headers},
            on_retry=transport.announce(console.info, "GitHub's OIDC token service", policy),
        )
    except transport.TooLarge as exc:
        raise CredentialError(
            f"GitHub's OIDC token service at {where}: {exc.reason}.",
            fix="Re-run the job; if it keeps failing, GitHub's service may be degraded "
            f"({GITHUB_STATUS}).",
        ) from None
    except transport.GaveUp as exc:
        said = exc.last.reply
        what = (
            f"answered HTTP {said.status_code}" if said else f"could not be reached: {exc.reason}"
        )
        raise CredentialError(
            f"GitHub's OIDC token service at {where} {what} ({exc.tries} in {exc.seconds:.0f} s).",
            fix="GitHub's service may be having an outage: re-run the job later "
            f"({GITHUB_STATUS}).",
        ) from None
    if resp.status_code != 200:
        raise CredentialError(
            f"GitHub's OIDC token service at {where} answered HTTP {resp.status_code}.",
            fix="Check that the job has `permissions: id-token: write`; re-run the job if it does.",
        )
    try:
        token = resp.json()["value"]
        if not isinstance(token, str) or token.count(".") != 2:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise CredentialError(
            f"GitHub's OIDC token service at {where} did not answer with a token.",
            fix="Re-run the job; if it keeps failing, GitHub's service may be degraded.",
        ) from None
    console.mask(token)
    return token
