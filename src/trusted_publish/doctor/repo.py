"""What doctor reads of the repository besides its CI files: the `origin` remote's owner and
name as spelled there, the project name in pyproject.toml, and whether the repository is
trusted-publish itself (where `uses: ./` is this action).

The remote is asked of git (`git remote get-url origin`, which applies `insteadOf`), and its
URL's user info is dropped before anything keeps it: a remote may carry a token.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from trusted_publish.doctor.forms import normalize

#: pyproject.toml and action.yml are read up to this size.
MAX_SMALL_FILE = 256 * 1024
GIT_TIMEOUT = 10.0

# scp-like ssh syntax: `git@github.com:owner/repo.git` (no scheme, a colon before the path).
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class Remote:
    host: str
    path: tuple[str, ...]
    """The path's segments as spelled in the URL, `.git` dropped: (owner, repo) on GitHub,
    (group, subgroup..., project) on GitLab."""


def parse_remote(url: str) -> Optional[Remote]:
    """A remote URL's host and path (https, ssh:// and scp-like forms); None if not one."""
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return None
        path = parts.path
    else:
        match = _SCP_LIKE.match(url)
        if match is None:
            return None
        host, path = match.group("host"), match.group("path")
    segments = [s for s in path.split("/") if s]
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    segments = [s for s in segments if s]
    if not host or len(segments) < 2:
        return None
    return Remote(host.lower(), tuple(segments))


def origin_url(root: Path) -> Optional[str]:
    """The `origin` remote's URL, or None (no git, not a repository, no such remote)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def _read_small(path: Path) -> Optional[str]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SMALL_FILE + 1)
    except OSError:
        return None
    if len(data) > MAX_SMALL_FILE:
        return None
    return data.decode("utf-8", errors="replace")


def project_name(root: Path) -> Optional[str]:
    """`[project] name` of pyproject.toml, or None when there is none to read."""
    text = _read_small(root / "pyproject.toml")
    if text is None:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def is_trusted_publish(root: Path, name: Optional[str]) -> bool:
    """This repository is trusted-publish itself: `uses: ./` is then this action."""
    if name is not None and normalize(name) == "trusted-publish":
        return True
    action = _read_small(root / "action.yml") or ""
    return bool(re.search(r"(?m)^name:\s*['\"]?trusted-publish\b", action))
