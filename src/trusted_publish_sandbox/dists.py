"""The distribution file's name and wheel platform tags, as PyPI's upload view judges them.

The logic and texts follow ``warehouse/forklift/legacy.py`` (``_validate_filename``,
``_valid_platform_tag``), so a client tested against the sandbox sees the refusals PyPI
would give. The archive itself is judged in ``archive.py``.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["FILETYPE_EXTENSIONS", "valid_platform_tag", "validate_filename"]

_FILETYPE_EXTENSIONS = {"sdist": (".zip", ".tar.gz"), "bdist_wheel": (".whl",)}
FILETYPE_EXTENSIONS = _FILETYPE_EXTENSIONS

_DIST_FILE_RE = re.compile(r".+?(?P<extension>\.(tar\.gz|zip|whl))$", re.I)

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
_PYEMSCRIPTEN_RE = re.compile(r"pyemscripten_(?P<major>\d+)_(?P<minor>\d+)_wasm32")


def valid_platform_tag(tag: str) -> bool:
    """Whether PyPI accepts a wheel platform tag (it refuses e.g. ``linux_x86_64``).

    ``re.match`` as there: a prefix match, so ``macosx_10_9_x86_64_extra`` is judged by
    its arch group, which then holds the rest.
    """
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
    if match and match.group("arch") in _ANDROID_ARCHES:
        return True
    return _PYEMSCRIPTEN_RE.match(tag) is not None


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
