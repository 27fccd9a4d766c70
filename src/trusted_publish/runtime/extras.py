"""The action's locks, and the one way to install an optional locked extra on demand.

The action's setup step installs only the runtime lock (requests, pydantic, packaging), so
that every run sets up in seconds. Heavier packages that only some runs need (readme-renderer
for an rST README, sigstore and pypi-attestations for PEP 740 attestations) each have a lock
of their own beside it, and are installed by the run that needs them (`ensure`), the way the
setup step installs: every file must match a hash in the lock, wheels only, nothing resolved
beyond it.

They are installed only into the private venv the setup step made, recognised by the marker
it writes there (`mark_private_venv`). Anywhere else (a user's venv, a system Python) we
never install into someone else's Python: `ensure` says why not, and the caller says how to
install the packages instead.

Standard library only: the setup step (_bootstrap.py) imports this module with the runner's
bare Python, before any dependency is installed, to read the same lock names and marker.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

# Standard library only, like this module: the setup step can import it too.
from trusted_publish.console import shell_line

if TYPE_CHECKING:
    from trusted_publish.console import Console

#: The action's lock files, in the checkout's requirements/ folder.
REQUIREMENTS = Path(__file__).resolve().parents[3] / "requirements"
#: What the setup step installs into the private venv.
RUNTIME_LOCK = REQUIREMENTS / "runtime.txt"
#: Written into the private venv once the setup step's install finished; a venv without it
#: is not trusted (and not ours to install into).
MARKER = ".trusted-publish-complete"
INSTALL_TIMEOUT = 300.0

#: The only variables the installer's process gets (an allow-list: a CI's ID tokens, the
#: runner's token-request bearer, the password, and whatever the next CI invents stay with
#: us). What an install of hash-locked wheels needs: where programs and the user's folders
#: are; the network's proxies and CA certificates (a corporate runner has no other way out);
#: pip's and uv's index and caches. The index may be a mirror behind a firewall: every file
#: must match a hash in our lock (--require-hashes, --no-deps), so where it comes from can't
#: change what is installed. pip's and uv's other settings are not passed: none is needed to
#: install a lock, and some would weaken it (PIP_TRUSTED_HOST turns TLS verification off).
INSTALLER_VARIABLES = frozenset(
    {
        # Programs, the user's folders, temporary files, the text encoding.
        "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
        # Windows: its own folders (pip's and uv's caches live under LOCALAPPDATA).
        "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "TEMP", "TMP",
        "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA",
        # Proxies, as curl, pip and uv read them: both spellings.
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        # Certificates of a network that inspects TLS.
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "UV_NATIVE_TLS",
        # Where the wheels come from, and where pip and uv keep them.
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE", "PIP_CACHE_DIR",
        "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_CACHE_DIR",
    }
)  # fmt: skip


def installer_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment an installer runs with: `INSTALLER_VARIABLES` from `environ` (any
    case on Windows, where names are case-insensitive), and no prompts or version talk."""
    windows = os.name == "nt"

    def fold(name: str) -> str:
        return name.upper() if windows else name

    allowed = {fold(name) for name in INSTALLER_VARIABLES}
    env = {name: value for name, value in environ.items() if fold(name) in allowed}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    return env


@dataclass(frozen=True)
class Extra:
    """Optional packages a run installs from their own lock when it needs them."""

    name: str
    lock: Path
    modules: tuple[str, ...]
    """What must import for the extra to be there."""
    packages: str
    """The packages, as messages name them."""
    purpose: str
    """What a run installs them for, completing "Installing <packages> (hash-locked) to …"."""
    install_elsewhere: str
    """The command that installs them into an environment that is not the action's own
    (quoted for a shell: it is shown to be copied)."""


README = Extra(
    name="readme",
    lock=REQUIREMENTS / "readme.txt",
    modules=("readme_renderer.rst",),
    packages="readme-renderer",
    purpose="check the reStructuredText README as PyPI renders it",
    install_elsewhere=shell_line("pip", "install", "readme-renderer"),
)
ATTESTATIONS = Extra(
    name="attestations",
    lock=REQUIREMENTS / "attestations.txt",
    modules=("pypi_attestations", "sigstore.sign"),
    packages="sigstore and pypi-attestations",
    purpose="sign the files",
    install_elsewhere=shell_line("pip", "install", "trusted-publish[attestations]"),
)
EXTRAS = (README, ATTESTATIONS)
#: Every lock whose packages may end up in the private venv: the runtime lock, installed by
#: the setup step, and the extras' locks, installed on demand. The setup step keys the venv
#: by all of them, so packages installed on demand from an old lock are never reused.
LOCKS = {"runtime": RUNTIME_LOCK, **{extra.name: extra.lock for extra in EXTRAS}}


@dataclass(frozen=True)
class Outcome:
    """What `ensure` found or did."""

    ready: bool
    """The extra's modules import now."""
    attempted: bool = False
    """An install ran (when not ready: it failed)."""
    why_not: Optional[str] = None
    """When not ready: why nothing was installed, or why the install failed."""


def ensure(extra: Extra, console: Console) -> Outcome:
    """Make `extra` importable: import it if present, else install it into the private venv
    if this is that venv, else say why not (installing nothing)."""
    if _importable(extra):
        return Outcome(ready=True)
    reason = _why_not_install(extra.lock)
    if reason is not None:
        return Outcome(ready=False, why_not=reason)
    console.info(f"Installing {extra.packages} (hash-locked) to {extra.purpose}.")
    failure = _install(extra.lock)
    if failure is None and not _importable(extra):
        failure = f"the install finished, but {', '.join(extra.modules)} can't be imported"
    return Outcome(ready=failure is None, attempted=True, why_not=failure)


def mark_private_venv(venv: Path, install: Sequence[str]) -> None:
    """Mark `venv` as the action's own, once the setup step's install into it finished.

    The marker holds JSON: {"locks": [...], "install": [...]}, where "install" is the command
    prefix (ending in `install`) that installs into this venv, for `ensure` to use later (a
    venv made with the runner's pip has no pip of its own).
    """
    locks = [path.name for path in LOCKS.values() if path.is_file()]
    marker = {"locks": locks, "install": list(install)}
    (venv / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def _importable(extra: Extra) -> bool:
    try:
        for module in extra.modules:
            importlib.import_module(module)
    except ImportError:
        return False
    return True


def _why_not_install(lock: Path) -> Optional[str]:
    """None when `lock` may be installed into this interpreter, else why not."""
    if sys.prefix == sys.base_prefix:
        return "this Python is not a virtual environment, and we do not install into yours"
    if not (Path(sys.prefix) / MARKER).is_file():
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


def _install_command(lock: Path) -> list[str]:
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


def _install(lock: Path) -> Optional[str]:
    """Install `lock` into this venv: None when it worked, else why it failed."""
    # Our own folder as the working directory, never the user's workspace: a pyproject.toml
    # with [tool.uv] there must not steer the install (as in the setup step). Whichever
    # installer runs, it must not stop to ask or to talk about its own version.
    # Credentials stay with us: the installer gets only what installing needs.
    env = installer_env(os.environ)
    try:
        result = subprocess.run(
            _install_command(lock),
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


def _recorded_install() -> Optional[list[str]]:
    """The install command prefix the setup step recorded in the marker, if it did."""
    try:
        marker = json.loads((Path(sys.prefix) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    command = marker.get("install") if isinstance(marker, dict) else None
    if not isinstance(command, list) or not command or not all(isinstance(x, str) for x in command):
        return None
    # The venv may outlive the installer that made it (a uv on PATH only in an earlier step).
    if not Path(command[0]).is_file() and shutil.which(command[0]) is None:
        return None
    return list(command)
