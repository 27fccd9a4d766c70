"""The console: workflow commands in Actions, plain text elsewhere, secrets never printed."""

from __future__ import annotations

import io
import re
from pathlib import Path

from trusted_publish.console import Console


def actions_console(tmp_path: Path) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    return Console(env=env, out=out, err=out), out


def test_a_masked_secret_is_announced_once_then_redacted_everywhere(tmp_path: Path) -> None:
    console, out = actions_console(tmp_path)
    console.mask("pypi-AgEIcHlwaS5vcmc", basic_user="__token__")
    console.mask("pypi-AgEIcHlwaS5vcmc", basic_user="__token__")
    console.info("token is pypi-AgEIcHlwaS5vcmc")
    console.error("bad pypi-AgEIcHlwaS5vcmc", title="x pypi-AgEIcHlwaS5vcmc")
    lines = out.getvalue().splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert masks[0] == "::add-mask::pypi-AgEIcHlwaS5vcmc"
    # Its derived forms are announced with it, once: the Basic header's base64 among them.
    assert "::add-mask::X190b2tlbl9fOnB5cGktQWdFSWNIbHdhUzV2Y21j" in masks
    assert len(masks) == len(set(masks))
    rest = lines[len(masks) :]
    assert all("pypi-AgEIcHlwaS5vcmc" not in line for line in lines[1:])
    assert rest[0] == "token is ***"


def test_annotations_escape_newlines_and_properties(tmp_path: Path) -> None:
    console, out = actions_console(tmp_path)
    console.error("line one\nline 100%", title="a: b, c")
    assert out.getvalue() == "::error title=a%3A b%2C c::line one%0Aline 100%25\n"


def test_outside_actions_there_is_no_workflow_command_noise() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(env={}, out=out, err=err)
    console.mask("secret-value")
    console.warning("careful with secret-value")
    with console.group("Stage"):
        console.info("inside")
    assert "::" not in out.getvalue() + err.getvalue()
    assert err.getvalue() == "warning: careful with ***\n"


def test_outputs_use_a_random_heredoc_delimiter(tmp_path: Path) -> None:
    console, _ = actions_console(tmp_path)
    console.set_output("uploaded", '["a.whl",\n"b.tar.gz"]')
    text = (tmp_path / "out").read_text()
    match = re.fullmatch(r"uploaded<<(ghadelimiter_[0-9a-f]{32})\n(.*)\n\1\n", text, re.S)
    assert match
    assert match.group(2) == '["a.whl",\n"b.tar.gz"]'


def test_summary_is_appended_and_redacted(tmp_path: Path) -> None:
    console, _ = actions_console(tmp_path)
    console.mask("pypi-summary-secret")
    console.summary("| a | pypi-summary-secret |")
    console.summary("more")
    assert (tmp_path / "summary").read_text() == "| a | *** |\nmore\n"
