"""Find the distributions in the packages folder and turn each into metadata + digests.

Nothing here touches the network: `trusted-publish check` runs this alone. Every problem in
every file is gathered before anything is raised, so one run lists them all, and a bad file
stops the run before the first byte of any file is uploaded.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.metadata import ExceptionGroup, Metadata, RawMetadata, parse_email
from packaging.version import InvalidVersion, Version

from .errors import DistributionError

if TYPE_CHECKING:
    from .gha import Console

FileType = Literal["bdist_wheel", "sdist"]

#: Files that travel with distributions (signatures, attestations): skipped, never uploaded.
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

#: A METADATA/PKG-INFO larger than this is refused rather than read: real ones are kilobytes
#: (a long README makes it a few hundred), and the limit keeps a crafted archive from making
#: us inflate gigabytes into memory.
MAX_METADATA_BYTES = 16 * 1024 * 1024

_CHUNK = 1024 * 1024
_WHEEL_METADATA = re.compile(r"^[^/]+\.dist-info/METADATA$")
_SDIST_PKG_INFO = re.compile(r"^[^/]+/PKG-INFO$")


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


def find_distribution_files(folder: Path, console: Console) -> list[Path]:
    """The wheels and sdists in `folder`, wheels first; companions and strays get a notice."""
    if not folder.exists():
        raise DistributionError(
            f"The packages folder {str(folder)!r} does not exist.",
            fix="Build the distributions first (e.g. `python -m build`) or, when they were "
            "built in another job, download the artifact into this folder; point the "
            "`packages-dir` input at the folder that holds them.",
        )
    if not folder.is_dir():
        raise DistributionError(
            f"The packages folder {str(folder)!r} is a file, not a folder.",
            fix="Set `packages-dir` to the folder that holds the .whl and .tar.gz files.",
        )
    found: list[Path] = []
    others: list[str] = []
    problems: list[str] = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if path.is_dir():
            others.append(name + "/")
        elif name.endswith((".whl", ".tar.gz")):
            found.append(path)
        elif name.endswith(".zip"):
            problems.append(
                f"{name}: .zip sdists are refused by PyPI (PEP 625); build a .tar.gz sdist"
            )
        elif name in COMPANION_NAMES or name.endswith(COMPANION_SUFFIXES):
            console.notice(f"Skipping {name}: it accompanies a distribution, it is not one.")
        else:
            others.append(name)
            console.notice(f"Skipping {name}: not a distribution (.whl or .tar.gz).")
    if problems:
        raise DistributionError("Some files can't be uploaded:", details=problems)
    if not found:
        listing = ", ".join(others) if others else "nothing"
        raise DistributionError(
            f"The packages folder {str(folder)!r} holds no distributions (it holds: {listing}).",
            fix="Run your build (e.g. `python -m build`) so that it writes .whl and .tar.gz "
            "files into this folder, or point `packages-dir` at the folder that has them.",
        )
    # Wheels before the sdist, as uv does: a release whose sdist failed still installs fast.
    return sorted(found, key=lambda p: (p.name.endswith(".tar.gz"), p.name))


def collect(folder: Path, *, verify_metadata: bool, console: Console) -> list[Distribution]:
    """Every distribution in `folder`, fully read; one `DistributionError` lists all problems."""
    dists: list[Distribution] = []
    problems: list[str] = []
    for path in find_distribution_files(folder, console):
        try:
            dists.append(read_distribution(path, verify_metadata=verify_metadata))
        except DistributionError as exc:
            problems.extend(f"{path.name}: {line}" for line in (exc.message, *exc.details))
    if problems:
        raise DistributionError(
            "Nothing was uploaded: some distributions have problems.",
            details=problems,
            fix="Rebuild the files named above with a current build backend, or remove them "
            "from the packages folder.",
        )
    return dists


def read_distribution(path: Path, *, verify_metadata: bool = True) -> Distribution:
    """Read one file's metadata and digests; `DistributionError` when it is not usable."""
    filetype: FileType
    if path.name.endswith(".whl"):
        filetype, pyversion = "bdist_wheel", _wheel_python_tag(path.name)
        blob = _read_wheel_metadata(path)
    elif path.name.endswith(".tar.gz"):
        filetype, pyversion = "sdist", "source"
        blob = _read_sdist_metadata(path)
    else:
        raise DistributionError(f"{path.name} is neither a wheel nor a .tar.gz sdist")
    metadata = parse_metadata(blob, verify=verify_metadata)
    sha256, blake2_256, size = file_digests(path)
    return Distribution(
        path=path,
        filetype=filetype,
        pyversion=pyversion,
        metadata=metadata,
        size=size,
        sha256=sha256,
        blake2_256=blake2_256,
    )


def parse_metadata(blob: bytes, *, verify: bool) -> RawMetadata:
    """Core metadata from METADATA/PKG-INFO bytes; every field problem named."""
    raw, unparsed = parse_email(blob)
    mv = raw.get("metadata_version", "0")
    if _version_or_zero(mv) < Version("2.4"):
        # setuptools writes License-File under Metadata-Version 2.1, which the spec does not
        # allow; PyPI and twine drop the field rather than refuse the file, and so do we.
        raw.pop("license_files", None)
        unparsed.pop("license-file", None)
    problems = [f"unrecognized or malformed field {key!r}" for key in unparsed]
    for required in ("metadata_version", "name", "version"):
        if not raw.get(required):
            problems.append(f"the metadata has no {required.replace('_', '-').title()} field")
    if verify and not problems:
        try:
            Metadata.from_raw(raw)
        except ExceptionGroup as group:
            problems.extend(sorted(str(e) for e in group.exceptions))
    if problems:
        raise DistributionError("invalid metadata", details=problems)
    return raw


def file_digests(path: Path) -> tuple[str, str, int]:
    """(sha256, blake2b-256, size) from one read of the file."""
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            sha256.update(chunk)
            blake2.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), blake2.hexdigest(), size


def _version_or_zero(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def _wheel_python_tag(filename: str) -> str:
    # {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl: the python tag is third from
    # the end, whatever the name looks like (twine reads the same group).
    parts = filename[: -len(".whl")].split("-")
    return parts[-3] if len(parts) >= 5 else "any"


def _read_wheel_metadata(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            candidates = [i for i in zf.infolist() if _WHEEL_METADATA.match(i.filename)]
            info = _pick_wheel_metadata(path.name, candidates)
            return _bounded(zf.open(info).read(MAX_METADATA_BYTES + 1), info.filename)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DistributionError(f"not a readable wheel (zip) file: {exc}") from None


def _pick_wheel_metadata(filename: str, candidates: Sequence[zipfile.ZipInfo]) -> zipfile.ZipInfo:
    if not candidates:
        raise DistributionError("the wheel has no *.dist-info/METADATA file")
    if len(candidates) == 1:
        return candidates[0]
    # Several dist-info folders (a vendored package's): take the one named like the wheel.
    prefix = "-".join(filename.split("-")[:2]).lower()
    for info in candidates:
        if info.filename.lower().startswith(prefix + ".dist-info/"):
            return info
    names = ", ".join(i.filename for i in candidates)
    raise DistributionError(f"the wheel has several METADATA files ({names}) and none is its own")


def _read_sdist_metadata(path: Path) -> bytes:
    try:
        with tarfile.open(path, "r:gz") as tf:
            # Stream through the members instead of listing them all: PKG-INFO is near the
            # start, and listing would decompress the whole archive first.
            for member in tf:
                if _SDIST_PKG_INFO.match(member.name):
                    if not member.isfile():
                        raise DistributionError(f"{member.name} is not a regular file")
                    fh = tf.extractfile(member)
                    if fh is None:
                        raise DistributionError(f"{member.name} can't be read")
                    return _bounded(fh.read(MAX_METADATA_BYTES + 1), member.name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DistributionError(f"not a readable .tar.gz file: {exc}") from None
    raise DistributionError("the sdist has no PKG-INFO in its top-level folder")


def _bounded(blob: bytes, member: str) -> bytes:
    if len(blob) > MAX_METADATA_BYTES:
        raise DistributionError(
            f"{member} is larger than {MAX_METADATA_BYTES // (1024 * 1024)} MiB; "
            "refusing to read it"
        )
    return blob


def describe(dist: Distribution) -> str:
    """One line naming the file for logs: name, size."""
    return f"{dist.filename} ({_human_size(dist.size)})"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
