"""The record framing of an uploaded zip, checked as PyPI checks it before it takes a wheel.

A port of ``warehouse/utils/zipfiles.py`` (``validate_zipfile``): walk the records from
byte 0, as a streaming reader would, and refuse anything that a reader going by the
central directory would see differently (data descriptors, comments in the central
directory, ZIP64 extensible data, unprintable or duplicate names, sizes that disagree,
bytes before the first record or after the end record). Only record headers are read;
member data is skipped with a seek, so memory and time do not grow with the members.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from typing import BinaryIO, Optional

__all__ = ["framing_error"]

_CENTRAL_DIRECTORY = b"PK\x01\x02"
_LOCAL_FILE = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_ZIP64_EXTRA = 0x0001
_UNICODE_PATH_EXTRA = 0x7075
_NO_DUPLICATE_EXTRAS = {_ZIP64_EXTRA, _UNICODE_PATH_EXTRA}
_UNPRINTABLE = set(range(0x20)) | {0x7F}
_MAX32 = 0xFFFFFFFF


class _Invalid(Exception):
    """The first reason the archive is refused (warehouse's ``InvalidZipFileError``)."""


def _read(fp: BinaryIO, amount: int) -> bytes:
    data = fp.read(amount)
    if len(data) != amount:
        raise _Invalid("Malformed zip file")
    return data


def _unprintable(value: bytes) -> bool:
    return any(byte in _UNPRINTABLE for byte in value)


def _zip64_sizes(
    data_size: int, data: bytes, method: int, compressed: int, size: int
) -> tuple[int, int]:
    # warehouse/utils/zipfiles.py `_handle_local_file_header`: the ZIP64 extra's lengths.
    if data_size not in (0, 8, 16, 24, 28):
        raise _Invalid("Malformed zip file")
    if data_size == 0:
        if _MAX32 in (compressed, size):
            raise _Invalid("Malformed zip file")
        return compressed, size
    if data_size == 8:
        # Only the uncompressed size: the member must be stored for both sizes to agree.
        if method != 0:
            raise _Invalid("Malformed zip file")
        (uncompressed,) = struct.unpack("<Q", data[:8])
        return uncompressed, uncompressed if size == _MAX32 else size
    if size == _MAX32:
        (size,) = struct.unpack("<Q", data[:8])
    (compressed,) = struct.unpack("<Q", data[8:16])
    return compressed, size


def _walk_extras(extra: bytes, method: int, compressed: int, size: int) -> tuple[int, int]:
    """A local header's extra fields; its (compressed, uncompressed) sizes after ZIP64."""
    seen: set[int] = set()
    while extra:
        if len(extra) < 4:
            raise _Invalid("Malformed zip file")
        extra_id, data_size = struct.unpack("<HH", extra[:4])
        if data_size + 4 > len(extra):
            raise _Invalid("Malformed zip file")
        if extra_id in seen and extra_id in _NO_DUPLICATE_EXTRAS:
            raise _Invalid("Invalid duplicate extra in local file")
        seen.add(extra_id)
        data = extra[4 : 4 + data_size]
        if extra_id == _ZIP64_EXTRA:
            compressed, size = _zip64_sizes(data_size, data, method, compressed, size)
        elif extra_id == _UNICODE_PATH_EXTRA:
            unicode_name = data[5:]  # after the version byte and the name's CRC-32
            if _unprintable(unicode_name):
                raise _Invalid("Invalid character in filename")
            try:
                unicode_name.decode("utf-8")
            except UnicodeError:
                raise _Invalid("Filename not valid UTF-8") from None
        extra = extra[4 + data_size :]
    return compressed, size


def _local_file(fp: BinaryIO, central: Mapping[str, tuple[int, int]]) -> bytes:
    flags, method, compressed, size, name_size, extra_size = struct.unpack(
        "<xxHHxxxxxxxxLLHH", _read(fp, 26)
    )
    name = _read(fp, name_size)
    extra = _read(fp, extra_size)
    if _unprintable(name):
        raise _Invalid("Invalid character in filename")
    compressed, size = _walk_extras(extra, method, compressed, size)
    if flags & 0x08:
        raise _Invalid("ZIP contains a data descriptor")
    try:
        expected_compressed, expected_size = central[name.decode("utf-8")]
    except UnicodeError:
        raise _Invalid("Filename not unicode") from None
    except KeyError:
        raise _Invalid("Filename not in central directory") from None
    if expected_compressed != compressed:
        raise _Invalid("Mis-matched data size")
    if expected_size != size:
        raise _Invalid("Mis-matched file size")
    fp.seek(compressed, os.SEEK_CUR)
    return name


def _central_directory(fp: BinaryIO) -> tuple[bytes, bytes]:
    name_size, extra_size, comment_size = struct.unpack("<24xHHH12x", _read(fp, 42))
    if comment_size != 0:
        raise _Invalid("Comment in central directory")
    name = _read(fp, name_size)
    extra = _read(fp, extra_size)
    if _unprintable(name):
        raise _Invalid("Invalid character in filename")
    return name, extra


def _eocd(fp: BinaryIO) -> tuple[int, int, int]:
    on_disk, records, size, offset, comment_size = struct.unpack("<xxxxHHLLH", _read(fp, 18))
    if on_disk != records:
        raise _Invalid("Malformed zip file")
    fp.seek(comment_size, os.SEEK_CUR)  # the end record's own comment is allowed
    return records, size, offset


def _eocd64(fp: BinaryIO) -> tuple[int, int, int]:
    record_size, on_disk, records, size, offset = struct.unpack("<Q12xQQQQ", _read(fp, 52))
    if on_disk != records:
        raise _Invalid("Malformed zip file")
    if record_size != 44:
        raise _Invalid("ZIP64 extensible data not allowed")
    return records, size, offset


class _Walk:
    """What the walk has seen so far (warehouse's locals in ``_validate_zipfile``)."""

    def __init__(self) -> None:
        self.local_names: set[bytes] = set()
        self.central_names: set[bytes] = set()
        self.eocd64_at: Optional[int] = None
        self.locator_to: Optional[int] = None
        self.cd_records = 0
        self.cd_offset: Optional[int] = None
        self.cd_size = 0
        self.end: Optional[tuple[int, int, int]] = None  # records, size, offset


def _on_central_directory(fp: BinaryIO, walk: _Walk) -> None:
    if walk.cd_offset is None:
        walk.cd_offset = fp.tell() - 4
    walk.cd_records += 1
    name, extra = _central_directory(fp)
    walk.cd_size += 46 + len(name) + len(extra)
    if name in walk.central_names:
        raise _Invalid("Duplicate filename in central directory")
    if name not in walk.local_names:
        raise _Invalid("Missing filename in local headers")
    walk.central_names.add(name)


def _on_end(fp: BinaryIO, walk: _Walk) -> None:
    if walk.cd_offset is None:
        walk.cd_offset = fp.tell() - 4
    # A ZIP64 archive's counts come from its ZIP64 end record.
    if walk.locator_to is not None and walk.end is not None:
        _eocd(fp)
    else:
        walk.end = _eocd(fp)
    records, size, offset = walk.end
    if records != walk.cd_records:
        raise _Invalid("Mismatched central directory records")
    if offset != walk.cd_offset:
        raise _Invalid("Mismatched central directory offset")
    if size != walk.cd_size:
        raise _Invalid("Mismatched central directory size")


def _step(fp: BinaryIO, central: Mapping[str, tuple[int, int]], walk: _Walk) -> bool:
    """Read one record; True once the end record has been read."""
    signature = _read(fp, 4)
    if signature == _EOCD and walk.eocd64_at is not None and walk.locator_to is None:
        raise _Invalid("Malformed zip file")
    if signature == _CENTRAL_DIRECTORY:
        _on_central_directory(fp, walk)
    elif signature == _LOCAL_FILE:
        name = _local_file(fp, central)
        if name in walk.local_names:
            raise _Invalid("Duplicate filename in local headers")
        walk.local_names.add(name)
    elif signature == _EOCD:
        _on_end(fp, walk)
        return True
    elif signature == _EOCD64:
        walk.eocd64_at = fp.tell() - 4
        walk.end = _eocd64(fp)
    elif signature == _EOCD64_LOCATOR:
        (walk.locator_to,) = struct.unpack("<xxxxQxxxx", _read(fp, 16))
    else:
        raise _Invalid("Unknown record signature")
    return False


def framing_error(fp: BinaryIO, central: Mapping[str, tuple[int, int]]) -> Optional[str]:
    """Why PyPI refuses the zip in ``fp`` (its reason, e.g. ``Trailing data``), or None.

    ``central`` maps each member name (as Python's zipfile decodes it) to its compressed
    and uncompressed size in the central directory.
    """
    fp.seek(0)
    walk = _Walk()
    try:
        while not _step(fp, central, walk):
            pass
    except _Invalid as invalid:
        return str(invalid)
    if walk.central_names != walk.local_names:
        return "Mis-matched local headers and central directory"
    here = fp.tell()
    if here != fp.seek(0, os.SEEK_END):
        return "Trailing data"
    return None
