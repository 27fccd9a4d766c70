"""The index's side of trusted publishing: trade an OIDC token for a short-lived upload token.

`GET <web>/_/oidc/audience` says which audience the OIDC token must carry; `POST
<web>/_/oidc/mint-token` with `{"token": <JWT>}` returns an API token that lives 15 minutes
(warehouse/oidc/views.py). When to ask, and how often, is `credentials`' business. `POST
<web>/_/oidc/burn-token` with `{"token": <token>}` revokes a minted token: PyPI has it since
warehouse PR #20197 ("Allow burning of TP tokens", the `oidc.burn_token` view in
warehouse/oidc/views.py), and answers 202 whatever the token (so the answer tells nobody
which tokens exist); an index without it answers 404 or 405. `burn_token` is that answer's
one boundary: whatever comes back becomes a `BurnAnswer`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional

from trusted_publish.credentials import github, gitlab, google
from trusted_publish.credentials.claims import publisher_kind, unverified_claims
from trusted_publish.credentials.github import DEFAULT_POLICY
from trusted_publish.errors import CredentialError, PublishError
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


#: Per kind of publisher (`claims.publisher_kind`): the claims PyPI matches it on, in the
#: order shown, and the help for a refused token.
_CLAIMS: dict[str, tuple[str, ...]] = {
    "github": github.CLAIMS,
    "gitlab": gitlab.CLAIMS,
    "google": google.CLAIMS,
}
_PUBLISHER_HELP: dict[
    str,
    Callable[[Mapping[str, Any], str, Index, Sequence[str]], Optional[tuple[list[str], list[str]]]],
] = {
    "github": github.publisher_help,
    "gitlab": gitlab.publisher_help,
    "google": google.publisher_help,
}


def claim_lines(token: str) -> list[str]:
    """`name: value` for each claim PyPI matches on, in a stable order."""
    claims = unverified_claims(token)
    names = _CLAIMS[publisher_kind(claims)]
    return [f"{name}: {claims[name]}" for name in names if name in claims]


def refusal_help(
    claims: Mapping[str, Any],
    codes: Sequence[str],
    index: Index,
    projects: Sequence[str],
    descriptions: str = "",
) -> tuple[list[str], str]:
    """(detail lines, fix) for a refused token exchange, for the kind of publisher the
    token's claims are matched against (`descriptions`: the index's reasons, joined)."""
    found = _PUBLISHER_HELP[publisher_kind(claims)](claims, descriptions, index, projects)
    if found is None:
        return [], "Check the trusted publisher configured on the index for this project."
    lines, likely = found
    if "invalid-pending-publisher" in codes:
        likely.insert(
            0,
            "The project already exists, so its pending publisher no longer applies: add "
            "the publisher on the project's own Publishing page.",
        )
    if "invalid-publisher" in codes or "invalid-pending-publisher" in codes:
        lines.append("Likely mismatches:")
        lines.extend(f"  - {line}" for line in likely)
    fix = (
        "Make the publisher on the index match the table above (the link opens the form "
        "filled in), or change the job to match the publisher."
    )
    if "invalid-token" in codes:
        fix = "The OIDC token was refused as invalid or expired: re-run the job."
    if "invalid-reuse-token" in codes:
        fix = "Each OIDC token is good for one exchange: re-run the job."
    return lines, fix


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
    status = f" (PyPI's status page: {PYPI_STATUS})" if index.pypi else ""
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


class Burn(Enum):
    """What the index said to a burn-token request."""

    BURNED = "burned"
    """A 2xx: PyPI's 202 (it says the same for a token it does not know, which then can't
    be used either)."""
    NO_ENDPOINT = "no endpoint"
    """404 or 405: the index has no burn-token endpoint; the token expires by itself."""
    REFUSED = "refused"
    """Any other status."""
    NO_ANSWER = "no answer"
    """No complete answer came (connection, deadline, size cap) or it could not be read."""


@dataclass(frozen=True)
class BurnAnswer:
    outcome: Burn
    reason: str
    """In words safe to print: never the server's text."""


def burn_token(
    session: requests.Session, index: Index, token: str, *, seconds: float
) -> BurnAnswer:
    """POST the token to the index's burn-token endpoint (one try, within `seconds`) and read
    the answer: the one boundary of that answer, so anything it meets (no answer, any header,
    any byte, any exception while reading) is a `BurnAnswer`, never an exception. A signal
    (`Interrupted`) is not an answer: it goes on to the caller."""
    try:
        reply = transport.request(
            session,
            "POST",
            f"{index.web_url}/_/oidc/burn-token",
            what="the burn-token request",
            cap=transport.SMALL_JSON_CAP,
            seconds=seconds,
            json={"token": token},
        )
        return read_burn_answer(reply.status_code)
    except transport.RequestFailed as exc:
        return BurnAnswer(Burn.NO_ANSWER, exc.reason)
    except PublishError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: whatever the answer did
        why = f"an answer that could not be read ({type(exc).__name__})"
        return BurnAnswer(Burn.NO_ANSWER, why)


def read_burn_answer(status: int) -> BurnAnswer:
    """The status of a burn-token answer, as what it means (its body says nothing more:
    warehouse answers 202 whatever was burned)."""
    if 200 <= status < 300:
        return BurnAnswer(Burn.BURNED, f"HTTP {status}")
    if status in (404, 405):
        return BurnAnswer(Burn.NO_ENDPOINT, f"HTTP {status}")
    return BurnAnswer(Burn.REFUSED, f"HTTP {status}")


def _json(resp: Reply) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(resp: Reply) -> str:
    msg = _json(resp).get("message")
    return msg if isinstance(msg, str) else ""
