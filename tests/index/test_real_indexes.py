"""Password uploads against real index servers (pypiserver, devpi-server) on loopback."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import Protocol

import pytest

from trusted_publish.cli import main


class Index(Protocol):
    @property
    def upload_url(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> str: ...
    def files(self) -> list[str]: ...


def publish(index: Index, dist_dir: Path, *extra: str) -> int:
    argv = ["--repository-url", index.upload_url, "--packages-dir", str(dist_dir), *extra]
    env = {"TRUSTED_PUBLISH_USER": index.user, "TRUSTED_PUBLISH_PASSWORD": index.password}
    return main(argv, env=env)


@pytest.fixture(params=["pypiserver", "devpi"])
def index(request: pytest.FixtureRequest) -> Index:
    server: Index = request.getfixturevalue(request.param)
    return server


def test_both_files_land(index: Index, dist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish(index, dist_dir) == 0
    assert sorted(index.files()) == sorted(p.name for p in dist_dir.iterdir())
    out = capsys.readouterr()
    # Read back through the simple page after the upload (PEP 691 / PEP 503).
    assert "Done: 2 files uploaded, 2 verified on the index." in out.out
    assert index.password not in out.out + out.err


def test_a_wrong_password_is_refused_with_the_index_words(
    index: Index, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--repository-url", index.upload_url, "--packages-dir", str(dist_dir)]
    env = {"TRUSTED_PUBLISH_USER": index.user, "TRUSTED_PUBLISH_PASSWORD": "wrong-password"}
    assert main(argv, env=env) == 5
    err = capsys.readouterr().err
    assert "refused tp_demo_package-1.0.0-py3-none-any.whl: HTTP 401" in err or "HTTP 403" in err
    assert "wrong-password" not in err
    assert index.files() == []


def test_a_rerun_skips_by_hash_what_the_index_has_and_uploads_the_rest(
    index: Index, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = next(dist_dir.glob("*.whl"))
    sdist = next(dist_dir.glob("*.tar.gz"))
    # A first run that only got the wheel out, as a cancelled job would leave it.
    parked = dist_dir.parent / sdist.name
    sdist.rename(parked)
    assert publish(index, dist_dir) == 0
    parked.rename(sdist)
    capsys.readouterr()
    assert publish(index, dist_dir, "--skip-existing") == 0
    out = capsys.readouterr().out
    assert f"Skipping {wheel.name}: the index already has it, byte for byte." in out
    assert f"Uploading {wheel.name}" not in out
    assert "Done: 1 file uploaded, 1 already there, 2 verified on the index." in out
    assert sorted(index.files()) == sorted([wheel.name, sdist.name])


def test_a_changed_file_under_a_taken_name_stops_the_run_before_any_upload(
    index: Index, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = next(dist_dir.glob("*.whl"))
    sdist = next(dist_dir.glob("*.tar.gz"))
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(wheel, first)
    assert publish(index, first) == 0
    # Same name, other bytes: what a rebuild of the same version produces.
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("tp_demo_package/extra.py", "x = 1\n")
    theirs = hashlib.sha256((first / wheel.name).read_bytes()).hexdigest()
    ours = hashlib.sha256(wheel.read_bytes()).hexdigest()
    capsys.readouterr()
    assert publish(index, dist_dir, "--skip-existing") == 5
    err = capsys.readouterr().err
    assert "Nothing was uploaded" in err
    assert f"{wheel.name}: the index has sha256 {theirs}, this file has {ours}" in err
    assert "Bump the version" in err
    # The sdist was good, but the release must not grow half-broken.
    assert index.files() == [wheel.name]
    assert sdist.exists()
