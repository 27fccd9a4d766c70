"""The action's locks: each requirements/<name>.in, hash-locked into requirements/<name>.txt.

`make lock` writes each lock with `uv pip compile --universal --generate-hashes`; the action
installs the runtime lock at setup and the extras' locks on demand (`extras.LOCKS` names
them all), every one with `--require-hashes --only-binary :all:`. These tests fail when
pyproject.toml, a `.in` file and its lock drift apart, which is what happens when someone
edits one and forgets `make lock`; and when a lock is added that the action does not know.
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

from trusted_publish.runtime import extras

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev venv is 3.11 today
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
RUNTIME_TXT = REQUIREMENTS / "runtime.txt"
#: Every lock the action installs from, runtime first: (name, lock file).
LOCKS = list(extras.LOCKS.items())
EXTRA_LOCKS = [(name, lock) for name, lock in LOCKS if name != "runtime"]

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


def read_lock(path: Path) -> list[Locked]:
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


def read_requirements_in(lock: Path) -> list[Requirement]:
    """The requirements in the `.in` file `lock` was compiled from (`-c` and other options left
    out)."""
    lines = [x.split("#", 1)[0].strip() for x in lock.with_suffix(".in").read_text().splitlines()]
    return [Requirement(x) for x in lines if x and not x.startswith("-")]


def pins(lock: Path, env: dict[str, str], label: str) -> dict[str, str]:
    """Name → version of what `lock` installs in `env`."""
    chosen: dict[str, str] = {}
    for entry in read_lock(lock):
        if entry.requirement.marker is None or entry.requirement.marker.evaluate(env):
            # pip refuses two pins of one name for one environment; so do we.
            assert entry.name not in chosen, f"{label}: {entry.name} is pinned twice"
            chosen[entry.name] = entry.version
    return chosen


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


def test_the_action_knows_every_lock_and_make_lock_writes_each() -> None:
    # A lock the action does not know would be missing from the venv key: packages installed
    # from an old version of it would be reused.
    on_disk = {path.name for path in REQUIREMENTS.glob("*.txt")} - {"dev.txt"}
    assert {lock.name for _, lock in LOCKS} == on_disk
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for _, lock in LOCKS:
        assert lock.with_suffix(".in").is_file(), lock.name
        assert f"requirements/{lock.stem}.in" in makefile, f"`make lock` skips {lock.name}"
        assert f"-o requirements/{lock.name}" in makefile, f"`make lock` skips {lock.name}"


def test_runtime_in_lists_exactly_pyprojects_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {key(Requirement(d)) for d in project["dependencies"]}
    assert {key(r) for r in read_requirements_in(RUNTIME_TXT)} == declared


def test_the_attestations_extra_names_the_packages_of_the_attestations_lock() -> None:
    # What a user installs for attestations outside the action is what the action installs.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = {canonicalize_name(Requirement(r).name)
             for r in project["optional-dependencies"]["attestations"]}  # fmt: skip
    # cryptography is in the lock's input only to pick a release with wheels for every runner.
    wanted = {canonicalize_name(r.name) for r in read_requirements_in(extras.ATTESTATIONS.lock)}
    assert extra == wanted - {"cryptography"}


@pytest.mark.parametrize(("name", "lock"), LOCKS, ids=[name for name, _ in LOCKS])
def test_every_locked_file_is_pinned_and_hashed(name: str, lock: Path) -> None:
    entries = read_lock(lock)
    assert entries, f"{lock.name} is empty"
    for entry in entries:
        assert len(entry.requirement.specifier) == 1, entry.requirement
        assert str(entry.requirement.specifier).startswith("=="), entry.requirement
        assert entry.hashes, f"{entry.name} has no hash"
        for digest in entry.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (entry.name, digest)


@pytest.mark.parametrize(("name", "lock"), LOCKS, ids=[name for name, _ in LOCKS])
@pytest.mark.parametrize(("label", "env"), environments(), ids=[e[0] for e in environments()])
def test_on_every_supported_python_each_lock_satisfies_its_input(
    name: str, lock: Path, label: str, env: dict[str, str]
) -> None:
    chosen = pins(lock, env, label)
    for requirement in read_requirements_in(lock):
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        wanted = canonicalize_name(requirement.name)
        assert wanted in chosen, f"{label}: {lock.name} has no {wanted} (run `make lock`)"
        assert requirement.specifier.contains(chosen[wanted], prereleases=True), (
            f"{label}: {lock.name} pins {wanted}=={chosen[wanted]}, {lock.stem}.in wants "
            f"{requirement} (run `make lock`)"
        )


@pytest.mark.parametrize(("name", "lock"), EXTRA_LOCKS, ids=[name for name, _ in EXTRA_LOCKS])
@pytest.mark.parametrize(("label", "env"), environments(), ids=[e[0] for e in environments()])
def test_installing_an_extra_never_changes_a_package_the_action_runs_on(
    name: str, lock: Path, label: str, env: dict[str, str]
) -> None:
    ours, runtime = pins(lock, env, label), pins(RUNTIME_TXT, env, label)
    shared = ours.keys() & runtime.keys()
    assert {n: ours[n] for n in shared} == {n: runtime[n] for n in shared}, label


@pytest.mark.parametrize(("name", "lock"), LOCKS, ids=[name for name, _ in LOCKS])
def test_every_locked_package_is_needed_by_its_input(name: str, lock: Path) -> None:
    # uv's `# via` annotations say who asked for each package; a package whose only reason
    # was a requirement since removed from the `.in` file is a stale lock.
    entries = read_lock(lock)
    from_input = f"-r requirements/{lock.stem}.in"
    direct = {canonicalize_name(r.name) for r in read_requirements_in(lock)}
    needed = {e.name for e in entries if from_input in e.via and e.name in direct}
    assert needed == direct, f"{lock.stem}.in names a package {lock.name} lacks: `make lock`"
    changed = True
    while changed:
        reached = {e.name for e in entries if {canonicalize_name(v) for v in e.via} & needed}
        changed = not reached <= needed
        needed |= reached
    stale = sorted({e.name for e in entries} - needed)
    assert stale == [], f"locked in {lock.name} but not needed: {stale} (run `make lock`)"


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
    assert alpha.via == ["-r requirements/runtime.in"]
    assert (beta.name, beta.via) == ("beta", ["alpha", "gamma"])
