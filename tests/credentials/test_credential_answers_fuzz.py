"""Each credentials answer kind has one reader (issue #18): whatever the answer holds, it
gives the typed value or a `ProtocolError`, never another exception. Fuzzed with hypothesis
(`HYPOTHESIS_PROFILE=fuzz` for thousands of examples)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.answers import bodies, json_values, replies
from trusted_publish.credentials.claims import is_jwt, unverified_claims
from trusted_publish.credentials.exchange import claim_lines, read_audience, read_mint
from trusted_publish.credentials.github import read_oidc_token
from trusted_publish.credentials.google import read_identity_token
from trusted_publish.http.answers import ProtocolError
from trusted_publish.http.transport import Reply

#: Property tests of a boundary: a few dozen examples in `make test`, thousands in `make fuzz`.
pytestmark = pytest.mark.fuzz


@given(replies(keys=["audience", "message"], statuses=[200, 403, 404]))
def test_fuzz_audience(reply: Reply) -> None:
    try:
        audience = read_audience(reply)
    except ProtocolError:
        return
    assert isinstance(audience, str) and audience and reply.status_code == 200


@given(
    replies(
        keys=["token", "expires", "errors", "code", "description", "message"],
        statuses=[200, 400, 422, 500],
    )
)
def test_fuzz_mint(reply: Reply) -> None:
    answer = read_mint(reply)
    if answer.token is not None:
        assert reply.status_code == 200 and isinstance(answer.token, str) and answer.token
        assert answer.expires is None or isinstance(answer.expires, float)
    if answer.refusals is not None:
        assert 400 <= reply.status_code < 500
        assert all(isinstance(c, str) and isinstance(d, str) for c, d in answer.refusals)


def test_a_mint_refusal_reads_warehouses_reasons() -> None:
    body = b'{"errors": [{"code": "invalid-publisher", "description": "no match"}, 5, {"code": 7}]}'
    answer = read_mint(Reply(422, "", {}, body))
    assert answer.refusals == [("invalid-publisher", "no match"), ("7", "")]
    assert read_mint(Reply(200, "", {}, b'{"token": "t", "expires": 1e999}')).expires is None


@given(replies(keys=["value"]))
def test_fuzz_oidc_token(reply: Reply) -> None:
    try:
        token = read_oidc_token(reply)
    except ProtocolError:
        return
    assert is_jwt(token)


@given(
    st.one_of(
        bodies(),
        st.lists(st.text(alphabet="ab-_.=", max_size=10), max_size=4).map(
            lambda p: ".".join(p).encode()
        ),
    )
)
def test_fuzz_identity_token(body: bytes) -> None:
    try:
        token = read_identity_token(Reply(200, "OK", {"Content-Type": "text/html"}, body))
    except ProtocolError:
        return
    assert is_jwt(token)


def _jwt(payload: bytes) -> str:
    return f"e30.{base64.urlsafe_b64encode(payload).decode().rstrip('=')}.c2ln"


@given(
    st.one_of(
        st.text(max_size=100), bodies().map(_jwt), json_values.map(lambda v: _jwt(repr(v).encode()))
    )
)
def test_fuzz_claims(token: str) -> None:
    # A refused token's claims are shown to the user: any token gives lines, or none.
    assert isinstance(unverified_claims(token), dict)
    assert all(isinstance(line, str) for line in claim_lines(token))
