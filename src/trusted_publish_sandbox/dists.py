"""Checks on the distribution file itself, as PyPI's upload view makes them.

The logic and texts follow ``warehouse/forklift/legacy.py`` (``_validate_filename``,
``_is_valid_dist_file``, ``_valid_platform_tag``), so a client tested against the sandbox
sees the refusals PyPI would give.
"""

from __future__ import annotations

import os.path
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Optional

__all__ = [
    "FILETYPE_EXTENSIONS",
    "is_valid_dist_file",
    "read_sdist_pkg_info",
    "read_wheel_member",
    "sdist_top_level",
    "tar_has_member",
    "valid_platform_tag",
    "validate_filename",
]

ONE_MIB = 1024 * 1024

_FILETYPE_EXTENSIONS = {"sdist": (".zip", ".tar.gz"), "bdist_wheel": (".whl",)}
FILETYPE_EXTENSIONS = _FILETYPE_EXTENSIONS

_DIST_FILE_RE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))$", re.I)

# Decompression-bomb guard: PyPI refuses archives that inflate past 50x once over 64 MiB.
COMPRESSION_RATIO_MIN_SIZE = 64 * ONE_MIB
COMPRESSION_RATIO_THRESHOLD = 50

_ALLOWED_PLATFORMS = {
    "any",
    "win32",
    "win_arm64",
    "win_amd64",
    "win_ia64",
    "manylinux1_x86_64",
    "manylinux1_i686",
    "manylinux2010_x86_64",
    "manylinux2010_i686",
    "manylinux2014_x86_64",
    "manylinux2014_i686",
    "manylinux2014_aarch64",
    "manylinux2014_armv7l",
    "manylinux2014_ppc64",
    "manylinux2014_ppc64le",
    "manylinux2014_s390x",
    "linux_armv6l",
    "linux_armv7l",
}
_MACOSX_RE = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)")
_MACOSX_ARCHES = {
    "ppc",
    "ppc64",
    "i386",
    "x86_64",
    "arm64",
    "intel",
    "fat",
    "fat3",
    "fat64",
    "universal",
    "universal2",
}
_MACOSX_MAJORS = {"11", "12", "13", "14", "15", "26"}
_IOS_RE = re.compile(r"ios_(\d+)_(\d+)_(?P<arch>.*)_(iphoneos|iphonesimulator)")
_IOS_ARCHES = {"arm64", "x86_64"}
_ANDROID_RE = re.compile(r"android_(\d+)_(?P<arch>.*)")
_ANDROID_ARCHES = {"armeabi_v7a", "arm64_v8a", "x86", "x86_64"}
_LINUX_RE = re.compile(r"(?P<libc>(many|musl))linux_(\d+)_(\d+)_(?P<arch>.*)")
_JOINT_LINUX_ARCHES = {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"}
_MANYLINUX_ARCHES = _JOINT_LINUX_ARCHES | {"ppc64"}


def valid_platform_tag(tag: str) -> bool:
    """Whether PyPI accepts a wheel platform tag (it refuses e.g. ``linux_x86_64``)."""
    if tag in _ALLOWED_PLATFORMS:
        return True
    match = _MACOSX_RE.match(tag)
    if match and match.group("major") == "10" and match.group("arch") in _MACOSX_ARCHES:
        return True
    if (
        match
        and match.group("major") in _MACOSX_MAJORS
        and match.group("minor") == "0"
        and match.group("arch") in _MACOSX_ARCHES
    ):
        return True
    match = _LINUX_RE.match(tag)
    if match and match.group("libc") == "musl":
        return match.group("arch") in _JOINT_LINUX_ARCHES
    if match and match.group("libc") == "many":
        return match.group("arch") in _MANYLINUX_ARCHES
    match = _IOS_RE.match(tag)
    if match and match.group("arch") in _IOS_ARCHES:
        return True
    match = _ANDROID_RE.match(tag)
    return bool(match and match.group("arch") in _ANDROID_ARCHES)


def validate_filename(filename: str, filetype: str) -> Optional[str]:
    """PyPI's refusal text for an unacceptable file name, or None."""
    if any(ord(char) < 32 or ord(char) == 127 for char in filename):
        return (
            "Cannot upload a file with non-printable characters (ordinals 0-31) "
            "or the DEL character (ordinal 127) in the name."
        )
    if "/" in filename or "\\" in filename:
        return "Cannot upload a file with '/' or '\\' in the name."
    match = _DIST_FILE_RE.match(filename)
    if match is None:
        return (
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
            "See https://www.python.org/dev/peps/pep-0527 "
            "and https://peps.python.org/pep-0715/ for more information"
        )
    extension = match.group("extension")
    if extension not in _FILETYPE_EXTENSIONS.get(filetype, ()):
        return (
            f"Invalid file extension: Extension {extension} is invalid for "
            f"filetype {filetype}. See https://www.python.org/dev/peps/pep-0527 "
            "for more information."
        )
    return None


def _common_prefix(names: list[str]) -> str:
    # PyPI takes the character-wise common prefix of the member names as the top-level
    # directory; kept as is so that the same archives pass and fail here as there.
    return os.path.commonprefix(names)  # noqa: RUF071


def _join(top_level: str, name: str) -> str:
    # os.path.join semantics on archive member names (always "/"-separated).
    return f"{top_level}{name}" if top_level.endswith("/") else f"{top_level}/{name}"


def _check_zip(path: Path, filename: str) -> tuple[bool, Optional[str]]:
    with zipfile.ZipFile(path) as zfp:
        compressed = path.stat().st_size
        decompressed = sum(info.file_size for info in zfp.infolist())
        if (
            decompressed > COMPRESSION_RATIO_MIN_SIZE
            and decompressed / max(compressed, 1) > COMPRESSION_RATIO_THRESHOLD
        ):
            return False, f"File exceeds compression ratio of {COMPRESSION_RATIO_THRESHOLD}"
        for info in zfp.infolist():
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                return False, "File does not use a supported compression type"
        if filename.endswith(".zip"):
            top_level = _common_prefix(zfp.namelist())
            if top_level in (".", "/", ""):
                return False, "Incorrect number of top-level directories in sdist"
            target = _join(top_level, "PKG-INFO")
        else:
            try:
                name, version, _ = filename.split("-", 2)
            except ValueError:
                return False, "Unable to parse name and version from wheel filename"
            target = f"{name}-{version}.dist-info/WHEEL"
        try:
            zfp.getinfo(target)
        except KeyError:
            return False, f"{target.rsplit('/', 1)[-1]} not found at {target}"
    return True, None


def _check_tar(path: Path) -> tuple[bool, Optional[str]]:
    if not tarfile.is_tarfile(path):
        return False, "File is not a tarfile"
    with tarfile.open(path, "r:gz") as tar:
        top_level = _common_prefix(tar.getnames())
        if top_level in (".", "/", ""):
            return False, "Incorrect number of top-level directories in sdist"
        target = _join(top_level, "PKG-INFO")
        try:
            tar.getmember(target)
        except KeyError:
            return False, f"PKG-INFO not found at {target}"
    return True, None


def is_valid_dist_file(path: Path, filename: str) -> tuple[bool, Optional[str]]:
    """``(ok, reason)`` for the archive at ``path`` uploaded as ``filename``."""
    if filename.endswith((".zip", ".whl")):
        if not zipfile.is_zipfile(path):
            return False, "File is not a zipfile"
        try:
            return _check_zip(path, filename)
        except zipfile.BadZipFile:
            return False, None
    if filename.endswith(".tar.gz"):
        try:
            return _check_tar(path)
        except (tarfile.TarError, EOFError, OSError):
            return False, None
    return True, None


def read_wheel_member(path: Path, member: str) -> Optional[bytes]:
    """A member of a wheel, or None when absent."""
    try:
        with zipfile.ZipFile(path) as zfp:
            return zfp.read(member)
    except (KeyError, zipfile.BadZipFile):
        return None


def tar_has_member(path: Path, member: str) -> bool:
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.getmember(member)
            return True
    except (KeyError, tarfile.TarError, OSError):
        return False


def sdist_top_level(path: Path) -> str:
    with tarfile.open(path, "r:gz") as tar:
        return _common_prefix(tar.getnames())


def read_sdist_pkg_info(path: Path) -> Optional[bytes]:
    """The top-level PKG-INFO of a .tar.gz sdist, or None."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.getmember(_join(_common_prefix(tar.getnames()), "PKG-INFO"))
            handle = tar.extractfile(member)
            return None if handle is None else handle.read()
    except (KeyError, tarfile.TarError, OSError):
        return None
