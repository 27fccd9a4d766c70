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
from typing import TYPE_CHECKING, Any, Callable

from trusted_publish.credentials.diagnose import refusal_help
from trusted_publish.credentials.github import DEFAULT_POLICY, claim_lines, unverified_claims
from trusted_publish.errors import CredentialError
from trusted_publish.http import transport
from trusted_publish.http.policy import TOKEN_USER
from trusted_publish.http.transport import Reply, RetryPolicy

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

#: Where PyPI (and TestPyPI) say whether they are up.
PYPI_STATUS = "https://status.python.org/"


@dataclass(frozen=True)
class UploadToken:
    """An upload token from the exchange."""

    value: str = field(repr=False)
    """The API token (a secret: masked as soon as it arrives)."""
    expires: float
    """Unix time after which the index refuses it."""


def discover_audience(
    session: requests.Session, index: Index, policy: RetryPolicy = DEFAULT_POLICY
) -> str:
    """The audience the index wants in the OIDC token (`pypi`, `testpypi`, ...)."""
    web_url = index.web_url
    url = f"{web_url}/_/oidc/audience"
    try:
        resp = transport.call(session, "GET", url, what="the audience request", policy=policy)
    except transport.TooLarge as exc:
        raise CredentialError(
            f"The index at {web_url}: {exc.reason}.",
            fix="Check that `repository-url` points at a PyPI-compatible index.",
        ) from None
    except transport.GaveUp as exc:
        raise _unreachable(index, exc, "GET /_/oidc/audience") from None
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
    oidc_token: str | Callable[[], str],
    console: Console,
    projects: Sequence[str] = (),
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> UploadToken:
    """Trade an OIDC token for an upload token; on refusal, PyPI's reasons and the claims.

    `oidc_token` may be a function returning a fresh one: then each retry (after a
    connection failure, a 5xx or a 429) sends a new token, since the index may have taken
    the first as used before it failed.
    """
    web_url = index.web_url
    url = f"{web_url}/_/oidc/mint-token"
    sent = {"jwt": ""}

    def body() -> dict[str, Any]:
        sent["jwt"] = oidc_token() if callable(oidc_token) else oidc_token
        return {"json": {"token": sent["jwt"]}}

    try:
        resp = transport.call(
            session,
            "POST",
            url,
            what="the mint-token request",
            policy=policy,
            request_kwargs=body,
            on_retry=transport.announce(console.info, "the mint-token request", policy),
        )
    except transport.TooLarge as exc:
        raise CredentialError(
            f"The index at {web_url} could not exchange the OIDC token: {exc.reason}.",
            fix=_outage_fix(index),
        ) from None
    except transport.GaveUp as exc:
        raise _unreachable(index, exc, "POST /_/oidc/mint-token") from None
    oidc_jwt = sent["jwt"]
    body_json = _json(resp)
    token = body_json.get("token")
    if resp.status_code == 200 and isinstance(token, str) and token:
        console.mask(token, basic_user=TOKEN_USER)
        expires = body_json.get("expires")
        # An index that does not say assumes PyPI's 15 minutes.
        when = float(expires) if isinstance(expires, (int, float)) else time.time() + 900
        return UploadToken(value=token, expires=when)
    errors = body_json.get("errors")
    if not (400 <= resp.status_code < 500 and isinstance(errors, list) and errors):
        # Only a refusal in warehouse's words (a 4xx with an `errors` list) is about the
        # publisher; an HTML page, an empty or garbled answer is the index failing.
        raise CredentialError(
            f"The index at {web_url} could not exchange the OIDC token: "
            f"{_what_came(resp)}. It is not answering as it should; this is not a "
            "problem with your trusted publisher.",
            fix=_outage_fix(index),
        )
    reasons = [
        f"{e.get('code', '?')}: {e.get('description', '')}" for e in errors if isinstance(e, dict)
    ] or [f"HTTP {resp.status_code}: {_message(resp) or 'no explanation given'}"]
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict)]
    help_lines, fix = refusal_help(
        unverified_claims(oidc_jwt), codes, index, projects, "\n".join(reasons)
    )
    details = [*reasons, "The OIDC token's claims (what the index compared):"]
    details.extend(f"    {line}" for line in claim_lines(oidc_jwt))
    details.extend(help_lines)
    raise CredentialError(
        f"The index at {web_url} refused to exchange the OIDC token for an upload token.",
        details=details,
        fix=fix,
    )


def _unreachable(index: Index, exc: transport.GaveUp, call: str) -> CredentialError:
    said = exc.last.reply
    if said is None:
        return CredentialError(
            f"Could not reach the index at {index.web_url}: {exc.reason} "
            f"({exc.tries} in {exc.seconds:.0f} s).",
            fix="Check `repository-url`; if it is right, the index may be down: "
            + _outage_fix(index),
        )
    return CredentialError(
        f"The index at {index.web_url} is having an outage: {call} answered "
        f"{_what_came(said)} ({exc.tries} in {exc.seconds:.0f} s).",
        fix=_outage_fix(index),
    )


def _outage_fix(index: Index) -> str:
    status = f" (PyPI's status page: {PYPI_STATUS})" if index.pypi_deployment else ""
    return f"Re-run the job later{status}; nothing was uploaded."


def _what_came(resp: Reply) -> str:
    """An answer that is not what a PyPI index sends, said in a few words."""
    kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if "html" in kind or resp.text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        return f"HTTP {resp.status_code} with an HTML page"
    if not resp.content:
        return f"HTTP {resp.status_code} with an empty body"
    if not _json(resp):
        return f"HTTP {resp.status_code} with a body that is not JSON"
    return f"HTTP {resp.status_code} {_message(resp)}".rstrip()


def burn_token(session: requests.Session, index: Index, token: str, *, seconds: float) -> int:
    """POST the token to the index's burn-token endpoint (one try, within `seconds`): the
    answer's status; what it means is the caller's. `transport.RequestFailed` when none came."""
    reply = transport.request(
        session,
        "POST",
        f"{index.web_url}/_/oidc/burn-token",
        what="the burn-token request",
        cap=transport.SMALL_JSON_CAP,
        seconds=seconds,
        json={"token": token},
    )
    return reply.status_code


def _json(resp: Reply) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(resp: Reply) -> str:
    msg = _json(resp).get("message")
    return msg if isinstance(msg, str) else ""
