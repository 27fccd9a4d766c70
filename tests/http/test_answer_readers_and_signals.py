"""A signal is not a bad answer: the readers' catch-all boundaries let it through.

Before and after the uploads a SIGINT or SIGTERM raises `Interrupted` wherever the main thread
is, possibly inside a reader that turns *any* exception into "the answer is not readable".
There it must go on to the conductor (exit 130/143, the report saying so), not become a
warning about the index's answer.
"""

from __future__ import annotations

import signal

import pytest
from pydantic import BaseModel, field_validator

from trusted_publish.errors import Interrupted
from trusted_publish.http import answers
from trusted_publish.index import listing


def interrupt(*_: object, **__: object) -> None:
    raise Interrupted(signal.SIGTERM)


class _Interrupting(BaseModel):
    value: int

    @field_validator("value")
    @classmethod
    def _arrives_now(cls, value: int) -> int:
        interrupt()
        return value


def test_a_signal_while_json_is_decoded_is_not_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answers.json, "loads", interrupt)
    with pytest.raises(Interrupted):
        answers.decode_json(b"{}", what="the audience request")


def test_a_signal_while_a_shape_is_checked_is_not_a_protocol_error() -> None:
    with pytest.raises(Interrupted):
        answers.read_json(b'{"value": 1}', _Interrupting, what="the mint-token request")


def test_a_signal_while_a_date_is_read_is_not_no_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers.email.utils, "parsedate_to_datetime", interrupt)
    with pytest.raises(Interrupted):
        answers.retry_after("Wed, 21 Oct 2026 07:28:00 GMT")


def test_a_signal_while_a_simple_page_is_parsed_is_not_unreadable_html(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listing._Anchors, "feed", interrupt)
    with pytest.raises(Interrupted):
        listing.read_simple_html("<a href='x'>x</a>")
