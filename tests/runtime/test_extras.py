"""Optional extras are installed from their lock into the action's own venv, and nowhere else.

Each test makes a real venv (without pip: made in a fraction of a second, as the setup step
makes it), a tiny lock of a wheel built here, and runs `extras.ensure` with the venv's own
Python, as the publish step does: the installer and the imports are real, only the index is
a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.builders import make_wheel, metadata_text
from trusted_publish.runtime import extras

SRC = Path(extras.__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent  # uv is pinned in dev.txt
PROBE = "tp_ondemand_probe"

#: Runs `ensure` for the probe's extra in the Python running it; prints what it returned.
ENSURE = f"""
import json, sys
from dataclasses import asdict
from pathlib import Path
sys.path.insert(0, {str(SRC)!r})
from trusted_publish.runtime import extras
from trusted_publish.console import Console
extra = extras.Extra(
    name="probe", lock=Path(sys.argv[1]), modules=({PROBE!r},), packages="tp-ondemand-probe",
    purpose="probe", install_elsewhere="pip install tp-ondemand-probe",
)
print(json.dumps(asdict(extras.ensure(extra, Console(env={{}}, out=sys.stdout)))))
"""


@dataclass
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run(self, code: str, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [str(self.python), "-I", "-c", code, *args],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    def ensure(
        self, lock: Path, env: dict[str, str] | None = None
    ) -> tuple[dict[str, object], str]:
        """What `ensure` returned in this venv, and what it printed before."""
        *printed, last = self.run(ENSURE, str(lock), env=env).splitlines()
        return json.loads(last), "\n".join(printed)

    def has_probe(self) -> bool:
        code = f"import importlib.util; print(importlib.util.find_spec({PROBE!r}) is not None)"
        return self.run(code).strip() == "True"


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    path = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-I", "-m", "venv", "--without-pip", str(path)], check=True, timeout=60
    )
    return Venv(path)


@pytest.fixture
def probe_lock(tmp_path: Path) -> Path:
    """A lock as `make lock` writes them, of one wheel in a local folder (the only index)."""
    wheels = tmp_path / "wheels"
    wheel = make_wheel(
        wheels, PROBE, "1.0", metadata=metadata_text("tp-ondemand-probe", "1.0"),
        extra_files={f"{PROBE}/__init__.py": b"ANSWER = 42\n"},
    )  # fmt: skip
    lock = tmp_path / "requirements" / "probe.txt"
    lock.parent.mkdir()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock.write_text(
        f"--no-index\n--find-links {wheels}\n"
        f"tp-ondemand-probe==1.0 \\\n    --hash=sha256:{digest}\n"
    )
    return lock


def installer_env(tmp_path: Path, *, with_uv: bool) -> dict[str, str]:
    """A PATH with uv on it only when asked for; this machine's pip.conf left out."""
    bin_dir = tmp_path / "path-bin"
    bin_dir.mkdir(exist_ok=True)
    if with_uv and not (bin_dir / "uv").exists():
        (bin_dir / "uv").symlink_to(TOOLS / "uv")
    return {
        "PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PIP_CONFIG_FILE": os.devnull,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }


# The install commands the setup step records in the marker: uv's, or the runner's pip with
# `--python` (the venv has no pip of its own).
INSTALLERS = {
    "uv": lambda python: [str(TOOLS / "uv"), "pip", "install", "--no-config", "--python", python],
    "runner pip": lambda python: [sys.executable, "-I", "-m", "pip", "--python", python, "install"],
}


@pytest.mark.parametrize("installer", INSTALLERS)
def test_in_the_actions_venv_a_missing_extra_is_installed_from_its_lock_and_imports(
    installer: str, venv: Venv, probe_lock: Path, tmp_path: Path
) -> None:
    extras.mark_private_venv(venv.path, INSTALLERS[installer](str(venv.python)))
    assert not venv.has_probe()

    outcome, printed = venv.ensure(probe_lock, installer_env(tmp_path, with_uv=False))
    assert outcome == {"ready": True, "attempted": True, "why_not": None}
    assert printed == "Installing tp-ondemand-probe (hash-locked) to probe."
    assert venv.run(f"import {PROBE}; print({PROBE}.ANSWER)").strip() == "42"

    # Once there, it is imported, not installed again.
    again, printed = venv.ensure(probe_lock, installer_env(tmp_path, with_uv=False))
    assert again == {"ready": True, "attempted": False, "why_not": None}
    assert printed == ""


def test_a_file_that_does_not_match_its_locked_hash_is_not_installed(
    venv: Venv, probe_lock: Path, tmp_path: Path
) -> None:
    extras.mark_private_venv(venv.path, INSTALLERS["uv"](str(venv.python)))
    text = probe_lock.read_text()
    probe_lock.write_text(text[: text.index("sha256:")] + "sha256:" + "0" * 64 + "\n")

    outcome, _ = venv.ensure(probe_lock, installer_env(tmp_path, with_uv=False))
    assert outcome["ready"] is False
    assert outcome["attempted"] is True
    assert "exit code" in str(outcome["why_not"])
    assert not venv.has_probe()


def test_in_someone_elses_venv_nothing_is_installed_and_ensure_says_why(
    venv: Venv, probe_lock: Path, tmp_path: Path
) -> None:
    # No marker: a venv trusted-publish did not make. uv is at hand, and still not used.
    outcome, printed = venv.ensure(probe_lock, installer_env(tmp_path, with_uv=True))
    assert outcome == {
        "ready": False,
        "attempted": False,
        "why_not": "this is not trusted-publish's own environment, and we do not install "
        "into yours",
    }
    assert printed == ""
    assert not venv.has_probe()


#: What a job's environment may hold that an installer must never see.
PLANTED_SECRETS = {
    "TRUSTED_PUBLISH_PASSWORD": "pypi-secret-password",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-bearer",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://runner.invalid/token?x=1",
    "ACTIONS_RUNTIME_TOKEN": "runtime-token",
    # GitLab's ID tokens, named as `id_tokens:` declares them.
    "PYPI_ID_TOKEN": "gitlab-id-token-for-pypi",
    "SIGSTORE_ID_TOKEN": "gitlab-id-token-for-sigstore",
    "TESTPYPI_ID_TOKEN": "gitlab-id-token-for-testpypi",
    "CI_JOB_JWT_V2": "gitlab-job-jwt",
    "CI_JOB_TOKEN": "gitlab-job-token",
    "GITHUB_TOKEN": "ghs_github-token",
    "GCE_METADATA_HOST": "127.0.0.1:9/metadata-secret",
    "MY_DEPLOY_KEY": "whatever-the-next-ci-invents",
}


def test_the_installer_sees_only_what_installing_needs(venv: Venv, tmp_path: Path) -> None:
    # The "installer" recorded in the marker is a real process that writes down its environment.
    seen = tmp_path / "env.json"
    code = f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))"
    extras.mark_private_venv(venv.path, [sys.executable, "-c", code])
    lock = tmp_path / "some.txt"
    lock.write_text("")
    needed = {
        "HTTPS_PROXY": "http://proxy.corp:3128",
        "no_proxy": "localhost",
        "SSL_CERT_FILE": "/etc/corp-ca.pem",
        "PIP_INDEX_URL": "https://mirror.corp/simple/",
        "UV_INDEX_URL": "https://mirror.corp/simple/",
    }
    env = {
        **installer_env(tmp_path, with_uv=False),
        **PLANTED_SECRETS,
        **needed,
        "TRUSTED_PUBLISH_PACKAGES_DIR": "dist",
    }

    outcome, _ = venv.ensure(lock, env)
    # The stand-in installs nothing, so the probe still does not import afterwards.
    assert outcome["attempted"] is True
    seen_env = json.loads(seen.read_text())
    for name, value in PLANTED_SECRETS.items():
        assert name not in seen_env
        assert value not in seen_env.values()
    assert "TRUSTED_PUBLISH_PACKAGES_DIR" not in seen_env  # not needed: not passed
    for name, value in needed.items():
        assert seen_env[name] == value
    assert seen_env["PATH"] == env["PATH"]
    assert seen_env["PIP_NO_INPUT"] == "1"
