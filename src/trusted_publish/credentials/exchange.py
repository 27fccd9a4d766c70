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

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from trusted_publish.credentials import github, gitlab, google
from trusted_publish.credentials.claims import publisher_kind, unverified_claims
from trusted_publish.credentials.github import DEFAULT_POLICY
from trusted_publish.errors import CredentialError, PublishError
from trusted_publish.http import transport
from trusted_publish.http.answers import ProtocolError, json_object, parse_model
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
    except transport.RequestFailed as exc:  # too large, or a malformed answer
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
    try:
        return read_audience(resp)
    except ProtocolError:
        raise CredentialError(
            f"The index at {web_url} answered the audience request with HTTP "
            f"{resp.status_code} and no audience.",
            fix="Check that `repository-url` points at a PyPI-compatible index.",
        ) from None


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
    except transport.RequestFailed as exc:  # too large, or a malformed answer
        raise CredentialError(
            f"The index at {web_url} could not exchange the OIDC token: {exc.reason}.",
            fix=_outage_fix(index),
        ) from None
    except transport.GaveUp as exc:
        raise _unreachable(index, exc, "POST /_/oidc/mint-token") from None
    oidc_jwt = sent["jwt"]
    answer = read_mint(resp)
    if answer.token is not None:
        console.mask(answer.token, basic_user=TOKEN_USER)
        # An index that does not say assumes PyPI's 15 minutes.
        when = answer.expires if answer.expires is not None else time.time() + 900
        return UploadToken(value=answer.token, expires=when)
    if answer.refusals is None:
        # Only a refusal in warehouse's words (a 4xx with an `errors` list) is about the
        # publisher; an HTML page, an empty or garbled answer is the index failing.
        raise CredentialError(
            f"The index at {web_url} could not exchange the OIDC token: "
            f"{_what_came(resp)}. It is not answering as it should; this is not a "
            "problem with your trusted publisher.",
            fix=_outage_fix(index),
        )
    reasons = [f"{code}: {description}" for code, description in answer.refusals] or [
        f"HTTP {resp.status_code}: {_message(resp) or 'no explanation given'}"
    ]
    codes = [code for code, _ in answer.refusals]
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
    why = exc.never_opened
    if why is not None and not why.resolved:
        host = urlsplit(index.web_url).hostname
        return CredentialError(
            f"Could not reach the index: the host {host} in `repository-url` does not "
            f"resolve: check the URL ({exc.tries} in {exc.seconds:.0f} s).",
            fix="Correct the host name in `repository-url`. No connection was opened: "
            "nothing was sent, and nothing was uploaded.",
        )
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
    if not _json_body(resp):
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


# --- the answers, each read at one boundary into a typed value -----------------------------


class _Answer(BaseModel):
    """What warehouse's OIDC views answer, any of them (warehouse/oidc/views.py): fields of
    another type make the whole answer one that is not warehouse's."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    audience: Optional[StrictStr] = None
    token: Optional[StrictStr] = Field(default=None, repr=False)
    expires: Optional[float] = None
    errors: Optional[list[Any]] = None
    message: Optional[StrictStr] = None

    @field_validator("expires", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> Optional[float]:
        # A time we can't use is no time: the caller assumes PyPI's 15 minutes.
        if not isinstance(value, (int, float)):
            return None
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
        return seconds if math.isfinite(seconds) else None


class _Refusal(BaseModel):
    """One of warehouse's reasons for refusing a token: `{"code": ..., "description": ...}`."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    code: str = "?"
    description: str = ""


@dataclass(frozen=True)
class MintAnswer:
    """The mint-token endpoint's answer, read."""

    token: Optional[str] = field(default=None, repr=False)
    """The upload token: a 200 with a non-empty `token` (None otherwise)."""
    expires: Optional[float] = None
    refusals: Optional[list[tuple[str, str]]] = None
    """(code, description) of each reason, when the answer is a refusal in warehouse's
    words: a 4xx with a non-empty `errors` list (None otherwise: the index failing)."""


def read_audience(resp: Reply) -> str:
    """The audience-endpoint's answer: the audience; `ProtocolError` when it names none."""
    answer = _answer(resp, "the audience request")
    if resp.status_code != 200 or not answer.audience:
        raise ProtocolError(f"HTTP {resp.status_code} and no audience")
    return answer.audience


def read_mint(resp: Reply) -> MintAnswer:
    """The mint-token endpoint's answer: the token, warehouse's reasons, or neither."""
    try:
        answer = _answer(resp, "the mint-token request")
    except ProtocolError:
        return MintAnswer()
    if resp.status_code == 200 and answer.token:
        return MintAnswer(token=answer.token, expires=answer.expires)
    if 400 <= resp.status_code < 500 and answer.errors:
        refusals: list[tuple[str, str]] = []
        for item in answer.errors:
            try:
                refusal = parse_model(_Refusal, item, what="the mint-token request")
            except ProtocolError:
                continue  # not a reason we can read: the others still tell
            refusals.append((refusal.code, refusal.description))
        return MintAnswer(refusals=refusals)
    return MintAnswer()


def _answer(resp: Reply, what: str) -> _Answer:
    """`resp`'s body as one of warehouse's OIDC answers, or `ProtocolError`."""
    return parse_model(_Answer, json_object(resp.content, what=what), what=what)


def _json_body(resp: Reply) -> Optional[dict[str, Any]]:
    """The body as a JSON object, None when it is none."""
    try:
        return json_object(resp.content, what="the request")
    except ProtocolError:
        return None


def _message(resp: Reply) -> str:
    try:
        return _answer(resp, "the request").message or ""
    except ProtocolError:
        return ""
