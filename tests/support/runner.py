"""How a test runs the action as a runner would: the runner's environment and Python."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]

TOOLS = Path(sys.executable).parent  # act, zizmor, check-jsonschema, uv: pinned in dev.txt


# The Python a runner would have on PATH: the base interpreter behind this venv, so that the
# action's venv is made from a plain Python exactly as on a GitHub runner.
RUNNER_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


needs_posix_runner_python = pytest.mark.skipif(
    not (RUNNER_PYTHON.is_file() and Path("/bin/bash").is_file()),
    reason="needs a POSIX Python layout (bin/pythonX.Y) and /bin/bash",
)


def runner_path(tmp_path: Path, *, with_uv: bool) -> str:
    """A PATH like a runner's: its Python as python3, uv only when asked for, /usr/bin."""
    bin_dir = tmp_path / ("bin-uv" if with_uv else "bin")
    bin_dir.mkdir(exist_ok=True)
    links = {"python3": RUNNER_PYTHON, "python": RUNNER_PYTHON}
    if with_uv:
        links["uv"] = TOOLS / "uv"
    for name, target in links.items():
        if not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(target)
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])


def runner_env(tmp_path: Path, *, with_uv: bool, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Outside settings of Python, pip and a surrounding CI must not steer the run.
        if not key.startswith(("PYTHON", "PIP_CONFIG", "VIRTUAL_ENV", "GITHUB_", "RUNNER_"))
        and not key.startswith("ACTIONS_")
    }
    env["PATH"] = runner_path(tmp_path, with_uv=with_uv)
    # A clean runner has no pip.conf; this machine's names extra indexes that print warnings.
    env["PIP_CONFIG_FILE"] = os.devnull
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


#: Every workflow file we ship: each is linted by zizmor and the workflow schema.
WORKFLOW_FILES = sorted(
    [
        *(_ROOT / "examples" / "workflows").glob("*.yml"),
        *(_ROOT / ".github" / "workflows").glob("*.yml"),
    ]
)
