"""Small git repositories built in a test: `git init`, an `origin` remote, a pyproject.toml
and the CI files the test writes (the shape `trusted-publish doctor` reads)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Optional


def make_repo(
    root: Path,
    *,
    remote: Optional[str] = "https://github.com/octo-org/demo.git",
    project: Optional[str] = "tp-demo-package",
    workflows: Optional[dict[str, str]] = None,
    gitlab_ci: Optional[str] = None,
) -> Path:
    """A git repository at `root` with `workflows` (file name → text, dedented) under
    .github/workflows/, `gitlab_ci` as .gitlab-ci.yml, and `remote` as `origin`."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if remote is not None:
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", remote], check=True)
    if project is not None:
        (root / "pyproject.toml").write_text(f'[project]\nname = "{project}"\n', encoding="utf-8")
    for name, text in (workflows or {}).items():
        write(root / ".github" / "workflows" / name, text)
    if gitlab_ci is not None:
        write(root / ".gitlab-ci.yml", gitlab_ci)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
