"""Optional packages installed on demand from a hash-locked lock, into the action's own venv.

The action's setup step installs only the runtime lock (requests, pydantic, packaging), so
that every run sets up in seconds. Heavier packages that only some runs need (readme-renderer
for an rST README, sigstore and pypi-attestations for PEP 740 attestations) each have a lock
of their own beside it, and are installed by the run that needs them, the way the setup step
installs: every file must match a hash in the lock, wheels only, nothing resolved beyond it.

They are installed only into the private venv the setup step made, recognised by the marker
it writes there. Anywhere else (a user's venv, a system Python) we never install into
someone else's Python: the caller says how to install the packages instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: The action's lock files, beside its runtime lock.
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
#: Written by the action's setup step (_bootstrap.py) into the private venv it made: JSON with
#: the command prefix that installs into that venv (see _bootstrap._COMPLETE).
PRIVATE_VENV_MARKER = ".trusted-publish-complete"
INSTALL_TIMEOUT = 300.0

#: Never passed on to the installer's process.
_SECRET_VARIABLES = frozenset({"TRUSTED_PUBLISH_PASSWORD", "ACTIONS_RUNTIME_TOKEN"})


def why_not_install(lock: Path) -> str | None:
    """None when `lock` may be installed into this interpreter, else why not."""
    if sys.prefix == sys.base_prefix:
        return "this Python is not a virtual environment, and we do not install into yours"
    if not (Path(sys.prefix) / PRIVATE_VENV_MARKER).is_file():
        return "this is not trusted-publish's own environment, and we do not install into yours"
    if not lock.is_file():
        return f"its lock file {lock} is missing"
    if (
        _recorded_install() is None
        and importlib.util.find_spec("pip") is None
        and shutil.which("uv") is None
    ):
        return "neither pip nor uv is available"
    return None


def install_command(lock: Path) -> Sequence[str]:
    """The command that installs `lock` into this venv.

    The setup step records the installer that made the venv (uv, or the runner's pip with
    `--python`, since such a venv has no pip of its own): that one is used when recorded.
    Otherwise pip in this interpreter, or uv from PATH.
    """
    pinned = ["--require-hashes", "--only-binary", ":all:", "--no-deps", "-r", str(lock)]
    recorded = _recorded_install()
    if recorded is not None:
        return [*recorded, "--quiet", *pinned]
    if importlib.util.find_spec("pip") is not None:
        return [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", *pinned,
        ]  # fmt: skip
    uv = shutil.which("uv") or "uv"
    return [uv, "pip", "install", "--quiet", "--python", sys.executable, *pinned]


def install(lock: Path) -> str | None:
    """Install `lock` into this venv: None when it worked, else why it failed."""
    # Our own folder as the working directory, never the user's workspace: a pyproject.toml
    # with [tool.uv] there must not steer the install (as in the setup step). Whichever
    # installer runs, it must not stop to ask or to talk about its own version.
    # Credentials stay with us: an installer has no use for the password or the runner's
    # means of minting OIDC tokens.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _SECRET_VARIABLES and not k.startswith("ACTIONS_ID_TOKEN_")
    }
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    try:
        result = subprocess.run(
            install_command(lock),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
            cwd=lock.parent,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return f"exit code {result.returncode}: " + " / ".join(tail)
    importlib.invalidate_caches()
    return None


def _recorded_install() -> list[str] | None:
    """The install command prefix the setup step recorded in the marker, if it did."""
    try:
        marker = json.loads((Path(sys.prefix) / PRIVATE_VENV_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    command = marker.get("install") if isinstance(marker, dict) else None
    if not isinstance(command, list) or not command or not all(isinstance(x, str) for x in command):
        return None
    # The venv may outlive the installer that made it (a uv on PATH only in an earlier step).
    if not Path(command[0]).is_file() and shutil.which(command[0]) is None:
        return None
    return list(command)
