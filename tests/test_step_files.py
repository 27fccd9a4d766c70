"""The files the runner reads (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) can fail to take our
text (issue #11, part of 11): that is a warning, and the run's own result stands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.builders import make_wheel
from support.hostile import Behaviour, HostileIndex
from support.workflow_log import commands
from trusted_publish.cli import main


@pytest.fixture
def hostile() -> Iterator[HostileIndex]:
    with HostileIndex() as index:
        yield index


def run(
    index: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], **files: str
) -> tuple[int, str]:
    make_wheel(tmp_path / "dist")
    env = {
        **index.env(),
        "GITHUB_ACTIONS": "true",
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(tmp_path / "dist"),
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        **files,
    }
    capsys.readouterr()
    code = main([], env=env)
    return code, capsys.readouterr().out


def test_a_full_disk_under_the_summary_is_a_warning_after_a_successful_upload(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(hostile, tmp_path, capsys, GITHUB_STEP_SUMMARY="/dev/full")
    assert code == 0
    assert hostile.landed == ["tp_sample-1.0.0-py3-none-any.whl"]
    [warning] = [c for c in commands(out) if c.name == "warning"]
    assert "job summary" in warning.data and "/dev/full" in warning.data
    assert not [c for c in commands(out) if c.name == "error"]
    assert '"tp_sample-1.0.0-py3-none-any.whl"' in (tmp_path / "outputs").read_text()


def test_an_unwritable_output_file_does_not_hide_the_real_error(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.behave("upload", Behaviour(mode="status", status=400, body=b'{"message": "No."}'))
    code, out = run(hostile, tmp_path, capsys, GITHUB_OUTPUT=str(tmp_path))  # a folder
    assert code == 5
    annotations = [c for c in commands(out) if c.name in ("error", "warning")]
    # The refusal first, then one warning for the outputs (not one per output).
    assert [c.name for c in annotations] == ["error", "warning"]
    assert "HTTP 400 No." in annotations[0].data
    assert "step outputs" in annotations[1].data
    assert "### What went wrong (upload)" in (tmp_path / "summary").read_text()
