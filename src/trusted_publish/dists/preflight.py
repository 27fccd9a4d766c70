"""The rules a distribution must pass before anything is uploaded, with PyPI's own texts.

Each function returns a list of problems (strings) instead of raising, so that one run
lists every problem of every file. A problem says what is wrong, quotes PyPI where PyPI
would refuse the file (so a search for the refusal finds our line), and says what to do.

Three kinds of rules, switched on by `Rules`:
- always: file names against the metadata, what the upload form needs. These decide
  whether the file is a distribution of the release it claims to be;
- `verify_metadata`: every core-metadata field validated by `packaging`;
- `pypi` (the index is PyPI-like: `Index.pypi_like`), on top of the above: the rules PyPI adds
  (no local versions, Metadata-Version 1.0-2.5, the README renders, License-File members
  exist, the fields warehouse checks beyond `packaging` and the platform tags it allows:
  see `pypi_rules`; one sdist per release) and its 100 MiB file size limit. Other indexes
  (devpi, pypiserver, Artifactory...) do not have these rules.

A Metadata-Version newer than the installed `packaging` knows is a warning, not a problem:
our copy of the list is what is old, and the index decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import packaging
from packaging.metadata import _VALID_METADATA_VERSIONS as PACKAGING_METADATA_VERSIONS
from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from trusted_publish.dists.pypi_rules import ESCAPE, WAREHOUSE_AS_OF, metadata_fields, platform_tags

if TYPE_CHECKING:
    from trusted_publish.dists.archives import Contents
    from trusted_publish.index.target import Index

FileType = Literal["bdist_wheel", "sdist"]


#: What warehouse accepts (forklift/metadata.py); `packaging` knows newer ones.
PYPI_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
PYPI_MAX_FILE_SIZE = 100 * 1024 * 1024
PYPI_FILE_SIZE_HELP = "https://pypi.org/help/#file-size-limit"
PYPI_MAX_SUMMARY = 512
_REQUIRED = ("metadata-version", "name", "version")

#: Core-metadata field names as the specification spells them (packaging uses lower case).
_FIELD_NAMES = {
    name.lower(): name
    for name in (
        "Metadata-Version", "Name", "Version", "Dynamic", "Platform", "Supported-Platform",
        "Summary", "Description", "Description-Content-Type", "Keywords", "Home-page",
        "Download-URL", "Author", "Author-email", "Maintainer", "Maintainer-email",
        "License", "License-Expression", "License-File", "Classifier", "Requires-Dist",
        "Requires-Python", "Requires-External", "Project-URL", "Provides-Extra",
        "Provides-Dist", "Obsoletes-Dist", "Import-Name", "Import-Namespace", "Requires",
        "Provides", "Obsoletes",
    )
}  # fmt: skip


def field_name(name: str) -> str:
    """`requires-dist` or `requires_dist` → `Requires-Dist`, the specification's spelling."""
    key = name.replace("_", "-").lower()
    return _FIELD_NAMES.get(key, key.title())


@dataclass(frozen=True)
class Rules:
    """Which checks run (see the module docstring)."""

    verify_metadata: bool = True
    pypi: bool = True

    @classmethod
    def for_index(cls, index: Index, *, verify_metadata: bool) -> Rules:
        """PyPI's own rules apply to uploads to a PyPI-like index (`Index.pypi_like`)."""
        return cls(verify_metadata=verify_metadata, pypi=index.pypi_like)


# --- metadata --------------------------------------------------------------------------------


def parse_metadata(blob: bytes) -> tuple[RawMetadata, list[str]]:
    """Core metadata from METADATA/PKG-INFO bytes, and what stops it from being uploaded.

    These problems are reported whatever `verify-metadata` says: the upload form is built
    from these fields, so a field we can't read would silently go missing on PyPI.
    """
    raw, unparsed = parse_email(blob)
    metadata_version = raw.get("metadata_version", "0")
    if _version_or_zero(metadata_version) < Version("2.4"):
        # setuptools writes License-File under Metadata-Version 2.1, which the spec does not
        # allow; PyPI and twine drop the field rather than refuse the file, and so do we.
        raw.pop("license_files", None)
        unparsed.pop("license-file", None)
    problems = [
        f"metadata field {field_name(key)} is unrecognized or malformed (twine refuses it "
        "too): check the build backend's configuration for it"
        for key in unparsed
    ]
    for required in _REQUIRED:
        if not raw.get(required.replace("-", "_")):
            problems.append(f"the metadata has no {field_name(required)} field")
    return raw, problems


def newer_metadata_version(raw: RawMetadata) -> str | None:
    """The Metadata-Version when it is newer than the installed `packaging` knows."""
    text = raw.get("metadata_version", "")
    version = _version_or_none(text)
    newest = Version(PACKAGING_METADATA_VERSIONS[-1])
    return text if version is not None and version > newest else None


def metadata_warnings(raw: RawMetadata, rules: Rules) -> list[str]:
    """A Metadata-Version newer than we know: not checked here, the index decides."""
    newer = newer_metadata_version(raw)
    if not rules.verify_metadata or newer is None:
        return []
    pypi = (
        f"; PyPI's list as of {WAREHOUSE_AS_OF} ends at {PYPI_METADATA_VERSIONS[-1]}, so it "
        "may refuse the file"
        if rules.pypi
        else ""
    )
    return [
        f"Metadata-Version {newer} is newer than the metadata versions packaging "
        f"{packaging.__version__} knows (up to {PACKAGING_METADATA_VERSIONS[-1]}), so its "
        f"fields were checked only as far as packaging can; the index decides{pypi}. Upgrade "
        "trusted-publish (and packaging) to check it fully"
    ]


def metadata_problems(raw: RawMetadata, rules: Rules) -> list[str]:
    """Every field `packaging` finds invalid, then PyPI's own metadata rules."""
    if not rules.verify_metadata:
        return []
    problems: list[str] = []
    # A missing required field is reported by parse_metadata already; a Metadata-Version
    # newer than packaging knows is a warning (metadata_warnings).
    missing = {name for name in _REQUIRED if not raw.get(name.replace("-", "_"))}
    if newer_metadata_version(raw) is not None:
        missing.add("metadata-version")
    try:
        Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        problems.extend(
            sorted(
                f"metadata field {field_name(exc.field)}: {exc}"
                if isinstance(exc, InvalidMetadata)
                else f"invalid metadata: {exc}"
                for exc in group.exceptions
                if getattr(exc, "field", None) not in missing
            )
        )
    if not rules.pypi:
        return problems
    metadata_version = raw.get("metadata_version", "")
    invalid_fields = {p.split(":", 1)[0] for p in problems}
    if (
        metadata_version not in PYPI_METADATA_VERSIONS
        and "metadata field Metadata-Version" not in invalid_fields
        and "metadata-version" not in missing
    ):
        problems.append(
            f"metadata field Metadata-Version: PyPI accepts 1.0 to 2.5, not {metadata_version!r} "
            f'("{metadata_version!r} is not a valid metadata version"); use a build backend '
            "release that writes a version PyPI knows (PyPI's list as of "
            f"{WAREHOUSE_AS_OF}; {ESCAPE})"
        )
    version = _version_or_none(raw.get("version", ""))
    if version is not None and version.local:
        problems.append(
            f'version {version} is a local version, which PyPI refuses ("The use of local '
            f"versions in '{version}' is not allowed.\"): build from a tagged commit, or drop "
            f"the '+{version.local}' part (setuptools-scm: local_scheme = \"no-local-version\")"
        )
    summary = raw.get("summary", "")
    if len(summary) > PYPI_MAX_SUMMARY:
        problems.append(
            f"metadata field Summary is {len(summary)} characters long; PyPI takes at most "
            f"{PYPI_MAX_SUMMARY} (\"'summary' field must be 512 characters or less.\")"
        )
    problems.extend(_warehouse_field_problems(raw, invalid_fields))
    return problems


def _warehouse_field_problems(raw: RawMetadata, invalid_fields: set[str]) -> list[str]:
    """warehouse/forklift/metadata.py `_validate_metadata`, on fields packaging found valid."""

    def valid(name: str) -> bool:
        return f"metadata field {name}" not in invalid_fields

    urls = raw.get("project_urls") if valid("Project-URL") else None
    return metadata_fields.problems(
        classifiers=raw.get("classifiers", []),
        author_email=raw.get("author_email"),
        maintainer_email=raw.get("maintainer_email"),
        home_page=raw.get("home_page"),
        download_url=raw.get("download_url"),
        project_urls=urls,
        provides_dist=raw.get("provides_dist", []),
        obsoletes_dist=raw.get("obsoletes_dist", []),
        requires_dist=raw.get("requires_dist", []) if valid("Requires-Dist") else [],
        license=raw.get("license"),
        license_expression=raw.get("license_expression") if valid("License-Expression") else None,
    )


def license_file_problems(
    raw: RawMetadata, filename: str, filetype: FileType, contents: Contents, rules: Rules
) -> list[str]:
    """PyPI checks that every License-File (Metadata-Version 2.4+) is in the archive."""
    if not (rules.pypi and rules.verify_metadata):
        return []
    problems = []
    for license_file in raw.get("license_files", []):
        where = "licenses/" if filetype == "bdist_wheel" else ""
        target = f"{contents.root}{where}{license_file}"
        if target not in contents.members:
            problems.append(
                f'PyPI would refuse it: "License-File {license_file} does not exist in '
                f'distribution file {filename} at {target}"; the build left the license '
                "file out: check the backend's license-files setting"
            )
    return problems


# --- file names ------------------------------------------------------------------------------


def filename_problems(filename: str, filetype: FileType, raw: RawMetadata) -> list[str]:
    """The file name against PyPI's rules and the file's own Name and Version."""
    name, version_text = raw.get("name"), raw.get("version")
    if not name or not version_text:
        return []  # reported as missing fields; nothing to compare with
    try:
        canonical = canonicalize_name(name, validate=True)
    except ValueError:
        return []  # an invalid Name is a metadata problem, reported as such
    normalized = canonical.replace("-", "_")
    version = _version_or_none(version_text)
    if filetype == "bdist_wheel":
        return _wheel_name_problems(filename, name, normalized, version)
    return _sdist_name_problems(filename, name, normalized, version)


def _wheel_name_problems(
    filename: str, meta_name: str, normalized: str, version: Version | None
) -> list[str]:
    parts = filename[: -len(".whl")].split("-")
    tags = "-".join(parts[-3:]) if len(parts) >= 5 else "py3-none-any"
    try:
        file_name, file_version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        expected = f"{normalized}-{version or parts[1]}-{tags}.whl"
        return [
            f'PyPI refuses this name: "{exc}"; a wheel is named {{name}}-{{version}}-{{python}}'
            f"-{{abi}}-{{platform}}.whl, here {expected!r}: rebuild it"
        ]
    # Keep the file's own version text when it is the same version, and any build tag.
    name_part, version_part, rest = filename.split("-", 2)
    shown_version = version_part if version is None or file_version == version else str(version)
    expected = f"{normalized}-{shown_version}-{rest}"
    problems = []
    if file_name != canonicalize_name(meta_name):
        problems.append(
            f"the file name is for project {name_part!r}, but its metadata says Name: "
            f'{meta_name} (PyPI: "Start filename for {meta_name!r} with {normalized!r}."); '
            f"the wheel should be {expected!r}: rebuild it"
        )
    elif name_part != normalized:
        problems.append(
            f'PyPI refuses this name: "Filename {filename!r} should contain the normalized '
            f'project name {normalized!r}, not {name_part!r}." It should be {expected!r}: '
            "rebuild it with a current build backend (renaming is not enough: the .dist-info "
            "folder inside is named like the file)"
        )
    if version is not None and file_version != version:
        problems.append(
            f"the file name has version {version_part!r}, but its metadata says Version: "
            f"{version} (PyPI: \"Version in filename should be '{version}' not "
            f"'{file_version}'.\"); the wheel should be {expected!r}: rebuild it"
        )
    return problems


def _sdist_name_problems(
    filename: str, meta_name: str, normalized: str, version: Version | None
) -> list[str]:
    expected = f"{normalized}-{version}.tar.gz" if version is not None else None
    if filename == expected:
        return []
    should = f"; it should be {expected!r}" if expected else ""
    try:
        file_name, file_version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return [
            f'PyPI refuses this name: "Invalid source distribution filename: {filename}"'
            f"{should}: rebuild it"
        ]
    stem = filename[: -len(".tar.gz")]
    if file_name != canonicalize_name(meta_name) and version is not None:
        # "foo-1.0-1.tar.gz" is foo 1.0.post1 written the old way: split once more, as PyPI
        # does, before calling it another project's file.
        head, _, tail = stem.rpartition("-")
        candidate, _, middle = head.rpartition("-")
        if canonicalize_name(candidate) == canonicalize_name(meta_name):
            file_name, file_version = (
                canonicalize_name(candidate),
                _version_or_none(f"{middle}-{tail}") or Version("0"),
            )
    if file_name != canonicalize_name(meta_name):
        return [
            f"the file name is for project {file_name!r}, but its metadata says Name: "
            f'{meta_name} (PyPI: "Start filename for {meta_name!r} with {normalized!r}.")'
            f"{should}: rebuild it"
        ]
    if version is not None and file_version != version:
        return [
            f"the file name has version {str(file_version)!r}, but its metadata says Version: "
            f'{version} (PyPI: "Filename {filename!r} is invalid, should be {expected!r}."): '
            "rebuild it"
        ]
    return [
        f'PyPI refuses this name: "Filename {filename!r} is invalid, should be {expected!r}." '
        "(PEP 625: the normalized project name, with underscores, and the normalized "
        "version). Rebuild it with a current build backend (for setuptools, 69.3 or newer); "
        "renaming is not enough, the folder inside is named like the file"
    ]


def wheel_tag_problems(filename: str, rules: Rules) -> list[str]:
    """The platform tags PyPI refuses (an allow-list: `verify-metadata: false` skips it)."""
    if not (rules.pypi and rules.verify_metadata):
        return []
    try:
        _name, _version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return []  # reported by filename_problems
    return platform_tags.problems(filename, [t.platform for t in tags])


# --- sizes and the set of files ------------------------------------------------------------


def size_warning(size: int, rules: Rules) -> str | None:
    """A file over PyPI's default limit: not fatal, the project may have a higher limit."""
    if not rules.pypi or size <= PYPI_MAX_FILE_SIZE:
        return None
    return (
        f"it is {size / (1024 * 1024):.1f} MiB, over PyPI's default limit of 100 MiB per file: "
        "PyPI refuses it unless the project was granted a higher limit. Ask for one with the "
        f"request form linked from {PYPI_FILE_SIZE_HELP} before publishing"
    )


@dataclass(frozen=True)
class Release:
    """The identity of one checked file, for the rules across files."""

    filename: str
    filetype: FileType
    name: str
    version: str


def release_problems(files: Sequence[Release], rules: Rules) -> list[str]:
    """`<file>: <problem>` lines for rules across files: one sdist per release (PyPI)."""
    if not rules.pypi:
        return []
    sdists: dict[tuple[str, str], list[Release]] = defaultdict(list)
    for f in files:
        if f.filetype == "sdist":
            sdists[_release_key(f)].append(f)
    problems: list[str] = []
    for same_release in sdists.values():
        first, *others = sorted(same_release, key=lambda f: f.filename)
        problems.extend(
            f"{other.filename}: a second sdist for {first.name} {first.version} (the first is "
            f'{first.filename}); PyPI takes one ("Only one sdist may be uploaded per '
            'release."): keep one of them'
            for other in others
        )
    return problems


def release_warnings(files: Iterable[Release]) -> list[str]:
    """Several versions of one project in the folder: usually an old build left behind."""
    versions: dict[str, dict[str, str]] = defaultdict(dict)
    names: dict[str, str] = {}
    for f in files:
        name, version = _release_key(f)
        versions[name].setdefault(version, f.version)
        names.setdefault(name, f.name)
    return [
        f"The folder holds several versions of {names[key]}: "
        f"{', '.join(sorted(found.values()))}. All will be uploaded; if some are left over "
        "from an earlier build, remove them (an old version is usually refused as already "
        "existing, after the new files went up)"
        for key, found in sorted(versions.items())
        if len(found) > 1
    ]


def _release_key(f: Release) -> tuple[str, str]:
    """Name and version as the index compares them: 1.0 and 1.0.0 are one release."""
    # canonicalize_version leaves an invalid version as it is.
    return canonicalize_name(f.name), canonicalize_version(f.version)


def _version_or_none(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _version_or_zero(text: str) -> Version:
    return _version_or_none(text) or Version("0")
