"""The index's side of trusted publishing: trade an OIDC token for a short-lived upload token.

`GET <web>/_/oidc/audience` says which audience the OIDC token must carry; `POST
<web>/_/oidc/mint-token` with `{"token": <JWT>}` returns an API token that lives 15 minutes
(warehouse/oidc/views.py). When to ask, and how often, is `credentials`' business. `POST
<web>/_/oidc/burn-token` revokes a token on an index that has the endpoint; PyPI has none
(warehouse/oidc/__init__.py registers only audience and mint-token) and answers 404.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .diagnose import refusal_help
from .errors import CredentialError
from .net import API_TIMEOUT, describe_transport_error
from .oidc import claim_lines, unverified_claims

if TYPE_CHECKING:
    import requests

    from .console import Console
    from .index import Index


@dataclass(frozen=True)
class UploadToken:
    """An upload token from the exchange."""

    value: str = field(repr=False)
    """The API token (a secret: masked as soon as it arrives)."""
    expires: float
    """Unix time after which the index refuses it."""


def discover_audience(session: requests.Session, index: Index) -> str:
    """The audience the index wants in the OIDC token (`pypi`, `testpypi`, ...)."""
    import requests

    web_url = index.web_url
    url = f"{web_url}/_/oidc/audience"
    try:
        resp = session.get(url, timeout=API_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise CredentialError(
            f"Could not reach the index at {web_url}: {describe_transport_error(exc)}.",
            fix="Check `repository-url`; if it is right, the index may be down: re-run later.",
        ) from None
    if resp.status_code == 404:
        raise CredentialError(
            f"The index at {web_url} does not offer trusted publishing "
            "(GET /_/oidc/audience answered 404).",
            fix="Publish to this index with an API token or password: pass it as the "
            "`password` input (from a repository secret), and `user` if it is not a token.",
        )
    if resp.status_code == 403:
        raise CredentialError(
            f"Trusted publishing is turned off on {web_url} ({_message(resp) or 'HTTP 403'}).",
            fix="Wait until the index turns it back on, or publish with an API token "
            "passed as the `password` input.",
        )
    audience = _json(resp).get("audience") if resp.status_code == 200 else None
    if not isinstance(audience, str) or not audience:
        raise CredentialError(
            f"The index at {web_url} answered the audience request with HTTP "
            f"{resp.status_code} and no audience.",
            fix="Check that `repository-url` points at a PyPI-compatible index.",
        )
    return audience


def mint_token(
    session: requests.Session,
    index: Index,
    oidc_token: str,
    console: Console,
    projects: Sequence[str] = (),
) -> UploadToken:
    """Trade `oidc_token` for an upload token; on refusal, PyPI's reasons and the claims."""
    import requests

    web_url = index.web_url
    url = f"{web_url}/_/oidc/mint-token"
    try:
        resp = session.post(
            url, json={"token": oidc_token}, timeout=API_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise CredentialError(
            f"Could not reach the index at {web_url} to exchange the token: "
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
        return UploadToken(value=token, expires=when)
    errors = body.get("errors")
    reasons = (
        [f"{e.get('code', '?')}: {e.get('description', '')}" for e in errors if isinstance(e, dict)]
        if isinstance(errors, list)
        else []
    )
    if not reasons:
        reasons = [f"HTTP {resp.status_code}: {_message(resp) or 'no explanation given'}"]
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict)] if errors else []
    help_lines, fix = refusal_help(unverified_claims(oidc_token), codes, index, projects)
    details = [*reasons, "The OIDC token's claims (what the index compared):"]
    details.extend(f"    {line}" for line in claim_lines(oidc_token))
    details.extend(help_lines)
    raise CredentialError(
        f"The index at {web_url} refused to exchange the OIDC token for an upload token.",
        details=details,
        fix=fix,
    )


def burn_token(
    session: requests.Session,
    index: Index,
    token: str,
    *,
    timeout: tuple[float, float] = API_TIMEOUT,
) -> requests.Response:
    """POST the token to the index's burn-token endpoint; what it means is the caller's."""
    return session.post(
        f"{index.web_url}/_/oidc/burn-token",
        json={"token": token},
        timeout=timeout,
        allow_redirects=False,
    )


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(resp: requests.Response) -> str:
    msg = _json(resp).get("message")
    return msg if isinstance(msg, str) else ""
