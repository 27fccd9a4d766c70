"""`pypi-like`: whether an index answers as PyPI does, decided once in the Index value."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.builders import make_wheel
from support.runs import publish
from trusted_publish.cli import main
from trusted_publish.credentials.attestations import decide
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Sandbox

LOOPBACK_INDEX = "http://127.0.0.1:9/legacy/"


@pytest.mark.parametrize(
    ("url", "setting", "expected"),
    [
        ("https://upload.pypi.org/legacy/", "auto", True),
        ("https://test.pypi.org/legacy/", "auto", True),
        (LOOPBACK_INDEX, "auto", False),
        (LOOPBACK_INDEX, "true", True),
        ("https://upload.pypi.org/legacy/", "false", False),
    ],
)
def test_pypi_like_is_decided_once_from_the_input_and_the_host(
    url: str, setting: str, expected: bool
) -> None:
    assert Index.from_urls(url, pypi_like=setting).pypi_like is expected  # type: ignore[arg-type]


def test_a_pypi_like_index_gets_pypis_json_api_and_pages_but_not_automatic_attestations() -> None:
    index = Index.from_urls(LOOPBACK_INDEX, pypi_like="true")
    assert index.pypi_deployment is None
    assert index.release_url("Tp_Demo", "1.0") == "http://127.0.0.1:9/project/tp-demo/1.0/"
    assert not decide(None, trusted_publishing=True, index=index).make
    pypi = Index.from_urls()
    assert decide(None, trusted_publishing=True, index=pypi).make


def bare_linux_wheel(folder: Path) -> Path:
    return make_wheel(folder, "tp_plat", tag="cp312-cp312-linux_x86_64")


def test_pypi_like_true_refuses_a_bare_linux_wheel_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_linux_wheel(tmp_path / "dist")
    with Sandbox() as sb:
        run = publish(sb, tmp_path / "dist", capsys, "--pypi-like", "true")
        assert run.code == 3, run.text
        assert "'linux_x86_64'" in run.text
        assert "auditwheel" in run.text
        assert (sb.upload_attempts, sb.mint_requests, sb.issued_jwts) == ([], [], [])


def test_check_takes_pypi_like_too_and_never_sends_the_user_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_linux_wheel(tmp_path / "dist")
    where = ["--repository-url", LOOPBACK_INDEX]
    assert main(["check", str(tmp_path / "dist"), *where]) == 0
    capsys.readouterr()
    assert main(["check", str(tmp_path / "dist"), *where, "--pypi-like", "true"]) == 3
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "'linux_x86_64'" in out
    assert "trusted-publish check" not in out
