"""Reading wheels and sdists: bounded, never extracted, every problem named.

A distribution comes from a build job we do not control, maybe through an artifact store,
so its bytes are treated as untrusted input. Nothing is ever written to disk; member names
are checked, not used as paths; the bytes inflated for the few small members we need
(METADATA, WHEEL, PKG-INFO, entry_points.txt) are capped, and so is the whole decompressed
stream of an sdist (which we must inflate to see its member list). A wheel's zip framing is
checked by walking its record headers, seeking over the member data.

What is *not* done, on purpose: inflating every member of a wheel to check its CRC. That
doubles the work for a large wheel, PyPI does not do it either, and the usual damage (a
truncated download) already breaks the zip's central directory, which sits at the end of
the file. The members we do read are CRC-checked by `zipfile` as they are read.
"""

from __future__ import annotations

import email.parser
import gzip
import hashlib
import posixpath
import re
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from trusted_publish.dists.digests import Digests
from trusted_publish.dists.pypi_rules import dist_files, entry_points, wheel_file, zip_framing

ONE_MIB = 1024 * 1024

#: A METADATA/WHEEL/PKG-INFO larger than this is refused rather than read: real ones are
#: kilobytes (a long README makes it a few hundred), and the cap keeps a crafted archive
#: from making us inflate gigabytes into memory.
MAX_METADATA_BYTES = 16 * ONE_MIB

#: PyPI refuses a zip that inflates past this ratio once it is over the size below
#: (warehouse/forklift/legacy.py `_is_valid_dist_file`). It has no such rule for an sdist's
#: tar: one past the same bound is only warned about.
BOMB_RATIO = dist_files.COMPRESSION_RATIO_THRESHOLD
BOMB_MIN_SIZE = dist_files.COMPRESSION_RATIO_MIN_SIZE
#: Where we stop inflating an sdist, whatever its size: time stays bounded. Past it, what was
#: not read is not judged (the index decides), and a warning says so.
MAX_INFLATED = 2 * 1024 * ONE_MIB

_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
#: How many offending member names one problem line shows before "and N more".
_SHOWN = 3


@dataclass
class Contents:
    """What an archive holds that the checks need; `problems` when it is not usable."""

    metadata: bytes | None = None
    """The METADATA (wheel) or PKG-INFO (sdist) bytes, when they could be read."""
    metadata_path: str | None = None
    """Which member they came from."""
    root: str = ""
    """The wheel's `.dist-info` folder or the sdist's top-level folder, with a final `/`."""
    members: frozenset[str] = frozenset()
    """Every member name (for License-File checks)."""
    digests: Digests | None = None
    """Set for an sdist, which is hashed in the same pass that inflates it."""
    complete: bool = True
    """False when reading stopped early: `members` is then only the start of the list."""
    problems: list[str] = field(default_factory=list)
    pypi_problems: list[str] = field(default_factory=list)
    """What only PyPI refuses (its archive framing rules, entry points...)."""
    warnings: list[str] = field(default_factory=list)


def unsafe_member(name: str) -> bool:
    """An absolute name or one that climbs out with `..`: never written by a build backend."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return ".." in re.split(r"[/\\]", name)


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _mib(size: int) -> str:
    return f"{size / ONE_MIB:.1f} MiB"


# --- wheels --------------------------------------------------------------------------------


def read_wheel(path: Path) -> Contents:
    """The wheel's METADATA and member names; problems for anything PyPI or pip would refuse.

    The `.dist-info` folder is looked for where PyPI looks: named after the file name's
    first two parts, exactly (case included).
    """
    found = Contents()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            found.members = frozenset(i.filename for i in infos)
            found.problems.extend(_zip_layout_problems(path, infos))
            if found.problems:
                # An unsafe or oversized archive is not read any further.
                return found
            with path.open("rb") as fh:
                central = {i.orig_filename: (i.compress_size, i.file_size) for i in infos}
                found.pypi_problems.extend(zip_framing.problems(fh, central))
            _read_dist_info(path.name, zf, found)
    except PermissionError:
        found.problems.append(unreadable(path))
        return found
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        found.problems.append(
            f"not a readable wheel (zip) file ({exc}): it is truncated or corrupt; rebuild it, "
            "or download the artifact again"
        )
        return found
    found.pypi_problems.extend(dist_files.zip_and_tar_problems(path))
    return found


def _zip_layout_problems(path: Path, infos: list[zipfile.ZipInfo]) -> list[str]:
    problems = []
    unsafe = [i.filename for i in infos if unsafe_member(i.filename)]
    if unsafe:
        problems.append(
            f"members with unsafe paths (absolute or with '..'): {_listing(unsafe)}; no "
            "build backend writes these"
        )
    twice = [name for name, n in Counter(i.filename for i in infos).items() if n > 1]
    if twice:
        problems.append(f"members stored more than once: {_listing(twice)}")
    # pip can read a few more methods than PyPI takes.
    methods = sorted({i.compress_type for i in infos} - dist_files.ZIP_METHODS)
    if methods:
        problems.append(
            f"members compressed with zip method {', '.join(map(str, methods))}: PyPI accepts "
            f'only stored and deflated members ("{dist_files.UNSUPPORTED_COMPRESSION}")'
        )
    inflated = sum(i.file_size for i in infos)
    compressed = max(path.stat().st_size, 1)
    if inflated > BOMB_MIN_SIZE and inflated / compressed > BOMB_RATIO:
        problems.append(
            f"inflates to {_mib(inflated)} from {_mib(compressed)}, more than {BOMB_RATIO} "
            f'times its size: PyPI refuses it as a decompression bomb ("{dist_files.BOMB}")'
        )
    return problems


def _read_dist_info(filename: str, zf: zipfile.ZipFile, found: Contents) -> None:
    expected = _expected_dist_info(filename)
    others = sorted({m.split("/", 1)[0] + "/" for m in found.members if _is_dist_info(m)})
    if expected is not None and any(m.startswith(expected) for m in found.members):
        root = expected
    elif len(others) == 1:
        # Read the metadata anyway: its name and version say what the file should be called.
        root = others[0]
        if expected is not None:
            found.problems.append(
                f"its metadata is in {root}, but PyPI looks in {expected} after the file "
                "name: was the file renamed after the build? Rebuild it instead of renaming it"
            )
        # else the file name itself is refused, by the file-name rules
    else:
        found.problems.append(
            f"has no {expected or '{name}-{version}.dist-info/'} folder, where PyPI looks for "
            f"WHEEL, RECORD and METADATA (found: {', '.join(others) or 'none'}); rebuild it"
        )
        return
    found.root = root
    for required in ("WHEEL", "RECORD", "METADATA"):
        if root + required not in found.members:
            found.problems.append(f"has no {root}{required} (a wheel must have one)")
    if root + "WHEEL" in found.members:
        wheel = _read_zip_member(zf, root + "WHEEL", found.problems)
        if wheel is not None:
            found.problems.extend(_wheel_file_problems(root + "WHEEL", wheel))
            found.warnings.extend(_wheel_tag_warnings(filename, root + "WHEEL", wheel))
    if root + "METADATA" in found.members:
        found.metadata = _read_zip_member(zf, root + "METADATA", found.problems)
        found.metadata_path = root + "METADATA"
    if root + "entry_points.txt" in found.members:
        data = _read_zip_member(zf, root + "entry_points.txt", found.problems)
        if data is not None:
            found.pypi_problems.extend(
                entry_points.problems(filename, root + "entry_points.txt", data)
            )


def _expected_dist_info(filename: str) -> str | None:
    """`{name}-{version}.dist-info/` from the file name, as PyPI derives it (case kept)."""
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    name, version, _ = filename.split("-", 2)
    return f"{name}-{version}.dist-info/"


def _is_dist_info(member: str) -> bool:
    top, _, rest = member.partition("/")
    return top.endswith(".dist-info") and rest == "METADATA"


def _read_zip_member(zf: zipfile.ZipFile, name: str, problems: list[str]) -> bytes | None:
    info = zf.getinfo(name)
    if info.file_size > MAX_METADATA_BYTES:
        problems.append(f"{name} is {_mib(info.file_size)}; refusing to read more than 16 MiB")
        return None
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_METADATA_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as exc:
        # RuntimeError: an encrypted member; BadZipFile: a bad CRC or a broken local header.
        problems.append(f"{name} can't be read ({exc}): the file is corrupt; rebuild it")
        return None
    if len(data) > MAX_METADATA_BYTES:
        problems.append(f"{name} inflates past 16 MiB; refusing to read it")
        return None
    return data


def _wheel_tag_warnings(filename: str, member: str, data: bytes) -> list[str]:
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return []  # the file name is refused by the file-name rules
    return wheel_file.warnings(member, data, (str(tag) for tag in tags))


def _wheel_file_problems(name: str, data: bytes) -> list[str]:
    headers = email.parser.BytesHeaderParser().parsebytes(data)
    version = headers.get("Wheel-Version")
    if version is None:
        return [f"{name} has no Wheel-Version"]
    if version.strip().split(".")[0] != "1":
        # pip refuses a wheel whose major Wheel-Version it does not know.
        return [f"{name} says Wheel-Version {version.strip()}; installers read only 1.x"]
    return []


# --- sdists --------------------------------------------------------------------------------


class _Inflated(Exception):
    """The sdist's stream grew past the decompression bound."""


class _HashingReader:
    """Hands the raw file to gzip while hashing it: the sdist is read once for both."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.blake2 = hashlib.blake2b(digest_size=32)
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.sha256.update(data)
        self.blake2.update(data)
        self.size += len(data)
        return data

    def finish(self) -> Digests:
        # Whatever gzip did not need (padding after the stream) is part of the file too.
        while self.read(_CHUNK):
            pass
        return Digests(self.sha256.hexdigest(), self.blake2.hexdigest(), self.size)


class _BoundedReader:
    """The inflated stream, refusing to go past `limit` bytes."""

    def __init__(self, stream: gzip.GzipFile, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.inflated = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.inflated += len(data)
        if self.inflated > self.limit:
            raise _Inflated
        return data


def read_sdist(path: Path) -> Contents:
    """The sdist's PKG-INFO, member names and digests, from one streaming pass.

    PyPI wants one top-level folder holding PKG-INFO (warehouse/forklift/legacy.py
    `_is_valid_dist_file`); whatever that folder is called, the file name rules compare the
    metadata with the file name.
    """
    found = Contents()
    compressed = path.stat().st_size
    names: list[str] = []
    unsafe: list[str] = []
    sparse: list[str] = []
    # Every PKG-INFO one level down, read: which one counts is known only at the end, when
    # the common top-level folder is. Two of them mean two folders, which is refused anyway.
    pkg_infos: dict[str, bytes | None] = {}
    pkg_info_problems: list[str] = []
    with path.open("rb") as raw:
        hashing = _HashingReader(raw)
        try:
            # The readers only read: no seek, which the stubs ask for but stream mode never
            # calls (a seek back would break the single pass the digests rely on).
            with gzip.GzipFile(fileobj=hashing, mode="rb") as gz:  # type: ignore[call-overload]
                bounded = _BoundedReader(gz, MAX_INFLATED)
                try:
                    # Stream mode ("r|"): members are seen in order while the gzip stream is
                    # inflated once; random access would inflate it again for every seek.
                    with tarfile.open(  # type: ignore[call-overload]
                        fileobj=bounded, mode="r|", bufsize=256 * 1024
                    ) as tf:
                        for member in tf:
                            names.append(member.name)
                            if member.issparse():
                                sparse.append(member.name)
                            if unsafe_member(member.name) or _unsafe_link(member):
                                unsafe.append(member.name)
                            elif (
                                member.name.count("/") == 1
                                and member.name.endswith("/PKG-INFO")
                                and len(pkg_infos) < 2
                            ):
                                pkg_infos[member.name] = _read_tar_member(
                                    tf, member, pkg_info_problems
                                )
                    # Inflate the rest of the stream: gzip checks its CRC only at the very end.
                    while bounded.read(_CHUNK):
                        pass
                except _Inflated:
                    found.complete = False
                    found.warnings.append(
                        f"it inflates past {_mib(MAX_INFLATED)}, where the check stops reading "
                        f"(after {len(names)} members): the rest of it was not checked, and "
                        "PyPI decides on it"
                    )
        except PermissionError:
            found.problems.append(unreadable(path))
            return found
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            found.problems.append(
                f"not a readable .tar.gz file ({exc}): it is truncated or corrupt; rebuild it, "
                "or download the artifact again"
            )
            return found
        found.digests = hashing.finish()
    if (
        found.complete
        and bounded.inflated > BOMB_MIN_SIZE
        and (bounded.inflated / max(compressed, 1) > BOMB_RATIO)
    ):
        found.warnings.append(
            f"it inflates to {_mib(bounded.inflated)} from {_mib(compressed)}, more than "
            f"{BOMB_RATIO} times its size: PyPI takes this for an sdist (it refuses it only for "
            "a zip), but it is unusual; check that the build did not pack build outputs or "
            "data into it"
        )
    found.members = frozenset(names)
    found.pypi_problems.extend(dist_files.zip_and_tar_problems(path))
    _judge_sdist(found, _Listing(names, unsafe, sparse, pkg_infos, pkg_info_problems))
    return found


@dataclass
class _Listing:
    """What one pass over an sdist's tar saw."""

    names: list[str]
    unsafe: list[str]
    sparse: list[str]
    pkg_infos: dict[str, bytes | None]
    pkg_info_problems: list[str]


def _judge_sdist(found: Contents, listing: _Listing) -> None:
    """Problems of the member list; the metadata and root, from the one top-level folder."""
    if listing.sparse:
        found.pypi_problems.append(
            dist_files.SPARSE_PROBLEM.format(members=_listing(listing.sparse))
        )
    if listing.unsafe:
        found.problems.append(
            "members with unsafe paths or links (absolute, or climbing out with '..'): "
            f"{_listing(listing.unsafe)}; no build backend writes these"
        )
    if not found.complete:
        # What was not read is not judged; the first PKG-INFO seen is the metadata.
        if listing.pkg_infos:
            found.metadata_path, found.metadata = next(iter(listing.pkg_infos.items()))
            found.root = found.metadata_path.split("/", 1)[0] + "/"
        else:
            found.problems.append(
                f"no PKG-INFO in the first {_mib(MAX_INFLATED)} inflated, so its metadata "
                "can't be checked: an sdist's PKG-INFO comes first; rebuild it"
            )
        return
    layout = dist_files.sdist_layout_problems(n for n in listing.names if n not in listing.unsafe)
    found.problems.extend(layout)
    if not layout:
        top = dist_files.top_level(n for n in listing.names if n not in listing.unsafe)
        found.root = top + "/"
        found.metadata_path = found.root + "PKG-INFO"
        found.metadata = listing.pkg_infos.get(found.metadata_path)
        found.problems.extend(listing.pkg_info_problems)
        if found.metadata is None and not listing.pkg_info_problems:
            # PyPI would find it deeper down; we read PKG-INFO one level down only, where
            # every build backend writes it.
            found.problems.append(
                f"its PKG-INFO is at {found.metadata_path}, deeper than the one top-level "
                "folder where build backends write it: rebuild it"
            )


def _unsafe_link(member: tarfile.TarInfo) -> bool:
    if member.issym():
        # A symlink's target is relative to the folder holding it.
        target = posixpath.join(posixpath.dirname(member.name), member.linkname)
    elif member.islnk():
        target = member.linkname  # a hard link names another member
    else:
        return False
    if member.linkname.startswith("/") or _DRIVE.match(member.linkname):
        return True
    return posixpath.normpath(target).split("/")[0] == ".."


def _read_tar_member(
    tf: tarfile.TarFile, member: tarfile.TarInfo, problems: list[str]
) -> bytes | None:
    if not member.isfile():
        problems.append(f"{member.name} is not a regular file")
        return None
    if member.size > MAX_METADATA_BYTES:
        problems.append(f"{member.name} is {_mib(member.size)}; refusing to read more than 16 MiB")
        return None
    fh = tf.extractfile(member)
    if fh is None:  # pragma: no cover - isfile() members always have a file object
        problems.append(f"{member.name} can't be read")
        return None
    return fh.read()


def unreadable(path: Path) -> str:
    """Why a file can't be read, in the words of the file system, not of a corrupt archive."""
    return (
        f"permission denied: this job's user can't read {path.name}; make it readable "
        "(e.g. `chmod a+r`), or fix the step that wrote it"
    )
