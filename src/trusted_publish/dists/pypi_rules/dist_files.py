"""What PyPI refuses about a distribution file as a whole (warehouse/forklift/legacy.py).

Its name (`_validate_filename`), and its kind (`_is_valid_dist_file`): a file both a zip and
a tar, a zip that is a decompression bomb or uses another compression, an sdist whose tar has
sparse members, an sdist without one top-level folder holding PKG-INFO, a wheel without its
WHEEL; then `file_upload`'s checks of a wheel's members (License-File, RECORD, METADATA).
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from trusted_publish.dists.pypi_rules import ARCHIVES_HELP, invalid_distribution, zip_framing

#: warehouse/forklift/legacy.py `_filetype_extension_mapping`, `_dist_file_re`.
FILETYPE_EXTENSIONS = {"sdist": (".zip", ".tar.gz"), "bdist_wheel": (".whl",)}
_DIST_FILE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))$", re.IGNORECASE)
_CONTROL = frozenset(chr(c) for c in range(32)) | {chr(127)}

#: legacy.py `COMPRESSION_RATIO_MIN_SIZE`, `COMPRESSION_RATIO_THRESHOLD`: a zip inflating
#: past 50 times its size once over 64 MiB is a decompression bomb.
COMPRESSION_RATIO_MIN_SIZE = 64 * 1024 * 1024
COMPRESSION_RATIO_THRESHOLD = 50
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

# legacy.py `_validate_filename` and `_is_valid_dist_file`: warehouse's words.
CONTROL_CHARACTERS = (
    "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL character "
    "(ordinal 127) in the name."
)
BOTH_ZIP_AND_TAR = "File is both a zip and a tar file"
NOT_A_ZIP = "File is not a zipfile"
NOT_A_TAR = "File is not a tarfile"
BOMB = f"File exceeds compression ratio of {COMPRESSION_RATIO_THRESHOLD}"
UNSUPPORTED_COMPRESSION = "File does not use a supported compression type"
TOP_LEVEL = "Incorrect number of top-level directories in sdist"
SPARSE = f"tar archive not accepted: Sparse members are not allowed. {ARCHIVES_HELP}"
ONE_SDIST = "Only one sdist may be uploaded per release."


def filename_refusal(filename: str, filetype: str) -> str | None:
    """warehouse/forklift/legacy.py `_validate_filename`: its text, or None."""
    if any(c in _CONTROL for c in filename):
        return CONTROL_CHARACTERS
    if "/" in filename or "\\" in filename:
        return "Cannot upload a file with '/' or '\\' in the name."
    match = _DIST_FILE.match(filename)
    if match is None:
        return (
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
            "See https://www.python.org/dev/peps/pep-0527 "
            "and https://peps.python.org/pep-0715/ for more information"
        )
    extension = match.group("extension")
    if extension not in FILETYPE_EXTENSIONS.get(filetype, ()):
        return (
            f"Invalid file extension: Extension {extension} is invalid for "
            f"filetype {filetype}. See https://www.python.org/dev/peps/pep-0527 "
            "for more information."
        )
    return None


def filename_problems(filename: str) -> list[str]:
    """warehouse `_validate_filename`: no control character (a newline, a tab...) in a name."""
    bad = sorted({c for c in filename if c in _CONTROL})
    if not bad:
        return []
    shown = ", ".join(f"U+{ord(c):04X}" for c in bad)
    return [
        f'its name holds control characters ({shown}); PyPI refuses it ("{CONTROL_CHARACTERS}"): '
        "rename it to what the build backend wrote, or rebuild it"
    ]


def zip_and_tar_problems(path: Path) -> list[str]:
    """warehouse `_is_valid_dist_file`: a file read as a zip by some tools, a tar by others."""
    # Both tests read a few headers only: the zip's end record, the tar's first block.
    if not (zipfile.is_zipfile(path) and tarfile.is_tarfile(path)):
        return []
    return [
        f'PyPI refuses it ("{invalid_distribution(BOTH_ZIP_AND_TAR)}"): tools would disagree '
        "on what it holds; rebuild it, or download the artifact again"
    ]


SPARSE_PROBLEM = (
    f'PyPI refuses it ("{invalid_distribution(SPARSE)}"): sparse members ({{members}}) are a '
    "GNU tar extension; rebuild the sdist with a build backend (it writes plain members)"
)


def top_level(names: Iterable[str]) -> str:
    """The sdist's common top-level folder as warehouse computes it (`_commonpath`), or ''."""
    names = list(names)
    if not names:
        return ""
    try:
        return posixpath.commonpath(names)
    except ValueError:  # absolute and relative names mixed: no common folder
        return ""


def sdist_layout_refusal(names: Sequence[str]) -> str | None:
    """warehouse `_is_valid_dist_file`: one top-level folder, with PKG-INFO in it."""
    top = top_level(names)
    if top in {".", "/", ""}:
        return TOP_LEVEL
    target = posixpath.join(top, "PKG-INFO")
    if target not in names:
        return f"PKG-INFO not found at {target}"
    return None


def sdist_layout_problems(names: Iterable[str]) -> list[str]:
    """`sdist_layout_refusal`, with what to do."""
    reason = sdist_layout_refusal(list(names))
    if reason is None:
        return []
    if reason == TOP_LEVEL:
        fix = "an sdist holds one folder, {name}-{version}/, and everything in it; rebuild it"
    else:
        fix = "rebuild it with a build backend (it writes PKG-INFO)"
    return [f'PyPI refuses it ("{invalid_distribution(reason)}"): {fix}']


def tar_refusal(names: Sequence[str], sparse: Sequence[str]) -> str | None:
    """warehouse `_is_valid_dist_file`, the tar half: sparse members, then the layout."""
    return SPARSE if sparse else sdist_layout_refusal(names)


def zip_refusal(
    fh: BinaryIO, infos: Sequence[zipfile.ZipInfo], size: int, filename: str
) -> str | None:
    """warehouse `_is_valid_dist_file`, the zip half (the YARA scan aside), in its order.

    `fh` is the open file, `infos` its central directory, `size` its size in bytes.
    """
    inflated = sum(i.file_size for i in infos)
    if (
        inflated > COMPRESSION_RATIO_MIN_SIZE
        and inflated / max(size, 1) > COMPRESSION_RATIO_THRESHOLD
    ):
        return BOMB
    if any(i.compress_type not in ZIP_METHODS for i in infos):
        return UNSUPPORTED_COMPRESSION
    names = {i.filename for i in infos}
    if filename.endswith(".zip"):
        reason = sdist_layout_refusal([i.filename for i in infos])
        if reason is not None:
            return reason
    else:
        try:
            name, version, _ = filename.split("-", 2)
        except ValueError:
            return "Unable to parse name and version from wheel filename"
        target = f"{name}-{version}.dist-info/WHEEL"
        if target not in names:
            return f"WHEEL not found at {target}"
    central = {i.orig_filename: (i.compress_size, i.file_size) for i in infos}
    framing = zip_framing.refusal(fh, central)
    return None if framing is None else zip_framing.not_accepted(framing)


def license_file_missing(license_file: str, filename: str, target: str) -> str:
    """legacy.py `file_upload`: a License-File (Metadata-Version 2.4+) not in the archive."""
    return f"License-File {license_file} does not exist in distribution file {filename} at {target}"


def no_record(filename: str, member: str) -> str:
    """legacy.py `file_upload`: warehouse/utils/wheel.py `validate_record` found no RECORD."""
    return f"Wheel '{filename}' does not contain the required RECORD file: {member}"


def no_metadata(filename: str, member: str) -> str:
    """legacy.py `file_upload`: the wheel has no METADATA where its file name says."""
    return f"Wheel '{filename}' does not contain the required METADATA file: {member}"
