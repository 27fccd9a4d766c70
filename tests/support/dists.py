"""Build example projects into a wheel and an sdist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.procs import child_env
from trusted_publish.dists.discover import Distribution, check_file
from trusted_publish.dists.preflight import Rules
from trusted_publish.errors import DistributionError
from trusted_publish.index.target import PYPI_UPLOAD_URL, Index

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PACKAGE_DIR = REPO_ROOT / "examples" / "demo-package"

# Left-overs of a developer's local build must not end up in the copy we build from.
_IGNORE = shutil.ignore_patterns("dist", "build", "*.egg-info", "__pycache__", "*.pyc")


class BuildError(RuntimeError):
    """``python -m build`` failed or produced something other than one wheel + one sdist."""


def build_dists(project_dir: Path, workdir: Path, *, timeout: float = 300.0) -> Path:
    """Build ``project_dir`` with ``python -m build --no-isolation``; return the dist folder.

    The project is copied into ``workdir`` first: backends such as setuptools write
    ``build/`` and ``*.egg-info`` next to the sources, and parallel test workers must not
    race on the shared checkout. ``--no-isolation`` keeps the build offline, so the backend
    must be installed in this interpreter (see requirements/dev.txt).
    """
    source = workdir / "project"
    outdir = workdir / "dist"
    shutil.copytree(project_dir, source, ignore=_IGNORE)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(
            f"building {project_dir} failed with code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    names = sorted(path.name for path in outdir.iterdir())
    wheels = [name for name in names if name.endswith(".whl")]
    sdists = [name for name in names if name.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1 or len(names) != 2:
        raise BuildError(f"expected exactly one wheel and one sdist in {outdir}, got {names}")
    return outdir


def dist_files(dist_dir: Path) -> list[Path]:
    """The distributions in ``dist_dir``, sorted by name (wheel and sdist order is stable)."""
    return sorted(
        path for path in dist_dir.iterdir() if path.name.endswith((".whl", ".tar.gz", ".zip"))
    )


def copy_dists(source: Path, dest: Path) -> Path:
    """Copy the distributions of ``source`` into a new folder ``dest`` and return it."""
    dest.mkdir(parents=True)
    for path in dist_files(source):
        shutil.copy2(path, dest / path.name)
    return dest


def read_distribution(
    path: Path, *, verify_metadata: bool = True, repository_url: str = PYPI_UPLOAD_URL
) -> Distribution:
    """One file read and checked as the publish step reads it; the problems if it can't be."""
    rules = Rules.for_index(Index.from_urls(repository_url), verify_metadata=verify_metadata)
    result = check_file(path, rules=rules)
    if result.distribution is None:
        raise DistributionError(f"{path.name} can't be uploaded", details=result.problems)
    return result.distribution
