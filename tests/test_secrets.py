"""Derived forms of a secret are secrets too (issue #11, 6).

A hostile index echoes our request in its error message, `Authorization` header included:
neither the token nor the header's base64 of `user:token` may reach the log, the step
outputs or the job summary. Driven through the real CLI.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from support.builders import make_wheel
from support.hostile import UPLOAD_TOKEN, Behaviour, HostileIndex
from trusted_publish.cli import main
from trusted_publish.console import Console


@pytest.fixture
def echoing_index() -> Iterator[HostileIndex]:
    with HostileIndex() as index:
        # The upload is refused with the request's path and headers in the message.
        index.behave("upload", Behaviour(mode="echo", status=400))
        yield index


def run_echoed(
    index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], **env: str
) -> str:
    """Everything a user could see of the run: log, outputs and summary."""
    make_wheel(tmp_path / "dist")
    files = {"GITHUB_OUTPUT": tmp_path / "outputs", "GITHUB_STEP_SUMMARY": tmp_path / "summary"}
    run_env = {
        **index.env(),
        "GITHUB_ACTIONS": "true",
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(tmp_path / "dist"),
        **{name: str(path) for name, path in files.items()},
        **env,
    }
    capsys.readouterr()
    code = main([], env=run_env)
    out, err = capsys.readouterr()
    assert code == 5
    # The echo did reach us: the refusal quotes the request it was sent.
    assert "Bad request /legacy/" in out
    lines = (out + err).splitlines()
    log = "\n".join(line for line in lines if not line.startswith("::add-mask::"))
    return "\n".join([log, *(path.read_text() for path in files.values())])


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_an_echoed_upload_token_shows_neither_itself_nor_its_basic_header(
    echoing_index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = run_echoed(echoing_index, tmp_path, capsys)
    assert "Authorization: Basic ***" in seen
    assert UPLOAD_TOKEN not in seen
    assert basic("__token__", UPLOAD_TOKEN) not in seen
    assert basic("__token__", UPLOAD_TOKEN)[:24] not in seen


def test_an_echoed_password_shows_neither_itself_nor_its_basic_header(
    echoing_index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "correct-horse-battery-staple"
    seen = run_echoed(
        echoing_index,
        tmp_path,
        capsys,
        TRUSTED_PUBLISH_USER="alice",
        TRUSTED_PUBLISH_PASSWORD=password,
    )
    assert "Authorization: Basic ***" in seen
    assert password not in seen
    assert basic("alice", password)[:24] not in seen


def test_a_secret_in_the_repository_urls_query_is_not_echoed_back(
    echoing_index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{echoing_index.repository_url}?key=query-secret-0123456789#frag-secret-9876"
    seen = run_echoed(echoing_index, tmp_path, capsys, TRUSTED_PUBLISH_REPOSITORY_URL=url)
    assert "query-secret-0123456789" not in seen
    assert "frag-secret-9876" not in seen


def test_percent_and_json_escaped_forms_are_redacted_too() -> None:
    out = io.StringIO()
    console = Console(env={}, out=out, err=out)
    secret = 'pass word/with"quote\\and+plus'
    console.mask(secret)
    console.info(f"url form: {quote(secret, safe='')}; json form: {json.dumps(secret)}")
    assert out.getvalue() == 'url form: ***; json form: "***"\n'
