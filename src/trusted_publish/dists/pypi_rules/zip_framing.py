"""How a wheel's zip records must be framed for PyPI (warehouse/utils/zipfiles.py).

warehouse's `validate_zipfile` walks the file record by record from its first byte, as a
streaming unzipper would, and refuses any file that such a reader and a central-directory
reader (pip's `zipfile`) would see differently: data descriptors, comments, ZIP64
extensible data, unprintable names, sizes that disagree, bytes before or after the archive.
This walk reads only the record headers and seeks over the member data: memory stays flat
and time stays small whatever the wheel's size.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from typing import BinaryIO

from trusted_publish.dists.pypi_rules import ARCHIVES_HELP, invalid_distribution

_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_ZIP64_EXTRA = 0x0001
_UNICODE_PATH_EXTRA = 0x7075
_NO_DUPLICATES = frozenset({_ZIP64_EXTRA, _UNICODE_PATH_EXTRA})
_UNPRINTABLE = frozenset(range(0x20)) | {0x7F}
_FLAG_DATA_DESCRIPTOR = 0x08
_ZIP64_SENTINEL = 0xFFFFFFFF

#: What to do, for each of warehouse's reasons (a reason not listed: rebuild).
_FIXES = {
    "ZIP contains a data descriptor": (
        "the zip was written in streaming mode (sizes after each member, not in its header); "
        "rebuild it with a build backend (hatchling, setuptools, flit-core, pdm-backend, uv "
        "write sizes up front), not with a streaming zip tool"
    ),
    "Comment in central directory": "a member carries a zip comment: rebuild without it",
    "ZIP64 extensible data not allowed": (
        "the ZIP64 end record carries extra data: rebuild it with a build backend (Python's "
        "zipfile writes plain ZIP64 records)"
    ),
    "Invalid character in filename": (
        "a member name holds a control character: rename that file in the source tree and rebuild"
    ),
    "Mis-matched data size": (
        "a member's local header and the central directory disagree on its size: the zip "
        "was edited after the build; rebuild it"
    ),
    "Mis-matched file size": (
        "a member's local header and the central directory disagree on its size: the zip "
        "was edited after the build; rebuild it"
    ),
    "Trailing data": (
        "there are bytes after the end of the zip (two files joined, or padding added in "
        "transfer): rebuild it, or download the artifact again"
    ),
    "Unknown record signature": (
        "there are bytes before the first member or between records (a prepended stub, or a "
        "record type PyPI does not read): rebuild it"
    ),
}


class _Refused(Exception):
    """One of warehouse's reasons; the walk stops at the first, as warehouse's does."""


def problems(fh: BinaryIO, central: Mapping[str, tuple[int, int]]) -> list[str]:
    """PyPI's verdict on the zip framing, as a problem line (or none).

    `central` maps each central-directory name, as `zipfile` decoded it (`orig_filename`),
    to its compressed and uncompressed sizes.
    """
    reason = refusal(fh, central)
    if reason is None:
        return []
    fix = _FIXES.get(reason, "rebuild it")
    return [f'PyPI refuses it ("{invalid_distribution(not_accepted(reason))}"): {fix}']


def not_accepted(reason: str) -> str:
    """warehouse/forklift/legacy.py `_is_valid_dist_file`: the reason, with the help link."""
    return f"ZIP archive not accepted: {reason}. {ARCHIVES_HELP}"


def refusal(fh: BinaryIO, central: Mapping[str, tuple[int, int]]) -> str | None:
    """warehouse/utils/zipfiles.py `_validate_zipfile`: its reason, or None when accepted."""
    fh.seek(0)
    walk = _Walk(fh, central)
    try:
        while not walk.step():
            pass
    except _Refused as exc:
        return str(exc)
    if walk.central_names != walk.local_names:  # pragma: no cover - checked record by record
        return "Mis-matched local headers and central directory"
    end = fh.tell()
    if end != fh.seek(0, os.SEEK_END):
        return "Trailing data"
    return None


class _Walk:
    """The records seen so far, and what the end records must then say."""

    def __init__(self, fh: BinaryIO, central: Mapping[str, tuple[int, int]]) -> None:
        self.fh = fh
        self.central = central
        self.local_names: set[bytes] = set()
        self.central_names: set[bytes] = set()
        self.eocd64_expected: int | None = None
        self.eocd64_located: int | None = None
        self.cd_records = 0
        self.cd_offset: int | None = None
        self.cd_size = 0
        self.eocd: tuple[int, int, int] | None = None  # records, size, offset

    def step(self) -> bool:
        """Read one record; True at the end record."""
        fh = self.fh
        signature = _read(fh, 4)
        if signature == _CENTRAL:
            if self.cd_offset is None:
                self.cd_offset = fh.tell() - 4
            self.cd_records += 1
            name, extra = _central_header(fh)
            self.cd_size += 46 + len(name) + len(extra)
            if name in self.central_names:
                raise _Refused("Duplicate filename in central directory")
            if name not in self.local_names:
                raise _Refused("Missing filename in local headers")
            self.central_names.add(name)
        elif signature == _LOCAL:
            name = _local_header(fh, self.central)
            if name in self.local_names:
                raise _Refused("Duplicate filename in local headers")
            self.local_names.add(name)
        elif signature == _EOCD:
            self._end()
            return True
        elif signature == _EOCD64:
            self.eocd64_expected = fh.tell() - 4
            self.eocd = _eocd64(fh)
        elif signature == _EOCD64_LOCATOR:
            (self.eocd64_located,) = struct.unpack("<xxxxQxxxx", _read(fh, 16))
        else:
            raise _Refused("Unknown record signature")
        return False

    def _end(self) -> None:
        # An end record after a ZIP64 one only once its locator was seen.
        if self.eocd64_expected is not None and self.eocd64_located is None:
            raise _Refused("Malformed zip file")
        if self.cd_offset is None:
            self.cd_offset = self.fh.tell() - 4
        plain = _eocd(self.fh)
        # A ZIP64 archive is described by its ZIP64 end record; the plain one is filler.
        if self.eocd64_located is None or self.eocd is None:
            self.eocd = plain
        records, size, offset = self.eocd
        if records != self.cd_records:
            raise _Refused("Mismatched central directory records")
        if offset != self.cd_offset:
            raise _Refused("Mismatched central directory offset")
        if size != self.cd_size:
            raise _Refused("Mismatched central directory size")


def _read(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise _Refused("Malformed zip file")
    return data


def _unprintable(name: bytes) -> bool:
    return any(byte in _UNPRINTABLE for byte in name)


def _local_header(fh: BinaryIO, central: Mapping[str, tuple[int, int]]) -> bytes:
    # APPNOTE.TXT 4.3.7
    flags, method, compressed, size, name_len, extra_len = struct.unpack(
        "<xxHHxxxxxxxxLLHH", _read(fh, 26)
    )
    name = _read(fh, name_len)
    extra = _read(fh, extra_len)
    if _unprintable(name):
        raise _Refused("Invalid character in filename")
    compressed, size = _extras(extra, method, compressed, size)
    if flags & _FLAG_DATA_DESCRIPTOR:
        raise _Refused("ZIP contains a data descriptor")
    try:
        expected_compressed, expected_size = central[name.decode("utf-8")]
    except UnicodeError:
        raise _Refused("Filename not unicode") from None
    except KeyError:
        raise _Refused("Filename not in central directory") from None
    if expected_compressed != compressed:
        raise _Refused("Mis-matched data size")
    if expected_size != size:
        raise _Refused("Mis-matched file size")
    fh.seek(compressed, os.SEEK_CUR)  # over the member's data, never read
    return name


def _extras(extra: bytes, method: int, compressed: int, size: int) -> tuple[int, int]:
    """Check a local header's extra fields; the sizes, as a ZIP64 extra corrects them."""
    seen: set[int] = set()
    while extra:
        if len(extra) < 4:
            raise _Refused("Malformed zip file")
        extra_id, extra_size = struct.unpack("<HH", extra[:4])
        if extra_size + 4 > len(extra):
            raise _Refused("Malformed zip file")
        if extra_id in seen and extra_id in _NO_DUPLICATES:
            raise _Refused("Invalid duplicate extra in local file")
        seen.add(extra_id)
        if extra_id == _ZIP64_EXTRA:
            compressed, size = _zip64_sizes(extra, extra_size, method, compressed, size)
        elif extra_id == _UNICODE_PATH_EXTRA:
            unicode_name = extra[9 : 4 + extra_size]
            if _unprintable(unicode_name):
                raise _Refused("Invalid character in filename")
            try:
                unicode_name.decode("utf-8")
            except UnicodeError:
                raise _Refused("Filename not valid UTF-8") from None
        extra = extra[extra_size + 4 :]
    return compressed, size


def _zip64_sizes(
    extra: bytes, extra_size: int, method: int, compressed: int, size: int
) -> tuple[int, int]:
    if extra_size not in (0, 8, 16, 24, 28):
        raise _Refused("Malformed zip file")
    if extra_size == 0:
        if _ZIP64_SENTINEL in (compressed, size):
            raise _Refused("Malformed zip file")
    elif extra_size == 8:
        # Only the uncompressed size: the member must be stored for both sizes to be it.
        if method != 0:
            raise _Refused("Malformed zip file")
        (uncompressed,) = struct.unpack("<Q", extra[4:12])
        compressed = uncompressed
        if size == _ZIP64_SENTINEL:
            size = uncompressed
    else:
        if size == _ZIP64_SENTINEL:
            (size,) = struct.unpack("<Q", extra[4:12])
        (compressed,) = struct.unpack("<Q", extra[12:20])
    return compressed, size


def _central_header(fh: BinaryIO) -> tuple[bytes, bytes]:
    # APPNOTE.TXT 4.3.12
    _compressed, name_len, extra_len, comment_len, _offset = struct.unpack(
        "<xxxxxxxxxxxxxxxxLxxxxHHHxxxxxxxxL", _read(fh, 42)
    )
    if comment_len != 0:
        raise _Refused("Comment in central directory")
    name = _read(fh, name_len)
    extra = _read(fh, extra_len)
    if _unprintable(name):
        raise _Refused("Invalid character in filename")
    return name, extra


def _eocd(fh: BinaryIO) -> tuple[int, int, int]:
    # APPNOTE.TXT 4.3.16
    on_disk, records, size, offset, comment_len = struct.unpack("<xxxxHHLLH", _read(fh, 18))
    if on_disk != records:
        raise _Refused("Malformed zip file")
    fh.seek(comment_len, os.SEEK_CUR)
    return records, size, offset


def _eocd64(fh: BinaryIO) -> tuple[int, int, int]:
    # APPNOTE.TXT 4.3.14
    record_size, on_disk, records, size, offset = struct.unpack("<QxxxxxxxxxxxxQQQQ", _read(fh, 52))
    if on_disk != records:
        raise _Refused("Malformed zip file")
    if record_size != 44:
        raise _Refused("ZIP64 extensible data not allowed")
    return records, size, offset
