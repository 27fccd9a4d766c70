"""Ordinary trouble ends in a clear error with the right exit code, never in a traceback.

Each case used to end in exit 70 (our bug) or in words that send the user the wrong way.
"""

from __future__ import annotations

import os
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.builders import make_release, make_wheel
from support.hostile import Behaviour, HostileIndex
from trusted_publish.cli import main

EXIT_DISTRIBUTIONS, EXIT_INPUTS, EXIT_UPLOAD = 3, 2, 5


def check(folder: Path | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", str(folder)], env={})
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_dangling_symlink_named_like_a_wheel_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_release(tmp_path)
    (tmp_path / "ghost-1.0-py3-none-any.whl").symlink_to(tmp_path / "nowhere.whl")
    code, out = check(tmp_path, capsys)
    assert code == EXIT_DISTRIBUTIONS
    assert "ghost-1.0-py3-none-any.whl: a symbolic link to a file that does not exist" in out


def test_a_symlink_loop_named_like_a_wheel_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_release(tmp_path)
    loop = tmp_path / "loop-1.0-py3-none-any.whl"
    loop.symlink_to(loop)
    code, out = check(tmp_path, capsys)
    assert code == EXIT_DISTRIBUTIONS
    assert "loop-1.0-py3-none-any.whl: a symbolic link loop, not a file" in out


def test_a_packages_dir_of_5000_characters_is_a_clear_error_not_a_bug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = check("d" * 5000, capsys)
    assert code == EXIT_DISTRIBUTIONS
    assert "can't be used: File name too long" in out
    assert "(5000 characters)" in out
    assert "Internal error" not in out


def test_an_unreadable_sub_folder_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads everything, so the file system's refusal is played by os.scandir.
    make_release(tmp_path / "dist")
    make_wheel(tmp_path / "dist" / "artifact-2", tag="cp312-cp312-manylinux_2_17_x86_64")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> Iterator[os.DirEntry[str]]:
        if str(path).endswith("artifact-2"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out = check(tmp_path / "dist", capsys)
    assert code == EXIT_DISTRIBUTIONS
    assert "artifact-2/: this folder can't be read (Permission denied)" in out
    assert "left out of the release" in out


def test_an_unreadable_wheel_is_permission_denied_not_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads everything, so the file system's refusal is played by zipfile.
    wheel = make_wheel(tmp_path)
    real_zipfile = zipfile.ZipFile

    def refusing(file: object, *args: object, **kwargs: object) -> zipfile.ZipFile:
        if str(file).endswith(wheel.name):
            raise PermissionError(13, "Permission denied", str(file))
        return real_zipfile(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile, "ZipFile", refusing)
    code, out = check(tmp_path, capsys)
    assert code == EXIT_DISTRIBUTIONS
    assert f"permission denied: this job's user can't read {wheel.name}" in out
    assert "truncated or corrupt" not in out


def test_a_file_deleted_mid_run_vanished_it_is_not_a_network_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = [
        make_wheel(tmp_path / "dist", tag=f"cp3{m}-cp3{m}-manylinux_2_17_x86_64") for m in (11, 12)
    ]
    with HostileIndex() as hostile:
        # While the token exchange waits, another step cleans the folder.
        hostile.behave("mint", Behaviour(mode="slow", seconds=0.5))

        def clean_up() -> None:
            while not hostile.requests_to("mint"):
                time.sleep(0.01)
            wheels[1].unlink()

        cleaner = threading.Thread(target=clean_up)
        cleaner.start()
        code = main(
            [], env={**hostile.env(), "TRUSTED_PUBLISH_PACKAGES_DIR": str(tmp_path / "dist")}
        )
        cleaner.join()
        out = capsys.readouterr()
    text = out.out + out.err
    assert code == EXIT_UPLOAD
    assert f"{wheels[1].name} vanished after it was checked (No such file or directory)" in text
    assert "retry" not in text
    assert hostile.landed == [wheels[0].name]


@pytest.mark.parametrize(
    ("value", "words"),
    [("nan", "'nan' is not a number"), ("inf", "finite number of seconds")],
)
def test_retry_timeout_must_be_a_real_number(
    value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([], env={"TRUSTED_PUBLISH_RETRY_TIMEOUT": value})
    out = capsys.readouterr().err
    assert code == EXIT_INPUTS
    assert "`retry-timeout` (env TRUSTED_PUBLISH_RETRY_TIMEOUT): must be a" in out
    assert words in out
