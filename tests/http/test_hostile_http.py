"""Every request bounded, every answer capped, the token exchange surviving a blip (issue #11,
items 3, 9, 10 and a reset named as one), checked by driving the real CLI against an index
that misbehaves on purpose (tests/support/hostile.py).

Slow behaviours run against short deadlines set the way users set them (`request-timeout`,
`retry-timeout`), so each test takes a second or two.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.builders import make_wheel
from support.hostile import Behaviour, Endpoint, HostileIndex
from trusted_publish.cli import main
from trusted_publish.credentials.exchange import _outage_fix
from trusted_publish.index.target import Index

MiB = 1024 * 1024
#: Tokens, audience and mint-token answers; an upload's answer.
SMALL_CAP = 1 * MiB
#: The index's listing (simple index, JSON API).
LISTING_CAP = 64 * MiB
#: Seconds a run against a 1-2 s deadline may take on a loaded machine; without deadlines
#: these runs take 200 s (a drip) to 600 s (a hang).
PROMPTLY = 10.0
#: Asked to retry at once: the back-off is not what these tests are about.
NOW = (("Retry-After", "0"),)


@dataclass
class Run:
    code: int
    out: str
    seconds: float


@pytest.fixture
def index() -> Iterator[HostileIndex]:
    with HostileIndex() as server:
        yield server


@pytest.fixture
def dist_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    make_wheel(folder)
    return folder


def publish(
    index: HostileIndex,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    **settings: str,
) -> Run:
    """`trusted-publish` in a GitHub job with `id-token: write`, pointed at `index`."""
    env = {
        **index.env(),
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        **{f"TRUSTED_PUBLISH_{name.upper()}": value for name, value in settings.items()},
    }
    capsys.readouterr()
    started = time.monotonic()
    code = main([], env)
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    return Run(code, captured.out + captured.err, seconds)


def deadline_in(out: str) -> float:
    """The deadline an error names ("no complete answer within the 2 s deadline")."""
    found = re.search(r"no complete answer within the ([0-9.]+) s deadline", out)
    assert found, out
    return float(found.group(1))


# --- item 9: every request has a deadline -------------------------------------------------

#: A body of 1000 bytes, one every 0.2 s: 200 s, never idle long enough for a read timeout.
DRIP = Behaviour(mode="drip", seconds=0.2, size=1000)


@pytest.mark.parametrize("endpoint", ["token", "audience", "mint"])
def test_a_dripping_exchange_ends_at_the_request_deadline(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str], endpoint: Endpoint
) -> None:
    index.behave(endpoint, DRIP)
    run = publish(index, dist_dir, capsys, request_timeout="1", max_retries="0")
    assert run.code == 4
    assert "no complete answer within the 1 s deadline" in run.out
    assert run.seconds < PROMPTLY
    assert index.landed == []


def test_a_dripping_listing_ends_at_the_deadline_and_the_upload_decides(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("simple", DRIP)
    run = publish(index, dist_dir, capsys, request_timeout="1")
    # Could not tell is not "nothing there": the index's answer to the upload decides, and
    # the user is told why the listing was not used.
    assert run.code == 0
    assert "Could not ask the index which files it already has" in run.out
    assert "no complete answer within the 1 s deadline" in run.out
    assert run.seconds < PROMPTLY
    assert len(index.landed) == 1


def test_a_dripping_upload_answer_ends_within_retry_timeout(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("upload", DRIP)
    run = publish(index, dist_dir, capsys, request_timeout="1", retry_timeout="2")
    assert run.code == 5
    assert 1 <= deadline_in(run.out) <= 2  # never under request-timeout, never past 2 s
    assert run.seconds < PROMPTLY


def test_an_index_that_takes_the_body_and_never_answers_costs_retry_timeout(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("upload", Behaviour(mode="hang"))
    run = publish(index, dist_dir, capsys, request_timeout="1", retry_timeout="2")
    assert run.code == 5
    # The wait for the answer is what is left of retry-timeout (a moment under 2 s: the
    # clock starts with the file), and no retry starts after it.
    assert 1 <= deadline_in(run.out) <= 2  # never under request-timeout, never past 2 s
    assert len(index.requests_to("upload")) == 1
    assert run.seconds < PROMPTLY


# --- item 10: answers are read within a cap -----------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
@pytest.mark.parametrize(
    ("endpoint", "named"),
    [
        ("token", "the OIDC token request"),
        ("audience", "the audience request"),
        ("mint", "the mint-token request"),
    ],
)
def test_a_huge_exchange_answer_is_refused_by_name(
    index: HostileIndex,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    endpoint: Endpoint,
    named: str,
    declared: bool,
) -> None:
    index.behave(endpoint, Behaviour(mode="huge", size=SMALL_CAP + 1, declared=declared))
    run = publish(index, dist_dir, capsys, max_retries="0")
    assert run.code == 4
    assert f"the answer to {named} was too large (over 1 MiB)" in run.out
    assert index.landed == []


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_huge_listing_is_refused_by_name_and_the_upload_decides(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str], declared: bool
) -> None:
    index.behave("simple", Behaviour(mode="huge", size=LISTING_CAP + 1, declared=declared))
    run = publish(index, dist_dir, capsys)
    assert run.code == 0
    assert "the answer to the simple-index request was too large (over 64 MiB)" in run.out
    assert len(index.landed) == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_huge_upload_answer_is_refused_by_name(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str], declared: bool
) -> None:
    index.behave("upload", Behaviour(mode="huge", size=SMALL_CAP + 1, declared=declared))
    run = publish(index, dist_dir, capsys)
    assert run.code == 5
    assert "the answer to the upload of tp_sample-1.0.0-py3-none-any.whl was too large" in run.out
    assert "whether tp_sample-1.0.0-py3-none-any.whl landed is unknown" in run.out


#: The probe runs the CLI as its only child, so RUSAGE_CHILDREN's peak is the CLI's own.
PROBE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
print("exit", done.returncode)
print("maxrss_kib", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.parametrize(
    ("endpoint", "limit_mib"),
    [("mint", 80), ("simple", 80 + 64)],
)
def test_a_300_mb_answer_leaves_memory_flat(
    index: HostileIndex, dist_dir: Path, endpoint: Endpoint, limit_mib: int
) -> None:
    # No Content-Length: the reader must count, and stop at the cap.
    index.behave(endpoint, Behaviour(mode="huge", size=300 * MiB, declared=False))
    cli = Path(sys.executable).with_name("trusted-publish")
    env = {**os.environ, **index.env(), "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(cli)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "too large" in done.stdout, done.stdout + done.stderr
    maxrss_mib = int(done.stdout.split("maxrss_kib ")[1].split()[0]) / 1024
    # The process itself (Python, requests, pydantic, packaging) peaks at ~45 MB; a capped
    # listing adds its cap.
    assert maxrss_mib < limit_mib, f"peak RSS {maxrss_mib:.0f} MiB"


# --- item 3: the token exchange survives a blip ---------------------------------------------


@pytest.mark.parametrize("endpoint", ["token", "audience", "mint"])
def test_the_exchange_survives_two_503s(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str], endpoint: Endpoint
) -> None:
    index.behave(endpoint, Behaviour(mode="status", status=503, headers=NOW, times=2))
    run = publish(index, dist_dir, capsys)
    assert run.code == 0, run.out
    assert len(index.requests_to(endpoint)) == 3
    assert len(index.landed) == 1


def test_a_503_during_the_mid_run_token_refresh_is_retried(
    index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "dist"
    make_wheel(folder)
    make_wheel(folder, tag="py3-none-manylinux_2_17_x86_64")
    # Tokens live a minute, under the 5-minute margin: every file mints a new one. The first
    # mint (before any upload) and the second (the first file) go through; then two 503s.
    index.token_lifetime(60)
    index.behave("mint", Behaviour(mode="status", status=503, headers=NOW, after=2, times=2))
    run = publish(index, folder, capsys, max_parallel="1")
    assert run.code == 0, run.out
    assert len(index.landed) == 2
    assert len(index.requests_to("mint")) == 5


def test_a_mint_token_outage_is_called_an_outage(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave(
        "mint",
        Behaviour(
            mode="status",
            status=503,
            headers=NOW,
            body=b"<h1>503 Service Unavailable</h1>",
            content_type="text/html",
        ),
    )
    run = publish(index, dist_dir, capsys, max_retries="2")
    assert run.code == 4
    assert "is having an outage" in run.out
    assert "HTTP 503 with an HTML page (3 attempts" in run.out
    # Not a configuration mistake: no publisher table, no claims.
    assert "trusted publisher must say" not in run.out
    assert "OIDC token's claims" not in run.out
    assert len(index.requests_to("mint")) == 3


def test_an_html_page_from_mint_token_is_not_a_publisher_mistake(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("mint", Behaviour(mode="html"))
    run = publish(index, dist_dir, capsys)
    assert run.code == 4
    assert "could not exchange the OIDC token: HTTP 200 with an HTML page" in run.out
    assert "not a problem with your trusted publisher" in run.out
    assert "trusted publisher must say" not in run.out


def test_a_refusal_in_warehouse_words_still_gets_the_publisher_diagnosis(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = (
        b'{"message": "Token request failed", "errors": [{"code": "invalid-publisher", '
        b'"description": "valid token, but no corresponding publisher"}]}'
    )
    index.behave("mint", Behaviour(mode="status", status=422, body=refusal))
    run = publish(index, dist_dir, capsys)
    assert run.code == 4
    assert "invalid-publisher: valid token, but no corresponding publisher" in run.out
    assert "trusted publisher must say" in run.out
    assert "outage" not in run.out


@pytest.mark.parametrize(
    ("upload_url", "status_page"),
    [
        ("https://upload.pypi.org/legacy/", True),
        ("https://test.pypi.org/legacy/", True),
        ("https://pypi.example.com/legacy/", False),
    ],
)
def test_an_outage_at_pypi_points_to_its_status_page(upload_url: str, status_page: bool) -> None:
    fix = _outage_fix(Index.from_urls(upload_url))
    assert ("https://status.python.org/" in fix) is status_page


# --- item 12 (part): a reset is named as one ------------------------------------------------


def test_a_reset_upload_is_retried_and_named(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("upload", Behaviour(mode="reset"))
    run = publish(index, dist_dir, capsys, max_retries="1")
    assert run.code == 5
    assert len(index.requests_to("upload")) == 2
    assert "failed after 2 attempts" in run.out
    assert "the server reset the connection" in run.out
    assert "BadStatusLine" not in run.out


def test_one_reset_then_an_answer_lands_the_file(
    index: HostileIndex, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.behave("upload", Behaviour(mode="reset", times=1))
    run = publish(index, dist_dir, capsys)
    assert run.code == 0, run.out
    assert "the server reset the connection; retry 1" in run.out
    assert len(index.landed) == 1
