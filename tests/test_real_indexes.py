"""Password uploads against real index servers (pypiserver, devpi-server) on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from support.pypiserver import PypiServer
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
    assert "Done: 2 files uploaded." in out.out
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


def test_rerun_with_skip_existing_skips_what_is_there(
    index: Index, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = next(dist_dir.glob("*.whl"))
    sdist = next(dist_dir.glob("*.tar.gz"))
    # A first run that only got the wheel out, as a cancelled job would leave it.
    sdist.rename(dist_dir.parent / sdist.name)
    assert publish(index, dist_dir) == 0
    sdist_back = dist_dir / sdist.name
    (dist_dir.parent / sdist.name).rename(sdist_back)
    capsys.readouterr()
    assert publish(index, dist_dir, "--skip-existing") == 0
    out = capsys.readouterr().out
    assert sorted(index.files()) == sorted([wheel.name, sdist.name])
    assert "Done:" in out
    if isinstance(index, PypiServer):
        # pypiserver refuses the second copy with 409; devpi (like PyPI) accepts an
        # identical file again with 200, so there is nothing to skip there.
        assert f"Skipped {wheel.name}" in out


def test_a_changed_file_under_an_existing_name_is_not_replaced(
    pypiserver: Index, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(pypiserver, dist_dir) == 0
    capsys.readouterr()
    assert publish(pypiserver, dist_dir) == 5
    err = capsys.readouterr().err
    assert "already has a file named" in err
    assert "bump the version" in err
