"""Burning the upload token: PyPI's answer (warehouse PR #20197) is the burn's success, and
whatever else comes back is a warning that never ends a finished release in failure.

The burn-token answer has one boundary, `exchange.burn_token`: driven here through the real
CLI against an index that answers badly on purpose, and fuzzed with arbitrary bytes from a
loopback server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from support.builders import make_wheel
from support.hostile import Behaviour, HostileIndex
from support.rawhttp import RawServer
from trusted_publish.cli import main
from trusted_publish.credentials.exchange import Burn, BurnAnswer, burn_token
from trusted_publish.http.transport import make_session
from trusted_publish.index.target import Index


@pytest.fixture
def index() -> Iterator[HostileIndex]:
    with HostileIndex() as server:
        yield server


def publish(index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple:
    make_wheel(tmp_path / "dist")
    env = {
        **index.env(),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(tmp_path / "dist"),
    }
    capsys.readouterr()
    code = main([], env)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_burn_answer_with_a_non_ascii_content_length_ends_a_finished_release_in_success(
    index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `²` passes str.isdigit, and int() refuses it: before, exit 70 with a traceback.
    index.behave("burn", Behaviour(mode="status", status=202, body=b"{}", length="\u00b2"))
    code, out = publish(index, tmp_path, capsys)
    assert code == 0, out
    assert len(index.landed) == 1
    assert "Traceback" not in out
    assert "Could not burn the upload token (" in out
    assert "invalid Content-Length header" in out


def test_a_refused_burn_is_a_warning_and_the_release_stands(
    index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("burn", Behaviour(mode="status", status=500, body=b"<html>oops</html>"))
    code, out = publish(index, tmp_path, capsys)
    assert code == 0, out
    assert "Could not burn the upload token (HTTP 500)" in out


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(202, Burn.BURNED), (200, Burn.BURNED), (404, Burn.NO_ENDPOINT), (405, Burn.NO_ENDPOINT)],
)
def test_pypis_202_is_a_burn_and_404_or_405_is_no_endpoint(status: int, outcome: Burn) -> None:
    with RawServer() as raw:
        raw.answer = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()
        answer = burn_token(make_session(), Index.from_urls(raw.url + "/legacy/"), "t", seconds=5)
    assert answer.outcome is outcome


_TOKEN = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=8)
_VALUE = st.one_of(
    st.sampled_from(["\u00b2", "\u00b3\u00b9", "-1", "1e3", "99999999999999999999", "", " 7 "]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12),
)
_HEADER = st.tuples(
    st.sampled_from(["Content-Length", "Content-Type", "Transfer-Encoding", "Retry-After"]),
    _VALUE,
)


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


@given(
    status=st.one_of(st.integers(0, 999).map(lambda n: f"{n:03d}"), _TOKEN),
    headers=st.lists(_HEADER, max_size=4),
    body=st.binary(max_size=64),
)
@example(status="202", headers=[("Content-Length", "\u00b2")], body=b"{}")
def test_any_burn_answer_becomes_a_named_outcome(
    raw: RawServer, status: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    # http.client reads header bytes as Latin-1: every value a client can meet is one.
    raw.answer = head.encode("latin-1") + b"\r\n" + body
    answer = burn_token(make_session(), Index.from_urls(raw.url + "/legacy/"), "t", seconds=2)
    assert isinstance(answer, BurnAnswer)
    assert isinstance(answer.outcome, Burn)
