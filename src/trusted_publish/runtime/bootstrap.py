"""The action's glue: set up a private venv (`setup`, the default), then run the CLI in it (`run`).

action.yml runs `python -I _bootstrap.py` with whatever Python >= 3.9 the runner has, before
any dependency exists, so this file uses the standard library only (and `ondemand`, which
does too, for the names of the locks and of the venv's marker). It makes a venv under
`$RUNNER_TEMP`, keyed by the lock files' digest and the Python that made it: a second use of
the action in the same job reuses it, a new lock (a new action version) or another Python
gets a new one. Nothing is installed into the user's Python or put on their PATH.

The venv is private: the next step runs its `python` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN` in
its environment. Without `$RUNNER_TEMP` (a local run) its folder is in the shared temp
folder, where another local user could have made it first and planted a `python` in it. So
a folder is reused only when `lstat` says it is a real directory (not a symlink) of the user
running us that nobody else may write to; otherwise a fresh one is made with mode 0700.

The publish step then runs `<venv python> -I -X utf8 _bootstrap.py run`. Isolated mode (-I)
keeps the user's working directory and PYTHONPATH off `sys.path`: a repository with its own
`pydantic/` or `requests/` at the top (a flat layout) must not replace the locked packages.
The only path added is this checkout's `src/`, so the code that runs is the action's own.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

#: Part of the venv key: bump it when the way a venv is made changes, so old ones are not reused.
_LAYOUT = "1"
#: The oldest pip with `--python`, which installs into a venv made without pip (seconds faster).
_PIP_WITH_PYTHON_OPTION = (22, 3)

#: How every Python here is run: isolated from the user's PYTHONPATH, working directory and
#: user site-packages (-I, which also drops PYTHONUTF8, hence -X utf8 for Windows consoles).
_ISOLATED = ("-I", "-X", "utf8")

_SRC = Path(__file__).resolve().parents[2]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _escape(text: str) -> str:
    # The runner's escaping for a workflow command's message (actions/toolkit command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _fail(message: str) -> int:
    print(f"::error title=trusted-publish: setup::{_escape(message)}", flush=True)
    return 1


def venv_key(lock: bytes, python: str, version: str, machine: str) -> str:
    """What makes two venvs interchangeable: the same lock, made by the same Python."""
    material = b"\0".join(s.encode() for s in (_LAYOUT, python, version, machine)) + b"\0" + lock
    return hashlib.sha256(material).hexdigest()[:16]


def _run(cmd: list[str], cwd: Path) -> None:
    # The installers' own output is kept: when a hash does not match, it says which file.
    # cwd is our own folder, never the user's workspace, so no project file there (a
    # pyproject.toml with [tool.uv], a pip.conf beside it) can steer the install. The job's
    # environment holds the runner's token-request bearer (every step of a job with
    # `id-token: write` has it): the installer gets only what installing needs.
    from trusted_publish.runtime import extras

    subprocess.run(cmd, check=True, cwd=cwd, env=extras.installer_env(os.environ))


def _pip_version() -> Optional[tuple[int, ...]]:
    """The version of the pip that `python -m pip` would run here, or None without one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("pip")
    except PackageNotFoundError:
        return None
    parts: list[int] = []
    for piece in text.split(".")[:2]:
        if not (piece.isascii() and piece.isdigit()):  # "²".isdigit() is True; int() refuses it
            break
        parts.append(int(piece))
    return tuple(parts)


def _install(venv: Path, lock: Path, work: Path) -> tuple[str, list[str]]:
    """Create `venv` and install the hash-locked `lock` into it.

    Returns the installer's name and the command prefix that installs into this venv.
    """
    # Every file must match a hash in the lock, and only wheels are taken: no sdist's build
    # script ever runs on the user's runner, and nothing outside the lock can be resolved in.
    locked = ["--require-hashes", "--only-binary", ":all:", "-r", str(lock)]
    python = str(_venv_python(venv))
    uv = shutil.which("uv")
    if uv:
        # uv is several times faster than pip at both steps; it is used when the runner already
        # has it (setup-uv, or a self-hosted image), never downloaded by us. --no-config: the
        # user's uv.toml must not retarget our install (UV_* variables still apply, as for pip).
        _run([uv, "venv", "--no-config", "--quiet", "--python", sys.executable, str(venv)], work)
        install = [uv, "pip", "install", "--no-config", "--python", python]
        _run([*install, "--quiet", *locked], work)
        return "uv", install
    pip = ["--quiet", "--disable-pip-version-check", "--no-input", *locked]
    pip_version = _pip_version()
    if pip_version is not None and pip_version >= _PIP_WITH_PYTHON_OPTION:
        # A venv without pip is made in a fraction of a second (seeding pip takes seconds), and
        # the runner's pip installs into it. This also works where the system Python has no
        # ensurepip (Debian's python3 without python3-venv).
        _run([sys.executable, *_ISOLATED, "-m", "venv", "--without-pip", str(venv)], work)
        install = [sys.executable, *_ISOLATED, "-m", "pip", "--python", python, "install"]
        _run([*install, *pip], work)
        return "pip", install
    _run([sys.executable, *_ISOLATED, "-m", "venv", str(venv)], work)
    install = [python, *_ISOLATED, "-m", "pip", "install"]
    _run([*install, *pip], work)
    return "pip (seeded)", install


def is_private(path: Path) -> bool:
    """`path` is a directory (not a symlink to one) of ours that no other user may write to."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if os.name == "nt":
        # No POSIX owner or mode bits to check; the temp folder is the user's own there.
        return True
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def private_folder(parent: Path, name: str) -> tuple[Path, bool]:
    """A folder for our venvs in `parent`: `parent/name` when it is ours and private (made
    now with mode 0700 when missing), else a fresh private one beside it.

    Returns the folder and whether it is the usual one (False: `parent/name` was not ours
    to trust, so nothing in it is reused).
    """
    parent.mkdir(parents=True, exist_ok=True)
    usual = parent / name
    try:
        usual.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent)), False
    if is_private(usual):
        return usual, True
    # Someone else's folder, a symlink or a world-writable one: never use what is in it.
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent)), False


def _write_output(name: str, value: str) -> None:
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as fh:
            fh.write(f"{name}={value}\n")
    else:
        print(f"{name}={value}")


def _remove(path: Path) -> None:
    # A symlink is removed itself, never what it points to.
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def setup() -> int:
    started = time.monotonic()
    # By name, not path: `main` put this checkout's src/ first on sys.path.
    from trusted_publish.runtime import extras

    lock = extras.RUNTIME_LOCK
    if not lock.is_file():
        return _fail(f"The action's lock file {lock} is missing: the action checkout is broken.")
    runner_temp = os.environ.get("RUNNER_TEMP")
    parent = Path(runner_temp or tempfile.gettempdir())
    name = "trusted-publish"
    if not runner_temp and hasattr(os, "getuid"):
        # The shared temp folder: each user of the machine gets a folder of their own.
        name += f"-{os.getuid()}"
    try:
        base, usual = private_folder(parent, name)
    except OSError as exc:
        return _fail(f"Could not make a private folder for the action's venv in {parent}: {exc}")
    if not usual:
        print(
            f"trusted-publish setup: {parent / name} is not a private folder of this user "
            "(another user's, a symlink, or writable by others): nothing in it is used; the "
            f"venv goes to {base} instead.",
            flush=True,
        )
    # Every lock whose packages may end up in the venv: the runtime lock, installed here, and
    # the extras' locks, installed on demand by the publish step (never here: a run that needs
    # none must not wait for them). A change to any of them means a new venv, so packages
    # installed on demand from an old lock are never reused.
    locks = b"".join(path.read_bytes() for path in extras.LOCKS.values() if path.is_file())
    key = venv_key(locks, sys.executable, sys.version, platform.machine())
    venv = base / f"venv-{key}"
    python = _venv_python(venv)
    if is_private(venv) and (venv / extras.MARKER).is_file() and python.is_file():
        how = "reused from an earlier step"
    else:
        # A half-made venv (a cancelled run, a full disk) is not trusted: start it over.
        _remove(venv)
        try:
            installer, install = _install(venv, lock, base)
        except (subprocess.CalledProcessError, OSError) as exc:
            _remove(venv)
            return _fail(
                f"Installing the action's dependencies failed ({exc}). The installer's own "
                "message is in the log above: a hash mismatch means the package index served "
                "files other than the ones this action version was locked to."
            )
        how = f"new, installed with {installer}"
        # Last: a venv without the marker is not trusted, and made again.
        extras.mark_private_venv(venv, install)
    # Forward slashes: bash on Windows runners runs `C:/…/python.exe` as it is.
    _write_output("python", python.as_posix())
    print(
        f"trusted-publish setup: {time.monotonic() - started:.1f} s "
        f"(venv {how}: {venv}; Python {platform.python_version()} at {sys.executable})",
        flush=True,
    )
    return 0


def run(argv: list[str]) -> int:
    """Run the CLI from this checkout (inside the venv's Python)."""
    from trusted_publish.cli import main as cli_main

    return cli_main(argv)


def main(argv: list[str]) -> int:
    # Isolated mode (-I) leaves the script's own folder off sys.path; this checkout's src/
    # goes first, so the package that runs is the action's own.
    sys.path.insert(0, str(_SRC))
    if argv[:1] == ["run"]:
        return run(argv[1:])
    if argv in ([], ["setup"]):
        return setup()
    print(f"usage: {Path(__file__).name} [setup | run [trusted-publish arguments]]")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
