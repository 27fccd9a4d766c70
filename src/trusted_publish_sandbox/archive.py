"""The uploaded archive, read once, and PyPI's verdict on it.

The checks and texts of warehouse's ``file_upload`` view once the file is stored
(``warehouse/forklift/legacy.py``: ``_is_valid_dist_file``, the sdist name and License-File
checks, the wheel's platform tags, names, License-File, RECORD, entry points and METADATA).
An sdist is inflated in ONE pass that lists its members and keeps the few small files
the checks read (warehouse opens it once too); a wheel's zip is opened once. This
runs outside the warehouse's lock: a big archive never holds up another upload.
"""

from __future__ import annotations

import configparser
import csv
import posixpath
import re
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.metadata import Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from .dists import valid_platform_tag
from .refusal import Refusal, bad
from .zipframing import framing_error

__all__ = ["TarListing", "check_archive", "read_tar"]

ONE_MIB = 1024 * 1024
# Decompression-bomb guard (legacy.py): a zip inflating past 50x once over 64 MiB.
COMPRESSION_RATIO_MIN_SIZE = 64 * ONE_MIB
COMPRESSION_RATIO_THRESHOLD = 50
# A PKG-INFO is read into memory while the sdist streams past; a bigger one is not kept
# (the sandbox's own consistency check then has nothing to compare, PyPI's checks don't
# read it at all).
MAX_KEPT_MEMBER = 32 * ONE_MIB
ARCHIVES_URL = "https://docs.pypi.org/archives"
_ENTRY_POINT_NAME = re.compile(r"[\w.-]+")


@dataclass
class TarListing:
    """What one pass over a .tar.gz found: every member name, sparse ones, the PKG-INFOs."""

    names: list[str] = field(default_factory=list)
    sparse: list[str] = field(default_factory=list)
    pkg_infos: dict[str, bytes] = field(default_factory=dict)


def read_tar(path: Path) -> TarListing:
    """Inflate the sdist once, front to back.

    The members are read in order and each PKG-INFO as its header goes by, so the gzip
    stream is never rewound (a rewind inflates it again from the start). ``tarfile``'s
    own stream mode ("r|gz") would do the same in small steps, several times slower.
    Raises what ``tarfile`` raises on a broken archive (``TarError``, ``EOFError``,
    ``zlib.error``, ``OSError``).
    """
    listing = TarListing()
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            listing.names.append(member.name)
            if member.issparse():
                listing.sparse.append(member.name)
            if (
                member.isfile()
                and posixpath.basename(member.name) == "PKG-INFO"
                and member.size <= MAX_KEPT_MEMBER
            ):
                handle = tar.extractfile(member)
                if handle is not None:
                    # The last member of a name wins, as with TarFile.getmember.
                    listing.pkg_infos[member.name] = handle.read()
    return listing


def _commonpath(names: Sequence[str]) -> str:
    # legacy.py `_commonpath`: os.path.commonpath, "" for no names. Mixing absolute and
    # relative names makes commonpath raise there (an error page); here it is "no one
    # top-level directory", the refusal such an sdist deserves.
    if not names:
        return ""
    try:
        return posixpath.commonpath(names)
    except ValueError:
        return ""


def _refuse_file(reason: Optional[str]) -> Refusal:
    # legacy.py: f"Invalid distribution file. {_msg}" (None when the archive is unreadable).
    return bad(f"Invalid distribution file. {reason}")


def _zip_reason(zfp: zipfile.ZipFile, path: Path, filename: str) -> Optional[str]:
    """legacy.py `_is_valid_dist_file`, the zip half (the YARA scan aside)."""
    infos = zfp.infolist()
    compressed = path.stat().st_size
    decompressed = sum(info.file_size for info in infos)
    if (
        decompressed > COMPRESSION_RATIO_MIN_SIZE
        and decompressed / max(compressed, 1) > COMPRESSION_RATIO_THRESHOLD
    ):
        return f"File exceeds compression ratio of {COMPRESSION_RATIO_THRESHOLD}"
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        return "File does not use a supported compression type"
    names = set(zfp.namelist())
    if filename.endswith(".zip"):
        top_level = _commonpath(zfp.namelist())
        if top_level in (".", "/", ""):
            return "Incorrect number of top-level directories in sdist"
        target = posixpath.join(top_level, "PKG-INFO")
        if target not in names:
            return f"PKG-INFO not found at {target}"
    else:
        try:
            name, version, _ = filename.split("-", 2)
        except ValueError:
            return "Unable to parse name and version from wheel filename"
        target = f"{name}-{version}.dist-info/WHEEL"
        if target not in names:
            return f"WHEEL not found at {target}"
    # warehouse/utils/zipfiles.py `validate_zipfile`: the record framing.
    assert zfp.fp is not None  # an open ZipFile always has its file  # noqa: S101
    central = {i.orig_filename: (i.compress_size, i.file_size) for i in infos}
    reason = framing_error(zfp.fp, central)  # type: ignore[arg-type]
    if reason is not None:
        return f"ZIP archive not accepted: {reason}. See {ARCHIVES_URL} for more information"
    return None


def _tar_reason(listing: TarListing) -> Optional[str]:
    """legacy.py `_is_valid_dist_file`, the tar half."""
    if listing.sparse:
        return (
            "tar archive not accepted: Sparse members are not allowed. "
            f"See {ARCHIVES_URL} for more information"
        )
    top_level = _commonpath(listing.names)
    if top_level in (".", "/", ""):
        return "Incorrect number of top-level directories in sdist"
    target = posixpath.join(top_level, "PKG-INFO")
    if target not in listing.names:
        return f"PKG-INFO not found at {target}"
    return None


def check_archive(path: Path, filename: str, filetype: str, meta: Metadata) -> Optional[bytes]:
    """Refuse the archive as PyPI would; returns its METADATA/PKG-INFO when it passes.

    The project's name is the form's (warehouse renames the project to it before these
    checks), so nothing here needs the index's state.
    """
    is_zip = zipfile.is_zipfile(path)
    is_tar = tarfile.is_tarfile(path)
    if is_zip and is_tar:
        raise _refuse_file("File is both a zip and a tar file")
    if filename.endswith((".zip", ".whl")):
        if not is_zip:
            raise _refuse_file("File is not a zipfile")
        try:
            with zipfile.ZipFile(path) as zfp:
                reason = _zip_reason(zfp, path, filename)
                if reason is not None:
                    raise _refuse_file(reason)
                if filetype == "sdist":
                    _check_sdist_name(filename, meta)
                if filename.endswith(".whl"):
                    return _check_wheel(zfp, filename, meta)
        except zipfile.BadZipFile:
            raise _refuse_file(None) from None
        return None
    if filename.endswith(".tar.gz"):
        if not is_tar:
            raise _refuse_file("File is not a tarfile")
        try:
            listing = read_tar(path)
        except (tarfile.TarError, EOFError, zlib.error, OSError):
            raise _refuse_file(None) from None
        reason = _tar_reason(listing)
        if reason is not None:
            raise _refuse_file(reason)
        if filetype == "sdist":
            _check_sdist_name(filename, meta)
            _check_sdist_license_files(listing, filename, meta)
        return listing.pkg_infos.get(posixpath.join(_commonpath(listing.names), "PKG-INFO"))
    return None


def _check_sdist_name(filename: str, meta: Metadata) -> None:
    try:
        name_from_filename, _version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise bad(f"Invalid source distribution filename: {filename}") from None
    name_text: str = name_from_filename
    # A post-release may carry a hyphen in the file name ("1.0-1"); split once more.
    if (
        meta.version.is_postrelease
        and name_text != canonicalize_name(meta.name)
        and filename.count("-") >= 2
    ):
        candidate = filename.rpartition("-")[0].rpartition("-")[0]
        try:
            Version(filename[len(candidate) + 1 : -len(".tar.gz")])
            name_text = candidate
        except InvalidVersion:
            pass
    normalized = canonicalize_name(meta.name)
    expected_prefix = normalized.replace("-", "_")
    if canonicalize_name(name_text) != normalized:
        raise bad(f"Start filename for {meta.name!r} with {expected_prefix!r}.")
    expected = f"{expected_prefix}-{meta.version}.tar.gz"
    if filename != expected:
        raise bad(f"Filename {filename!r} is invalid, should be {expected!r}.")


def _check_sdist_license_files(listing: TarListing, filename: str, meta: Metadata) -> None:
    if not meta.license_files:
        return
    top_level = _commonpath(listing.names)
    names = set(listing.names)
    for license_file in meta.license_files:
        target = posixpath.join(top_level, license_file)
        if target not in names:
            raise bad(
                f"License-File {license_file} does not exist in "
                f"distribution file {filename} at {target}"
            )


def _check_wheel(zfp: zipfile.ZipFile, filename: str, meta: Metadata) -> bytes:
    try:
        wheel_name, wheel_version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise bad(str(exc)) from None
    for tag in tags:
        if not valid_platform_tag(tag.platform):
            raise bad(
                f"Binary wheel '{filename}' has an unsupported platform tag '{tag.platform}'."
            )
    canonical_name = canonicalize_name(meta.name)
    if canonical_name != wheel_name:
        raise bad(f"Start filename for {meta.name!r} with {canonical_name.replace('-', '_')!r}.")
    name_from_filename = filename.split("-", 1)[0]
    normalized_name = canonical_name.replace("-", "_")
    if name_from_filename != normalized_name:
        raise bad(
            f"Filename {filename!r} should contain the normalized project name "
            f"{normalized_name!r}, not {name_from_filename!r}."
        )
    if meta.version != wheel_version:
        raise bad(
            f"Version in filename should be {str(meta.version)!r} not {str(wheel_version)!r}."
        )
    name, version, _ = filename.split("-", 2)
    dist_info = f"{name}-{version}.dist-info"
    names = set(zfp.namelist())
    for license_file in meta.license_files or ():
        member = f"{dist_info}/licenses/{license_file}"
        if member not in names:
            raise bad(
                f"License-File {license_file} does not exist in "
                f"distribution file {filename} at {member}"
            )
    if not _record_readable(zfp, f"{dist_info}/RECORD"):
        raise bad(
            f"Wheel '{filename}' does not contain the required RECORD file: {dist_info}/RECORD"
        )
    if _entry_points_error(zfp, f"{dist_info}/entry_points.txt") is not None:
        raise bad(
            f"Wheel '{filename}' has invalid entry points defined in the entry_points.txt file"
        )
    if f"{dist_info}/METADATA" not in names:
        raise bad(
            f"Wheel '{filename}' does not contain the required METADATA file: {dist_info}/METADATA"
        )
    return zfp.read(f"{dist_info}/METADATA")


def _record_readable(zfp: zipfile.ZipFile, member: str) -> bool:
    # warehouse/utils/wheel.py `_validate_record`: a missing, undecodable or unparsable
    # RECORD refuses the wheel; a RECORD that disagrees with the zip only sends an email.
    try:
        list(csv.reader(zfp.read(member).decode().splitlines()))
    except (UnicodeError, KeyError, csv.Error):
        return False
    return True


def _entry_points_error(zfp: zipfile.ZipFile, member: str) -> Optional[str]:
    """warehouse/utils/wheel.py `_validate_entrypoints`: why they are refused, or None."""
    try:
        text = zfp.read(member).decode()
    except KeyError:
        return None
    except UnicodeError:
        return "entry_points.txt is not decodable as UTF-8"
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names keep their case
    try:
        parser.read_string(text)
    except configparser.Error as error:
        return f"entry_points.txt is not a valid INI file: {error!r}"
    for section_name in ("console_scripts", "gui_scripts"):
        if section_name not in parser:
            continue
        for entry_point in parser[section_name]:
            if _ENTRY_POINT_NAME.fullmatch(entry_point) is None:
                return f"Invalid entry point name {entry_point!r} in {section_name!r}"
    return None
