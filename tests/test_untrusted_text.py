"""Nothing we print can act as a workflow command or break the job summary (issue #11, 8).

File names, metadata and servers' messages are untrusted text. Driven through the real CLI
against a hostile index; the log is read as the runner reads it (support/workflow_log.py).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.builders import make_sdist, make_wheel, metadata_text
from support.hostile import Behaviour, HostileIndex
from support.workflow_log import commands, foreign_commands
from trusted_publish.cli import main
from trusted_publish.console import Console

#: What a hostile value carries: every way to smuggle a command into the runner's log.
INJECTION = (
    "\n::error::pwned"
    "\n::set-output name=uploaded::[]"
    "\n::add-mask::x"
    "\n  ::stop-commands::x"
    "\r::warning::pwned"
    "\n##[set-output name=skipped;]pwned"
    "\u2028\u202e\x1b[31m"
)
#: The same in a wheel's platform tag, which can hold no `-`.
TAG_INJECTION = "\n::error::pwned\n  ::warning::pwned\r::notice::pwned\n##[error]pwned\x1b[31m"
#: What a hostile value carries into the Markdown of the summary.
MARKDOWN = "```` a | b\n# heading\n![img](https://example.org/x.png) <b>bold</b> [link](x)"


@dataclass
class Run:
    code: int
    out: str
    summary: str
    outputs: str


@pytest.fixture
def hostile() -> Iterator[HostileIndex]:
    with HostileIndex() as index:
        yield index


def run_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str
) -> Run:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    run_env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "TRUSTED_PUBLISH_MAX_RETRIES": "1",
        **env,
    }
    capsys.readouterr()
    code = main(list(argv), env=run_env)
    captured = capsys.readouterr()
    read = lambda p: p.read_text(encoding="utf-8") if p.exists() else ""  # noqa: E731
    return Run(code, captured.out + captured.err, read(summary), read(outputs))


def publish_env(hostile: HostileIndex, dist: Path) -> dict[str, str]:
    return {**hostile.env(), "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist)}


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def assert_summary_holds(summary: str) -> None:
    """Every table row has its six cells; every fenced block is closed only by its own
    fence; nothing outside a table cell or a block is a heading, an image or raw HTML."""
    lines = summary.splitlines()
    outside: list[str] = []
    fence: str | None = None
    for line in lines:
        if fence is not None:
            if line == fence:
                fence = None
                continue
            run = max((len(r) for r in re.findall(r"`+", line)), default=0)
            assert run < len(fence), line
            continue
        opening = re.match(r"`{3,}", line)
        if opening:
            fence = opening.group(0)
            continue
        outside.append(line)
    assert fence is None, "a block was never closed"
    headings = [line for line in outside if line.startswith("#")]
    assert all(h.startswith(("## ", "### What went wrong", "### Releases")) for h in headings), (
        headings
    )
    for line in outside:
        if line.startswith("|"):
            assert unescaped_pipes(line) == 7, line
        # What is left once code spans and our own links are taken out is plain text.
        plain = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", line)
        plain = re.sub(r"\[[a-z ]+\]\(<https://[^\s<>]+>\)", "", plain)
        plain = re.sub(r"<https://[^\s<>]+>", "", plain)
        assert "![" not in plain and "<" not in plain and "](" not in plain, line


def test_the_escaping_shows_controls_and_keeps_the_rest() -> None:
    from trusted_publish.console import untrusted

    assert untrusted("a\nb\r\tc\x1b[31m\u202ed\u2028é✓") == "a\\nb\\r\\tc\\x1b[31m\\u202ed\\u2028é✓"
    assert untrusted("two\nlines", keep="\n") == "two\nlines"


@pytest.mark.parametrize("in_actions", [True, False])
def test_no_console_line_can_be_a_command_it_did_not_mean(in_actions: bool) -> None:
    out = io.StringIO()
    console = Console(env={"GITHUB_ACTIONS": "true"} if in_actions else {}, out=out, err=out)
    console.info(f"file{INJECTION}")
    console.info(f"::error::pwned{INJECTION}")  # a bare untrusted value as the whole line
    console.notice(f"Skipping x{INJECTION}")
    console.error(f"refused{INJECTION}\nsecond line of ours", title=f"t{INJECTION}")
    with console.group(f"Uploading{INJECTION}"):
        console.verbatim(f"Traceback (most recent call last):\n  {INJECTION}\nValueError: x")
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    # Each untrusted line shows whole, escaped, inside one line of ours.
    assert "file\\n::error::pwned\\n::set-output" in text
    if in_actions:
        assert foreign_commands(text) == []
    else:
        # No runner to tell: no pause.
        assert not any(line.startswith("::stop-commands::") for line in text.splitlines())


def test_a_wheel_name_with_a_line_break_prints_no_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its platform tag reads `any\n::error::pwned`: PyPI's own name check lets it through.
    make_wheel(tmp_path / "dist", tag=f"py3-none-any{TAG_INJECTION}")
    run = run_cli(tmp_path, capsys, {}, "check", str(tmp_path / "dist"))
    assert foreign_commands(run.out) == []
    assert "py3-none-any\\n::error::pwned\\n  ::warning::pwned\\r" in run.out


def test_a_folded_name_header_prints_no_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A header folded onto a second line that starts with white space, then `::error::`.
    make_wheel(tmp_path / "dist", metadata=metadata_text(name="tp-sample\n ::error::pwned"))
    run = run_cli(tmp_path, capsys, {}, "check", "--no-verify-metadata", str(tmp_path / "dist"))
    assert run.code == 0
    assert foreign_commands(run.out) == []
    assert "tp-sample\\n ::error::pwned" in run.out


def test_hostile_file_names_stay_in_their_cells_through_a_whole_run(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    # A file name has no `/`.
    make_wheel(dist, tag=f"py3-none-any{INJECTION}```` a | b\n# heading\n![img](x.png) <img src=x>")
    make_sdist(dist)
    run = run_cli(tmp_path, capsys, publish_env(hostile, dist))
    assert foreign_commands(run.out) == []
    assert_summary_holds(run.summary)
    assert "py3-none-any\\n::error::pwned" in run.summary


def test_a_server_message_is_shown_escaped_in_the_retry_line_the_error_and_the_summary(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    make_wheel(dist)
    message = f"Service Unavailable{INJECTION}\n{MARKDOWN}"
    body = json.dumps({"message": message}).encode()
    hostile.behave("upload", Behaviour(mode="status", status=503, body=body))
    run = run_cli(tmp_path, capsys, publish_env(hostile, dist))
    assert run.code == 5
    assert foreign_commands(run.out) == []
    retry = [line for line in run.out.splitlines() if "retry 1 of 1" in line]
    assert retry and "Service Unavailable\\n::error::pwned" in retry[0]
    [error] = [c for c in commands(run.out) if c.name == "error"]
    assert "Service Unavailable\\n::error::pwned\\n::set-output" in error.data
    assert_summary_holds(run.summary)
    assert "Service Unavailable\\n::error::pwned" in run.summary
    assert "````` a | b" not in run.summary  # the backticks are inside a longer fence


def test_a_release_page_link_can_not_carry_markdown(tmp_path: Path) -> None:
    # Its path holds the project's version, which with `verify-metadata: false` is any text.
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.target import Index
    from trusted_publish.report import Report, Status

    version = "1.0> ![img](https://example.org/x.png) <b>bold</b"
    dist = Distribution(
        path=tmp_path / "x-1.0-py3-none-any.whl",
        filetype="bdist_wheel",
        pyversion="py3",
        metadata={"name": "x", "version": version},
        size=1,
        sha256="0" * 64,
        blake2_256="0" * 64,
    )
    report = Report(index=Index.from_urls("https://upload.pypi.org/legacy/"))
    report.planned([dist])
    report.mark(dist, Status.UPLOADED)
    summary = report.markdown()
    assert f"https://pypi.org/project/x/{version}/" in summary  # shown, as code
    assert_summary_holds(summary)
