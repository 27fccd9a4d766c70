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
from typing import TYPE_CHECKING, Literal, cast

import packaging
from packaging.metadata import _VALID_METADATA_VERSIONS as PACKAGING_METADATA_VERSIONS
from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from trusted_publish.dists.pypi_rules import (
    dist_files,
    file_names,
    form_data,
    metadata_fields,
    platform_tags,
)

if TYPE_CHECKING:
    from trusted_publish.dists.archives import Contents
    from trusted_publish.index.target import Index

FileType = Literal["bdist_wheel", "sdist"]


PYPI_MAX_FILE_SIZE = 100 * 1024 * 1024
PYPI_FILE_SIZE_HELP = "https://pypi.org/help/#file-size-limit"
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


def parse_metadata(blob: bytes) -> tuple[RawMetadata, list[str], list[str]]:
    """Core metadata from METADATA/PKG-INFO bytes, what stops it from being uploaded, and
    what is worth a warning.

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
    warnings = []
    labels = [url.split(",", 1)[0].strip() for url in unparsed.get("project-url", [])]
    if len(set(labels)) < len(labels):
        # packaging cannot read Project-URL with a label twice, so it is not sent: PyPI takes
        # the file without its links (warehouse/forklift/metadata.py `parse_form_metadata`
        # would refuse only labels sent twice). twine refuses such a file.
        unparsed.pop("project-url")
        twice = sorted({label for label in labels if labels.count(label) > 1})
        warnings.append(
            f"metadata field Project-URL uses the label {', '.join(map(repr, twice))} more "
            "than once: PyPI takes the file, but without any of its Project-URL links (a "
            "field packaging cannot read is not sent), and twine and packaging's metadata "
            "validation refuse it (\"unrecognized or malformed field 'project-url'\"). Give "
            "each link its own label in [project.urls]"
        )
    problems = [
        f"metadata field {field_name(key)} is unrecognized or malformed (twine refuses it "
        "too): check the build backend's configuration for it"
        for key in unparsed
    ]
    for required in _REQUIRED:
        if not raw.get(required.replace("-", "_")):
            problems.append(f"the metadata has no {field_name(required)} field")
    return raw, problems, warnings


def newer_metadata_version(raw: RawMetadata) -> str | None:
    """The Metadata-Version when it is newer than the installed `packaging` knows."""
    text = raw.get("metadata_version", "")
    version = _version_or_none(text)
    newest = Version(PACKAGING_METADATA_VERSIONS[-1])
    return text if version is not None and version > newest else None


def metadata_warnings(raw: RawMetadata, rules: Rules) -> list[str]:
    """A Metadata-Version newer than we know: not checked here, the index decides.

    Not for PyPI: it refuses every version it does not list (metadata_problems).
    """
    newer = newer_metadata_version(raw)
    if not rules.verify_metadata or rules.pypi or newer is None:
        return []
    return [
        f"Metadata-Version {newer} is newer than the metadata versions packaging "
        f"{packaging.__version__} knows (up to {PACKAGING_METADATA_VERSIONS[-1]}), so its "
        "fields were checked only as far as packaging can; the index decides. Upgrade "
        "trusted-publish (and packaging) to check it fully"
    ]


def metadata_problems(raw: RawMetadata, rules: Rules) -> list[str]:
    """Every field `packaging` finds invalid, then PyPI's own metadata rules.

    Both judge the metadata as PyPI reads it from the upload form: a field whose value is
    UNKNOWN or empty is dropped first (`pypi_rules.form_data.as_sent`), so it is no problem.
    """
    if not rules.verify_metadata:
        return []
    problems: list[str] = []
    # A missing required field is reported by parse_metadata already; a Metadata-Version
    # newer than packaging knows is judged by PyPI's list (below) or left to the index
    # (metadata_warnings), not by packaging.
    missing = {name for name in _REQUIRED if not raw.get(name.replace("-", "_"))}
    if newer_metadata_version(raw) is not None:
        missing.add("metadata-version")
    raw = cast(RawMetadata, form_data.as_sent(raw))
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
    invalid_fields = {p.split(":", 1)[0] for p in problems}

    def valid(name: str) -> bool:
        return f"metadata field {name}" not in invalid_fields

    metadata_version = raw.get("metadata_version", "")
    refusals = metadata_fields.validate(
        # PyPI's list decides, whatever packaging knows.
        metadata_version=metadata_version
        if metadata_version and valid("Metadata-Version")
        else None,
        version=_version_or_none(raw.get("version", "")),
        summary=raw.get("summary"),
        classifiers=raw.get("classifiers", []),
        author_email=raw.get("author_email"),
        maintainer_email=raw.get("maintainer_email"),
        home_page=raw.get("home_page"),
        download_url=raw.get("download_url"),
        project_urls=raw.get("project_urls") if valid("Project-URL") else None,
        provides_dist=raw.get("provides_dist", []),
        obsoletes_dist=raw.get("obsoletes_dist", []),
        requires_dist=raw.get("requires_dist", []) if valid("Requires-Dist") else [],
        dynamic=raw.get("dynamic", []) if valid("Dynamic") else [],
        license=raw.get("license"),
        license_expression=raw.get("license_expression") if valid("License-Expression") else None,
    )
    problems.extend(_said(refused, metadata_version, raw) for refused in refusals)
    return problems


def _said(refused: metadata_fields.Refused, metadata_version: str, raw: RawMetadata) -> str:
    """One of warehouse's metadata errors, quoted, with what to do."""
    if refused.field == "metadata-version":
        return (
            f"metadata field Metadata-Version: PyPI accepts 1.0 to "
            f"{metadata_fields.METADATA_VERSIONS[-1]}, not {metadata_version!r} "
            f'("{metadata_fields.quoted(refused)}"); {refused.fix}'
        )
    if refused.field == "version":
        version = raw.get("version", "")
        return (
            f'version {version} is a local version, which PyPI refuses ("{refused.text}"): '
            f"{refused.fix}"
        )
    if refused.field == "summary":
        return (
            f"metadata field Summary is {len(raw.get('summary', ''))} characters long; PyPI "
            f'takes at most {metadata_fields.MAX_SUMMARY} ("{refused.text}")'
        )
    return (
        f"metadata field {field_name(refused.field)}: PyPI refuses it "
        f'("{metadata_fields.quoted(refused)}"); {refused.fix}'
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
            missing = dist_files.license_file_missing(license_file, filename, target)
            problems.append(
                f'PyPI would refuse it: "{missing}"; the build left the license file out: check '
                "the backend's license-files setting"
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
    refusals = file_names.wheel_refusals(filename, meta_name, version)
    if refusals and refusals[0].kind == "unparsable":
        parts = filename[: -len(".whl")].split("-")
        tags = "-".join(parts[-3:]) if len(parts) >= 5 else "py3-none-any"
        expected = f"{normalized}-{version or parts[1]}-{tags}.whl"
        return [
            f'PyPI refuses this name: "{refusals[0].text}"; a wheel is named {{name}}-{{version}}'
            f"-{{python}}-{{abi}}-{{platform}}.whl, here {expected!r}: rebuild it"
        ]
    # Keep the file's own version text when it is the same version, and any build tag.
    name_part, version_part, rest = filename.split("-", 2)
    same = version is None or all(r.kind != "version" for r in refusals)
    expected = f"{normalized}-{version_part if same else version}-{rest}"
    problems = []
    for refusal in refusals:
        if refusal.kind == "project":
            problems.append(
                f"the file name is for project {name_part!r}, but its metadata says Name: "
                f'{meta_name} (PyPI: "{refusal.text}"); the wheel should be {expected!r}: '
                "rebuild it"
            )
        elif refusal.kind == "normalization":
            problems.append(
                f'PyPI refuses this name: "{refusal.text}" It should be {expected!r}: rebuild '
                "it with a current build backend (renaming is not enough: the .dist-info "
                "folder inside is named like the file)"
            )
        else:
            problems.append(
                f"the file name has version {version_part!r}, but its metadata says Version: "
                f'{version} (PyPI: "{refusal.text}"); the wheel should be {expected!r}: '
                "rebuild it"
            )
    return problems


def _sdist_name_problems(
    filename: str, meta_name: str, normalized: str, version: Version | None
) -> list[str]:
    refusal = file_names.sdist_refusal(filename, meta_name, version)
    if refusal is None:
        return []
    expected = f"{normalized}-{version}.tar.gz" if version is not None else None
    should = f"; it should be {expected!r}" if expected else ""
    if refusal.kind == "unparsable":
        return [f'PyPI refuses this name: "{refusal.text}"{should}: rebuild it']
    if refusal.kind == "project":
        return [
            f"the file name is for project {canonicalize_name(refusal.name)!r}, but its "
            f'metadata says Name: {meta_name} (PyPI: "{refusal.text}"){should}: rebuild it'
        ]
    if refusal.kind == "version":
        return [
            f"the file name has version {str(refusal.version)!r}, but its metadata says "
            f'Version: {version} (PyPI: "{refusal.text}"): rebuild it'
        ]
    return [
        f'PyPI refuses this name: "{refusal.text}" (PEP 625: the normalized project name, with '
        "underscores, and the normalized version). Rebuild it with a current build backend "
        "(for setuptools, 69.3 or newer); renaming is not enough, the folder inside is named "
        "like the file"
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
            f'{first.filename}); PyPI takes one ("{dist_files.ONE_SDIST}"): keep one of them'
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
