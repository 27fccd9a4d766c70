"""The map stays true: docs/architecture.md names what exists, and names every module.

Every path the map writes in backticks (`index/listing.py`, `dists/pypi_rules/`,
`tests/support/runs.py`, `action.yml`) must exist: client paths are relative to
src/trusted_publish/, emulator ones start with `trusted_publish_sandbox/`, others are
relative to the repository (`src/`, `tests/`). Every module of the client and of the
emulator must be named there, a package's `__init__.py` by its folder.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MAP = ROOT / "docs" / "architecture.md"
PACKAGES = ("trusted_publish", "trusted_publish_sandbox")

#: Paths starting with these are relative to the repository, not to the client.
_REPO_FOLDERS = ("src/", "tests/", "docs/", "benchmarks/", "requirements/", "examples/")
#: A path-like word in backticks: folders and names, ending in a file suffix or a slash.
_PATH = re.compile(r"`([\w./-]+(?:\.(?:py|md|yml)|/))`")


def named_paths() -> set[str]:
    return set(_PATH.findall(MAP.read_text(encoding="utf-8")))


def resolve(path: str) -> Path:
    """Where `path`, as the map writes it, is on disk."""
    if path.startswith("trusted_publish_sandbox/"):
        where = SRC / path
    elif path.startswith(_REPO_FOLDERS) or not path.endswith((".py", "/")):
        where = ROOT / path  # `tests/support/runs.py`, `action.yml`
    else:
        where = SRC / "trusted_publish" / path  # `index/listing.py`, `dists/`
    return where


def map_names(path: Path) -> set[str]:
    """The ways the map may name a module file: as a client path, an emulator path or a
    folder (a package's `__init__.py`)."""
    relative = path.relative_to(SRC)
    package, inner = relative.parts[0], Path(*relative.parts[1:])
    if inner.name == "__init__.py":
        folder = inner.parent.as_posix()
        if folder == ".":  # the package itself: named by the map's section heading
            return {f"src/{package}/"}
        inner_name = f"{folder}/"
    else:
        inner_name = inner.as_posix()
    if package == "trusted_publish":
        return {inner_name, f"src/{package}/{inner_name}"}
    return {f"{package}/{inner_name}", f"src/{package}/{inner_name}"}


def test_every_path_the_map_names_exists() -> None:
    missing = [path for path in sorted(named_paths()) if not resolve(path).exists()]
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_map_names_every_module_of_the_client_and_the_emulator() -> None:
    named = named_paths()
    unnamed = []
    for package in PACKAGES:
        for path in sorted((SRC / package).rglob("*.py")):
            if not map_names(path) & named:
                unnamed.append(path.relative_to(SRC).as_posix())
    assert unnamed == [], f"docs/architecture.md does not name these modules: {unnamed}"
