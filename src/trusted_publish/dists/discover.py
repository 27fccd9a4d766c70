"""Find the distributions in the packages folder and check every one before any upload.

Nothing here touches the network: `trusted-publish check` runs this alone. Every problem in
every file is gathered before anything is raised, so one run lists them all, and one bad
file stops the run before the first byte of any file is uploaded: a half-published release
(some files on PyPI, others refused) can't be repaired, since a version can't be reused.

The parts: `archives` reads the files (bounded, never extracted), `preflight` holds the
rules with PyPI's texts, `readme` renders the description as PyPI does. This module finds
the files and puts the verdicts together.
"""

from __future__ import annotations

import errno
import filecmp
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.metadata import RawMetadata

from trusted_publish.console import shell_line
from trusted_publish.dists import preflight
from trusted_publish.dists.archives import read_sdist, read_wheel, unreadable
from trusted_publish.dists.digests import file_digests
from trusted_publish.dists.preflight import FileType, Release, Rules
from trusted_publish.dists.pypi_rules import dist_files, form_data
from trusted_publish.dists.readme import ReadmeCheck
from trusted_publish.errors import DistributionError

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

__all__ = [
    "COMPANION_NAMES",
    "COMPANION_SUFFIXES",
    "Distribution",
    "FileType",
    "FileVerdict",
    "check_file",
    "collect",
    "describe",
]

DIST_SUFFIXES = (".whl", ".tar.gz")
#: Files that travel with distributions (signatures, attestations, PEP 658 metadata, uv's
#: dist/.gitignore): skipped with a notice, never uploaded, never an error.
COMPANION_SUFFIXES = (
    ".publish.attestation",
    ".sigstore.json",
    ".sigstore",
    ".asc",
    ".sig",
    ".metadata",
    ".intoto.jsonl",
)
COMPANION_NAMES = frozenset({".gitignore"})
#: How many names a notice or an error lists before "and N more".
_LISTED = 10


@dataclass(frozen=True)
class Distribution:
    """One file to upload, with what the index needs to know about it."""

    path: Path
    """Where the file is on disk."""
    filetype: FileType
    """`bdist_wheel` or `sdist`, as the upload form names them."""
    pyversion: str
    """The wheel's Python tag (`py3`, `cp312`), `source` for an sdist."""
    metadata: RawMetadata
    """Core metadata parsed from the file's own METADATA / PKG-INFO."""
    size: int
    """Size in bytes."""
    sha256: str
    """Hex SHA-256 of the file."""
    blake2_256: str
    """Hex BLAKE2b-256 of the file (PyPI's primary digest)."""

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def version(self) -> str:
        return self.metadata["version"]


@dataclass
class FileVerdict:
    """The verdict on one file: a `Distribution` only when it has no problem."""

    path: Path
    distribution: Distribution | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- finding the files ---------------------------------------------------------------------


@dataclass
class _Found:
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    companions: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


def _discover(folder: Path) -> _Found:
    """Walk `folder` and its sub-folders (an artifact download makes one per artifact)."""
    _check_folder(folder)
    found = _Found()
    by_name: dict[str, list[Path]] = defaultdict(list)

    # os.walk does not follow symlinked folders, so a link loop can't make it spin; a
    # sub-folder it can't read would be skipped in silence, leaving its files out.
    def unreadable_folder(exc: OSError) -> None:
        where = Path(exc.filename or folder)
        shown = where.relative_to(folder).as_posix() if where != folder else str(folder)
        found.problems.append(
            f"{shown}/: this folder can't be read ({exc.strerror or exc}), so its files would "
            "be left out of the release; make it readable, or remove it"
        )

    for root, dirs, files in os.walk(folder, onerror=unreadable_folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            _sort_file(found, by_name, path, path.relative_to(folder).as_posix())
    _settle(found, by_name, folder)
    return found


def _sort_file(found: _Found, by_name: dict[str, list[Path]], path: Path, shown: str) -> None:
    name = path.name
    if name.endswith(DIST_SUFFIXES):
        by_name[name].append(path)
    elif name.endswith(".zip"):
        found.problems.append(
            f"{shown}: PyPI refuses .zip sdists (PEP 527, PEP 625: an sdist is a "
            ".tar.gz); build the sdist as .tar.gz (`python -m build --sdist`) and "
            "remove this file"
        )
    elif name in COMPANION_NAMES or name.endswith(COMPANION_SUFFIXES):
        found.companions.append(shown)
    else:
        found.others.append(shown)


def _settle(found: _Found, by_name: dict[str, list[Path]], folder: Path | None) -> None:
    for name, paths in sorted(by_name.items()):
        found.files.append(paths[0])
        if len(paths) > 1:
            found.problems.append(_duplicate_problem(folder, name, paths))
    # Wheels before the sdist, as uv does: a release whose sdist failed still installs fast.
    found.files.sort(key=lambda p: (p.name.endswith(".tar.gz"), p.name))


def _discover_paths(paths: list[Path]) -> _Found:
    """Files and folders named on the command line (`trusted-publish dist/*`, as twine and
    uv take them): a file is taken as it is, a folder is searched as `packages-dir` is."""
    found = _Found()
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        try:
            is_file = path.is_file()
        except OSError:  # a name too long...: `_discover` says so
            is_file = False
        if is_file:
            _sort_file(found, by_name, path, str(path))
            continue
        inner = _discover(path)  # a folder, or the error that says why it is none
        for file in inner.files:
            by_name[file.name].append(file)
        found.problems.extend(inner.problems)
        found.companions.extend(str(path / c) for c in inner.companions)
        found.others.extend(str(path / o) for o in inner.others)
    _settle(found, by_name, None)
    return found


def _check_folder(folder: Path) -> None:
    try:
        exists = folder.exists()
    except OSError as exc:  # a name too long, a loop of links above it...
        raise DistributionError(
            f"The packages folder {_shorten(str(folder))!r} can't be used: {exc.strerror or exc}.",
            fix="Set `packages-dir` to the folder that holds the .whl and .tar.gz files "
            "(relative to the workspace, e.g. dist).",
        ) from None
    if not exists:
        hint = ""
        if any(c in str(folder) for c in "*?["):
            hint = (
                " `packages-dir` is a folder, not a pattern: give the folder (e.g. dist); its "
                "sub-folders are searched too."
            )
        raise DistributionError(
            f"The packages folder {str(folder)!r} does not exist.{hint}",
            fix="Build the distributions first (e.g. `python -m build`) or, when they were "
            "built in another job, download the artifact into this folder; point the "
            "`packages-dir` input at the folder that holds them.",
        )
    if not folder.is_dir():
        raise DistributionError(
            f"The packages folder {str(folder)!r} is a file, not a folder.",
            fix="Set `packages-dir` to the folder that holds the .whl and .tar.gz files.",
        )


def _duplicate_problem(folder: Path | None, name: str, paths: list[Path]) -> str:
    shown = ", ".join(p.relative_to(folder).as_posix() if folder else str(p) for p in paths)
    same = all(filecmp.cmp(paths[0], other, shallow=False) for other in paths[1:])
    how = "identical copies" if same else "and the copies differ"
    return (
        f"{name}: found {len(paths)} times ({shown}; {how}). A file name can be uploaded "
        "once: keep one copy (in a build matrix, build the sdist and pure wheels in one job "
        "only)"
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _announce_skipped(found: _Found, console: Console) -> None:
    # One notice per kind, not one per file: a folder of 40 signatures is one line in the log.
    kinds = (
        # "Not uploaded as files": a .publish.attestation still travels, inside its
        # distribution's upload (attest.py), so "skipped" alone would mislead.
        (found.companions, "it accompanies a distribution and is not uploaded as a file",
         "files that accompany distributions (signatures, attestations, metadata); they are "
         "not uploaded as files"),
        (found.others, "not a distribution (.whl or .tar.gz)",
         "files that are not distributions (.whl or .tar.gz)"),
    )  # fmt: skip
    for names, one, many in kinds:
        if len(names) == 1:
            console.notice(f"Skipping {names[0]}: {one}.")
        elif names:
            console.notice(f"Skipping {len(names)} {many}: {_names(names)}.")


def _nothing_found(where: str, found: _Found) -> DistributionError:
    contents = sorted(found.companions + found.others)
    listing = _names(contents) if contents else "nothing at all"
    return DistributionError(
        f"{where[0].upper()}{where[1:]} holds no distributions (it holds: {listing}).",
        fix="Run your build (e.g. `python -m build`) so that it writes .whl and .tar.gz "
        "files into this folder, or point `packages-dir` at the folder that has them.",
    )


# --- checking them -------------------------------------------------------------------------


def collect(
    folder: Path | list[Path],
    *,
    verify_metadata: bool,
    console: Console,
    index: Index,
    suggest_check: bool = True,
) -> list[Distribution]:
    """Every distribution under `folder` (or among the files and folders of a list), read
    and checked; all problems in one error.

    `suggest_check`: the error's fix names `trusted-publish check` (not when that is what runs).

    `index` decides whether PyPI's own rules apply (`Index.pypi_like`).
    Warnings (a file over PyPI's size limit, a missing content type) are printed, not raised.
    """
    rules = Rules.for_index(index, verify_metadata=verify_metadata)
    paths = [folder] if isinstance(folder, Path) else folder
    found = _discover(folder) if isinstance(folder, Path) else _discover_paths(folder)
    where = (
        f"the packages folder {str(folder)!r}"
        if isinstance(folder, Path)
        else f"the files given ({' '.join(map(str, folder))!r})"
    )
    _announce_skipped(found, console)
    if not found.files and not found.problems:
        raise _nothing_found(where, found)
    readme = ReadmeCheck(console)
    problems = list(found.problems)
    warnings: dict[str, list[str]] = defaultdict(list)
    dists: list[Distribution] = []
    for path in found.files:
        result = check_file(path, rules=rules, readme=readme)
        problems.extend(f"{path.name}: {problem}" for problem in result.problems)
        for warning in result.warnings:
            warnings[warning].append(path.name)
        if result.distribution is not None:
            dists.append(result.distribution)
    releases = [_release(d) for d in dists]
    problems.extend(preflight.release_problems(releases, rules))
    for text, names in warnings.items():
        console.warning(f"{', '.join(names)}: {text}.")
    for text in preflight.release_warnings(releases):
        console.warning(text)
    if problems:
        raise DistributionError(
            f"Nothing can be uploaded: {_count(len(problems), 'problem')} in {where} "
            f"({_count(len(found.files), 'distribution')} checked).",
            details=problems,
            fix="Fix each file as its line says (usually: rebuild it), or remove it from the "
            "folder. Nothing was uploaded."
            + (
                " To catch this in the build job, run "
                f"`{shell_line('trusted-publish', 'check', *map(str, paths))}` there."
                if suggest_check
                else ""
            ),
        )
    return dists


def check_file(path: Path, *, rules: Rules, readme: ReadmeCheck | None = None) -> FileVerdict:
    """Read and check one file; `readme` renders descriptions (only with `verify_metadata`)."""
    result = FileVerdict(path)
    # A newline in a name would pass every other check (warehouse `_validate_filename`).
    result.problems.extend(dist_files.filename_problems(path.name))
    size, unusable = _size(path)
    if unusable:
        result.problems.append(unusable)
        return result
    filetype: FileType
    if path.name.endswith(".whl"):
        filetype, pyversion = "bdist_wheel", _wheel_python_tag(path.name)
        contents = read_wheel(path)
    elif path.name.endswith(".tar.gz"):
        filetype, pyversion = "sdist", "source"
        contents = read_sdist(path)
    else:
        result.problems.append("neither a wheel (.whl) nor an sdist (.tar.gz)")
        return result
    result.problems.extend(contents.problems)
    if rules.pypi:
        result.problems.extend(contents.pypi_problems)
    result.warnings.extend(contents.warnings)
    raw: RawMetadata | None = None
    if contents.metadata is not None:
        raw, unreadable, doubtful = preflight.parse_metadata(contents.metadata)
        result.problems.extend(unreadable)
        result.warnings.extend(doubtful)
        result.problems.extend(preflight.filename_problems(path.name, filetype, raw))
    if filetype == "bdist_wheel":
        result.problems.extend(preflight.wheel_tag_problems(path.name, rules))
    if raw is None:
        return result  # the archive problems say why there is no metadata
    result.problems.extend(preflight.metadata_problems(raw, rules))
    result.warnings.extend(preflight.metadata_warnings(raw, rules))
    if contents.complete:  # a member list read only in part can't say what is missing
        result.problems.extend(
            preflight.license_file_problems(raw, path.name, filetype, contents, rules)
        )
    if rules.verify_metadata and rules.pypi and readme is not None:
        # PyPI renders what is left once it dropped UNKNOWN and empty fields.
        sent = form_data.as_sent(raw)
        problems, warnings = readme.check(
            sent.get("description"),
            sent.get("description_content_type"),
            can_declare=not raw.get("metadata_version", "").startswith("1."),
        )
        result.problems.extend(problems)
        result.warnings.extend(warnings)
    warning = preflight.size_warning(size, rules)
    if warning:
        result.warnings.append(warning)
    if result.problems:
        return result
    # An sdist was hashed while it was inflated; a wheel is read once more, whole.
    digests = contents.digests or file_digests(path)
    result.distribution = Distribution(
        path=path,
        filetype=filetype,
        pyversion=pyversion,
        metadata=raw,
        size=digests.size,
        sha256=digests.sha256,
        blake2_256=digests.blake2_256,
    )
    return result


def _size(path: Path) -> tuple[int, str | None]:
    """The file's size, or why it is no file to upload."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return 0, _stat_problem(path, exc)
    if size == 0:
        return 0, (
            "the file is empty (0 bytes): the build or the artifact download did not finish; "
            "rebuild it"
        )
    return size, None


def _stat_problem(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop, not a file: remove it, or copy the real file here"
        return (
            "a symbolic link to a file that does not exist: remove it, or copy the real file here"
        )
    if isinstance(exc, PermissionError):
        return unreadable(path)
    if isinstance(exc, FileNotFoundError):
        return "the file vanished while it was being checked: is another step writing here?"
    return f"can't be read ({exc.strerror or exc})"


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def describe(dist: Distribution) -> str:
    """One line naming the file for logs: name, size."""
    return f"{dist.filename} ({human_size(dist.size)})"


def _release(dist: Distribution) -> Release:
    return Release(dist.filename, dist.filetype, dist.name, dist.version)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _wheel_python_tag(filename: str) -> str:
    # {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl: the python tag is third from
    # the end, whatever the name looks like (twine reads the same group).
    parts = filename[: -len(".whl")].split("-")
    return parts[-3] if len(parts) >= 5 else "any"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
