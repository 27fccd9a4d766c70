"""The one boundary for servers' answers (http/answers.py): numbers in headers, JSON bodies
and JSON shapes end as a typed value or a `ProtocolError`, whatever they hold; fuzzed with
hypothesis (`HYPOTHESIS_PROFILE=fuzz` for thousands of examples)."""

from __future__ import annotations

import contextlib
import json
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from trusted_publish.http.answers import (
    RETRY_AFTER_MAX,
    ProtocolError,
    content_length,
    decode_json,
    header_number,
    json_object,
    parse_model,
    read_json,
    retry_after,
)
from trusted_publish.http.transport import RequestFailed

#: Property tests of a boundary: a few dozen examples in `make test`, thousands in `make fuzz`.
pytestmark = pytest.mark.fuzz

WHAT = "the test request"

#: Characters `str.isdigit` accepts that are no ASCII digit: superscripts, other scripts.
NOT_ASCII_DIGITS = ["\u00b2", "\u0663", "\u06f7", "\u0967", "\u2460", "\U0001d7d8", "\uff11\uff12"]


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_a_digit_python_accepts_is_no_number_in_a_header(value: str) -> None:
    assert value.isdigit()
    with pytest.raises(ProtocolError, match="invalid Content-Length header"):
        content_length({"Content-Length": value}, what=WHAT)
    assert retry_after(value) is None


def test_header_numbers_in_ascii_digits_are_read_and_bounded() -> None:
    assert content_length({"Content-Length": " 12\t"}, what=WHAT) == 12
    assert content_length({"Content-Length": "12, 12"}, what=WHAT) == 12
    assert content_length({}, what=WHAT) is None
    with pytest.raises(ProtocolError, match="conflicting"):
        content_length({"Content-Length": "12, 13"}, what=WHAT)
    with pytest.raises(ProtocolError, match="invalid"):
        content_length({"Content-Length": "9" * 40}, what=WHAT)
    with pytest.raises(ProtocolError, match="over 10"):
        header_number("11", header="X-Count", what=WHAT, maximum=10)
    assert retry_after("7") == 7.0
    assert retry_after("9" * 5000) == RETRY_AFTER_MAX
    assert retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == pytest.approx(6.0)
    assert retry_after("Fri, 99 Foo 99999 99:99:99 XYZ") is None


def test_a_protocol_error_is_a_failed_request() -> None:
    # Whoever handles "no usable answer" handles a malformed one the same way.
    assert issubclass(ProtocolError, RequestFailed)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"1" * 5000,  # over Python's limit on an integer's digits
        b"\xff\xfe\x00garbage",
        b"NaN",
        b'{"x": Infinity}',
        b"",
        "\ud800".encode("utf-8", "surrogatepass"),
    ],
)
def test_any_body_that_is_not_json_is_one_named_outcome(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="the answer to the test request is not JSON"):
        decode_json(body, what=WHAT)


class Token(BaseModel):
    value: str
    expires: Optional[float] = None


def test_a_shape_error_names_the_fields_never_their_values() -> None:
    secret = "pypi-secret-token-that-must-not-show"
    with pytest.raises(ProtocolError) as caught:
        read_json(json.dumps({"value": [secret], "expires": secret}), Token, what=WHAT)
    assert "value" in caught.value.reason and "expires" in caught.value.reason
    assert secret not in caught.value.reason
    assert read_json(b'{"value": "t", "expires": 5}', Token, what=WHAT) == Token(
        value="t", expires=5.0
    )


# --- fuzz: anything in, a typed value or ProtocolError out -----------------------------------

header_text = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 ,\t²٣"),
    st.integers(min_value=0).map(str),
)


@given(header_text)
def test_fuzz_content_length(value: str) -> None:
    try:
        length = content_length({"Content-Length": value}, what=WHAT)
    except ProtocolError:
        return
    assert isinstance(length, int) and 0 <= length < 2**63


@given(
    st.one_of(
        st.none(),
        header_text,
        st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    )
)
def test_fuzz_retry_after(value: Optional[str]) -> None:
    seconds = retry_after(value)
    assert seconds is None or 0.0 <= seconds <= RETRY_AFTER_MAX


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


def _bodies() -> st.SearchStrategy[bytes]:
    nested = st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * (n % 3))
    return st.one_of(
        st.binary(),
        st.text().map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        nested,
    )


@given(_bodies())
def test_fuzz_json_bodies(body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_json(body, what=WHAT)
    with contextlib.suppress(ProtocolError):
        assert isinstance(json_object(body, what=WHAT), dict)
    try:
        token = read_json(body, Token, what=WHAT)
    except ProtocolError:
        return
    assert isinstance(token.value, str)


@given(json_values)
def test_fuzz_shapes(data: object) -> None:
    try:
        parse_model(Token, data, what=WHAT)
    except ProtocolError as exc:
        assert exc.reason.startswith("the answer to the test request is not as expected")
