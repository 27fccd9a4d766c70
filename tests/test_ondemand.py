"""On-demand installs run the installer without our credentials in its environment."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from trusted_publish import ondemand


def test_the_installer_never_sees_the_password_or_the_token_request_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "env.json"
    lock = tmp_path / "some.txt"
    lock.write_text("")

    def recording_installer(_lock: Path) -> Sequence[str]:
        # A real child process in place of pip: it writes down the environment it was given.
        code = f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(ondemand, "install_command", recording_installer)
    monkeypatch.setenv("TRUSTED_PUBLISH_PASSWORD", "pypi-secret-password")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-bearer")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://runner.invalid/token?x=1")
    monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", "runtime-token")
    monkeypatch.setenv("TRUSTED_PUBLISH_PACKAGES_DIR", "dist")

    assert ondemand.install(lock) is None
    env = json.loads(seen.read_text())
    assert "pypi-secret-password" not in env.values()
    assert not {k for k in env if k.startswith("ACTIONS_")}
    assert env["TRUSTED_PUBLISH_PACKAGES_DIR"] == "dist"  # everything else passes through
    assert env["PIP_NO_INPUT"] == "1"
