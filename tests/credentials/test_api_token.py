"""A PyPI API token is read offline before anything is sent: scoped elsewhere or expired, it
is named; unreadable, it is said to be unchecked; a password elsewhere is said not checked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.capture import CaptureServer
from support.macaroons import token
from support.runs import Run
from trusted_publish.cli import main
from trusted_publish.credentials.api_token import Kind, read

PROJECT = "tp-demo-package"
HOUR = 3600


def now() -> int:
    return int(time.time())


def dry_run(
    capture: CaptureServer, dist_dir: Path, capsys: pytest.CaptureFixture[str], secret: str
) -> Run:
    capsys.readouterr()
    argv = ["--dry-run", "--repository-url", capture.url, str(dist_dir)]
    code = main(argv, env={"TRUSTED_PUBLISH_PASSWORD": secret})
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    assert secret not in run.text
    assert secret[5:40] not in run.text
    return run


# --- reading ------------------------------------------------------------------------------


def test_a_token_as_warehouse_makes_it_reads_as_its_caveats() -> None:
    expires = now() + HOUR
    reading = read(token([0, expires, now() - 10], [1, ["tp-demo-package", "other"]]))
    assert reading.kind is Kind.READ
    assert reading.location == "pypi.org"
    assert reading.projects == frozenset({"tp-demo-package", "other"})
    assert (reading.expires_at, reading.user_scoped) == (expires, False)


def test_legacy_caveats_read_as_warehouse_adapts_them() -> None:
    v1 = read(token({"version": 1, "permissions": {"projects": ["Tp.Demo_Package"]}}))
    assert v1.projects == frozenset({"tp-demo-package"})
    user = read(token({"version": 1, "permissions": "user"}, {"exp": 5, "nbf": 1}))
    assert (user.user_scoped, user.expires_at, user.not_before) == (True, 5, 1)
    assert read(token({"project_ids": ["abc"]})).project_ids


@pytest.mark.parametrize(
    "bad",
    [
        "pypi-",
        "pypi-!!!",
        "pypi-AgEIcHlwaS5vcmc",  # a header cut short
        token(raw=[b"not json"]),
        token([99, "unknown tag"]),
        token({"version": 2}),
    ],
)
def test_a_token_that_is_not_what_pypi_writes_is_unreadable_not_an_error(bad: str) -> None:
    assert read(bad).kind is Kind.UNREADABLE


@given(st.text(max_size=300))
def test_any_string_is_a_named_outcome(text: str) -> None:
    assert read(text).kind in Kind
    assert read("pypi-" + text).kind in Kind


@given(st.binary(max_size=300))
def test_any_bytes_in_a_token_are_a_named_outcome(data: bytes) -> None:
    import base64

    encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert read("pypi-" + encoded).kind in Kind
    assert read("pypi-" + base64.urlsafe_b64encode(b"\x02" + data).decode()).kind in Kind


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(st.lists(st.binary(max_size=60), max_size=4))
def test_any_caveat_bytes_in_a_well_framed_token_are_a_named_outcome(caveats: list[bytes]) -> None:
    assert read(token(raw=caveats)).kind in Kind


@given(st.lists(JSON, max_size=4))
def test_any_json_caveats_are_a_named_outcome(caveats: list[object]) -> None:
    assert read(token(*caveats)).kind in Kind


# --- through the CLI: nothing is sent ------------------------------------------------------


def test_a_token_scoped_to_other_projects_is_named_before_anything_is_sent(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as capture:
        run = dry_run(capture, dist_dir, capsys, token([1, ["someone-else"]]))
        assert run.code == 4, run.text
        assert f"project-scoped token is not valid for project: '{PROJECT}'" in run.text
        assert capture.requests == []


def test_an_expired_token_is_named_before_anything_is_sent(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as capture:
        run = dry_run(capture, dist_dir, capsys, token([0, now() - HOUR, now() - 2 * HOUR]))
        assert run.code == 4, run.text
        assert "token is expired" in run.text
        assert capture.requests == []


def test_a_testpypi_token_for_pypi_is_named(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = token([1, [PROJECT]], location="test.pypi.org")
    capsys.readouterr()
    argv = ["--dry-run", "-t", secret, str(dist_dir)]  # PyPI: refused before any request
    assert main(argv, env={}) == 4
    assert "made by test.pypi.org, and this run uploads to pypi.org" in capsys.readouterr().err


def test_a_fitting_token_is_said_to_fit_as_far_as_offline_can_tell(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as capture:
        run = dry_run(capture, dist_dir, capsys, token([1, [PROJECT]], [0, now() + HOUR, 0]))
        assert run.code == 0, run.text
        assert f"The API token reads as scoped to projects {PROJECT}, until " in run.out
        assert "only the index can check its signature" in run.out


def test_an_unreadable_token_is_said_to_be_unchecked(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as capture:
        run = dry_run(capture, dist_dir, capsys, "pypi-this-is-not-a-macaroon")
        assert "could not be read offline" in run.text
        assert "it is unchecked" in run.text


def test_a_password_for_another_index_is_said_not_checked(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as capture:
        run = dry_run(capture, dist_dir, capsys, "correct-horse-battery-staple")
        assert "was not checked" in run.text
