"""The action's runtime lock: requirements/runtime.in, hash-locked into requirements/runtime.txt.

`make lock` writes the lock with `uv pip compile --universal --generate-hashes`; the action
installs it with `--require-hashes --only-binary :all:`. These tests fail when pyproject.toml's
dependencies, runtime.in and the lock drift apart, which is what happens when someone edits one
and forgets `make lock`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev venv is 3.11 today
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_IN = ROOT / "requirements" / "runtime.in"
RUNTIME_TXT = ROOT / "requirements" / "runtime.txt"
FROM_RUNTIME_IN = "-r requirements/runtime.in"

# Every Python the action supports, on the runners GitHub offers.
PYTHONS = ["3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0", "3.14.0"]
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux",
                     "platform_machine": "x86_64", "os_name": "posix"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux",
                      "platform_machine": "aarch64", "os_name": "posix"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin",
                    "platform_machine": "arm64", "os_name": "posix"},
    "macos-x86_64": {"sys_platform": "darwin", "platform_system": "Darwin",
                     "platform_machine": "x86_64", "os_name": "posix"},
    "windows-amd64": {"sys_platform": "win32", "platform_system": "Windows",
                      "platform_machine": "AMD64", "os_name": "nt"},
}  # fmt: skip


@dataclass
class Locked:
    requirement: Requirement
    hashes: list[str]
    via: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str:
        [spec] = self.requirement.specifier
        return spec.version


def read_lock(path: Path = RUNTIME_TXT) -> list[Locked]:
    """The entries of a `uv pip compile --generate-hashes --annotation-style line` file."""
    entries: list[Locked] = []
    logical = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    for line in logical.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("# via "):
            entries[-1].via = [v.strip() for v in stripped[len("# via ") :].split(",")]
        elif not stripped.startswith("#"):
            spec, *hashes = stripped.split(" --hash=")
            entries.append(Locked(Requirement(spec.strip()), [h.strip() for h in hashes]))
    return entries


def read_requirements_in() -> list[Requirement]:
    lines = RUNTIME_IN.read_text(encoding="utf-8").splitlines()
    return [Requirement(x.split("#", 1)[0]) for x in lines if x.split("#", 1)[0].strip()]


def key(req: Requirement) -> tuple[str, frozenset[str], frozenset[str], str]:
    return (
        canonicalize_name(req.name),
        frozenset(req.extras),
        frozenset(str(s) for s in req.specifier),
        str(req.marker or ""),
    )


def environments() -> list[tuple[str, dict[str, str]]]:
    envs = []
    for full in PYTHONS:
        for platform_name, values in PLATFORMS.items():
            env = dict(default_environment())
            env.update(values)
            env.update(
                python_full_version=full,
                python_version=".".join(full.split(".")[:2]),
                implementation_name="cpython",
                platform_python_implementation="CPython",
            )
            envs.append((f"py{full}-{platform_name}", env))
    return envs


def test_runtime_in_lists_exactly_pyprojects_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {key(Requirement(d)) for d in project["dependencies"]}
    assert {key(r) for r in read_requirements_in()} == declared


#: Every lock the action installs from with --require-hashes: the runtime one at setup, the
#: other two on demand (readme.py, attest.py).
ALL_LOCKS = [RUNTIME_TXT, *(ROOT / "requirements" / f for f in ("readme.txt", "attestations.txt"))]


@pytest.mark.parametrize("lock", ALL_LOCKS, ids=[p.name for p in ALL_LOCKS])
def test_every_locked_file_is_pinned_and_hashed(lock: Path) -> None:
    entries = read_lock(lock)
    assert entries, f"{lock.name} is empty"
    for entry in entries:
        assert len(entry.requirement.specifier) == 1, entry.requirement
        assert str(entry.requirement.specifier).startswith("=="), entry.requirement
        assert entry.hashes, f"{entry.name} has no hash"
        for digest in entry.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (entry.name, digest)


@pytest.mark.parametrize(("label", "env"), environments(), ids=[e[0] for e in environments()])
def test_the_lock_satisfies_runtime_in_on_every_supported_python(
    label: str, env: dict[str, str]
) -> None:
    chosen: dict[str, Locked] = {}
    for entry in read_lock():
        if entry.requirement.marker is None or entry.requirement.marker.evaluate(env):
            # pip refuses two pins of one name for one environment; so do we.
            assert entry.name not in chosen, f"{label}: {entry.name} is pinned twice"
            chosen[entry.name] = entry
    for requirement in read_requirements_in():
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        name = canonicalize_name(requirement.name)
        assert name in chosen, f"{label}: the lock has no {name} (run `make lock`)"
        version = chosen[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{label}: the lock pins {name}=={version}, runtime.in wants {requirement} "
            "(run `make lock`)"
        )


def test_every_locked_package_is_needed_by_runtime_in() -> None:
    # uv's `# via` annotations say who asked for each package; a package whose only reason
    # was a requirement since removed from runtime.in is a stale lock.
    entries = read_lock()
    direct = {canonicalize_name(r.name) for r in read_requirements_in()}
    needed = {e.name for e in entries if FROM_RUNTIME_IN in e.via and e.name in direct}
    assert needed == direct, "runtime.in names a package the lock does not have: `make lock`"
    changed = True
    while changed:
        reached = {e.name for e in entries if {canonicalize_name(v) for v in e.via} & needed}
        changed = not reached <= needed
        needed |= reached
    stale = sorted({e.name for e in entries} - needed)
    assert stale == [], f"locked but not needed by runtime.in: {stale} (run `make lock`)"


def test_the_lock_parser_reads_markers_hashes_and_reasons(tmp_path: Path) -> None:
    sample = tmp_path / "lock.txt"
    sample.write_text(
        "alpha==1.0 ; python_full_version < '3.10' \\\n"
        "    --hash=sha256:" + "a" * 64 + " \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
        "    # via -r requirements/runtime.in\n"
        "beta==2.0 \\\n"
        "    --hash=sha256:" + "c" * 64 + "\n"
        "    # via alpha, gamma\n"
    )
    alpha, beta = read_lock(sample)
    assert (alpha.name, alpha.version, len(alpha.hashes)) == ("alpha", "1.0", 2)
    assert str(alpha.requirement.marker) == 'python_full_version < "3.10"'
    assert alpha.via == [FROM_RUNTIME_IN]
    assert (beta.name, beta.via) == ("beta", ["alpha", "gamma"])
