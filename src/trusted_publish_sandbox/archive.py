"""The uploaded archive, read once, and PyPI's verdict on it.

The checks and texts of warehouse's ``file_upload`` view once the file is stored
(``warehouse/forklift/legacy.py``: ``_is_valid_dist_file``, the sdist name and License-File
checks, the wheel's platform tags, names, License-File, RECORD, entry points and METADATA),
in its order, with the rules of the shared ``trusted_publish.dists.pypi_rules``.
An sdist is inflated in ONE pass that lists its members and keeps the few small files
the checks read (warehouse opens it once too); a wheel's zip is opened once. This
runs outside the warehouse's lock: a big archive never holds up another upload.
"""

from __future__ import annotations

import csv
import posixpath
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.metadata import Metadata
from packaging.utils import parse_wheel_filename

from trusted_publish.dists.pypi_rules import (
    dist_files,
    entry_points,
    file_names,
    invalid_distribution,
    platform_tags,
)

from .refusal import Refusal, bad

__all__ = ["TarListing", "check_archive", "read_tar"]

ONE_MIB = 1024 * 1024
# A PKG-INFO is read into memory while the sdist streams past; a bigger one is not kept
# (the sandbox's own consistency check then has nothing to compare, PyPI's checks don't
# read it at all).
MAX_KEPT_MEMBER = 32 * ONE_MIB


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


def _refuse_file(reason: Optional[str]) -> Refusal:
    return bad(invalid_distribution(reason))


def check_archive(path: Path, filename: str, filetype: str, meta: Metadata) -> Optional[bytes]:
    """Refuse the archive as PyPI would; returns its METADATA/PKG-INFO when it passes.

    warehouse/forklift/legacy.py `_is_valid_dist_file`, then `file_upload`'s sdist and wheel
    checks, in its order (the rules are in trusted_publish.dists.pypi_rules). The project's
    name is the form's (warehouse renames the project to it before these checks), so nothing
    here needs the index's state.
    """
    is_zip = zipfile.is_zipfile(path)
    is_tar = tarfile.is_tarfile(path)
    if is_zip and is_tar:
        raise _refuse_file(dist_files.BOTH_ZIP_AND_TAR)
    if filename.endswith((".zip", ".whl")):
        if not is_zip:
            raise _refuse_file(dist_files.NOT_A_ZIP)
        try:
            with zipfile.ZipFile(path) as zfp, path.open("rb") as fh:
                reason = dist_files.zip_refusal(fh, zfp.infolist(), path.stat().st_size, filename)
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
            raise _refuse_file(dist_files.NOT_A_TAR)
        try:
            listing = read_tar(path)
        except (tarfile.TarError, EOFError, zlib.error, OSError):
            raise _refuse_file(None) from None
        reason = dist_files.tar_refusal(listing.names, listing.sparse)
        if reason is not None:
            raise _refuse_file(reason)
        if filetype == "sdist":
            _check_sdist_name(filename, meta)
            _check_sdist_license_files(listing, filename, meta)
        top = dist_files.top_level(listing.names)
        return listing.pkg_infos.get(posixpath.join(top, "PKG-INFO"))
    return None


def _check_sdist_name(filename: str, meta: Metadata) -> None:
    refusal = file_names.sdist_refusal(filename, meta.name, meta.version)
    if refusal is not None:
        raise bad(refusal.text)


def _check_sdist_license_files(listing: TarListing, filename: str, meta: Metadata) -> None:
    if not meta.license_files:
        return
    top_level = dist_files.top_level(listing.names)
    names = set(listing.names)
    for license_file in meta.license_files:
        target = posixpath.join(top_level, license_file)
        if target not in names:
            raise bad(dist_files.license_file_missing(license_file, filename, target))


def _check_wheel(zfp: zipfile.ZipFile, filename: str, meta: Metadata) -> bytes:
    refusals = file_names.wheel_refusals(filename, meta.name, meta.version)
    if refusals and refusals[0].kind == "unparsable":
        raise bad(refusals[0].text)
    # warehouse judges the platform tags before the name and the version.
    for tag in parse_wheel_filename(filename)[3]:
        if not platform_tags.is_valid(tag.platform):
            raise bad(platform_tags.unsupported(filename, tag.platform))
    if refusals:
        raise bad(refusals[0].text)
    name, version, _ = filename.split("-", 2)
    dist_info = f"{name}-{version}.dist-info"
    names = set(zfp.namelist())
    for license_file in meta.license_files or ():
        member = f"{dist_info}/licenses/{license_file}"
        if member not in names:
            raise bad(dist_files.license_file_missing(license_file, filename, member))
    if not _record_readable(zfp, f"{dist_info}/RECORD"):
        raise bad(dist_files.no_record(filename, f"{dist_info}/RECORD"))
    if _entry_points_refusal(zfp, f"{dist_info}/entry_points.txt") is not None:
        raise bad(entry_points.invalid(filename))
    if f"{dist_info}/METADATA" not in names:
        raise bad(dist_files.no_metadata(filename, f"{dist_info}/METADATA"))
    return zfp.read(f"{dist_info}/METADATA")


def _record_readable(zfp: zipfile.ZipFile, member: str) -> bool:
    # warehouse/utils/wheel.py `_validate_record`: a missing, undecodable or unparsable
    # RECORD refuses the wheel; a RECORD that disagrees with the zip only sends an email.
    try:
        list(csv.reader(zfp.read(member).decode().splitlines()))
    except (UnicodeError, KeyError, csv.Error):
        return False
    return True


def _entry_points_refusal(zfp: zipfile.ZipFile, member: str) -> Optional[str]:
    """warehouse/utils/wheel.py `validate_entrypoints`: a wheel without one passes."""
    try:
        data = zfp.read(member)
    except KeyError:
        return None
    return entry_points.refusal(data)
