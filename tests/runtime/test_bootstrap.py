"""The action's venv is private (issue #11, 7): a folder in a shared temp folder is reused
only when it is a real directory of ours that nobody else may write to; anything else gets a
fresh one, so another local user can't plant the `python` the publish step runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trusted_publish.runtime import bootstrap, extras

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX owners and modes")

NAME = "trusted-publish-1000"


def planted(shared: Path) -> Path:
    """A folder someone made first, holding a complete-looking venv with their `python`."""
    folder = shared / NAME
    python = folder / "venv-0123456789abcdef" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\necho stolen\n")
    (python.parent.parent / ".trusted-publish-complete").write_text("{}")
    return folder


def test_a_missing_folder_is_made_private(tmp_path: Path) -> None:
    folder, usual = bootstrap.private_folder(tmp_path, NAME)
    assert (folder, usual) == (tmp_path / NAME, True)
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    # And found again by the next step.
    assert bootstrap.private_folder(tmp_path, NAME) == (folder, True)


def test_a_folder_writable_by_others_is_not_reused(tmp_path: Path) -> None:
    folder = planted(tmp_path)
    folder.chmod(0o777)
    fresh, usual = bootstrap.private_folder(tmp_path, NAME)
    assert not usual and fresh != folder and fresh.parent == tmp_path
    assert bootstrap.is_private(fresh) and not any(fresh.iterdir())


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_another_users_folder_is_not_reused(tmp_path: Path) -> None:
    folder = planted(tmp_path)
    folder.chmod(0o755)
    os.chown(folder, 65534, 65534)
    fresh, usual = bootstrap.private_folder(tmp_path, NAME)
    assert not usual and fresh != folder
    assert os.lstat(fresh).st_uid == os.getuid()


def test_a_symlink_to_a_private_folder_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / NAME).symlink_to(target)
    fresh, usual = bootstrap.private_folder(tmp_path, NAME)
    assert not usual and fresh not in (tmp_path / NAME, target)
    assert not bootstrap.is_private(tmp_path / NAME)


def test_setup_without_runner_temp_never_runs_a_planted_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import platform
    import sys
    import tempfile

    shared = tmp_path / "tmp"
    shared.mkdir(mode=0o777)
    locks = b"".join(p.read_bytes() for p in extras.LOCKS.values() if p.is_file())
    key = bootstrap.venv_key(locks, sys.executable, sys.version, platform.machine())
    # Planted under every name a run could look for, complete marker and all, and left
    # writable by everyone (what a folder made by another user with umask 0 looks like).
    for name in ("trusted-publish", f"trusted-publish-{os.getuid()}"):
        venv = shared / name / f"venv-{key}"
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("#!/bin/sh\necho stolen\n")
        (venv / extras.MARKER).write_text("{}")
        for folder in (shared / name, venv):
            folder.chmod(0o777)

    def install(venv: Path, lock: Path, work: Path) -> tuple[str, list[str]]:
        # Stands in for uv/pip (tested in test_action.py): a venv with its own python.
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("#!/bin/sh\n")
        return "test", []

    monkeypatch.delenv("RUNNER_TEMP", raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setattr(bootstrap, "_install", install)
    assert bootstrap.setup() == 0
    python = Path((tmp_path / "output").read_text().strip().split("=", 1)[1])
    assert "stolen" not in python.read_text()
    assert "reused" not in capsys.readouterr().out
    assert bootstrap.is_private(python.parent.parent.parent)
