"""The wheel platform tags PyPI accepts (warehouse/forklift/legacy.py `_valid_platform_tag`).

An allow-list, so a copy of it can be older than PyPI's: a refusal names the warehouse
commit it was copied from and the escape.
"""

from __future__ import annotations

import re

from trusted_publish.dists.pypi_rules import ESCAPE, WAREHOUSE_AS_OF

# warehouse/forklift/legacy.py `_allowed_platforms`
_ALLOWED = frozenset({
    "any", "win32", "win_arm64", "win_amd64", "win_ia64",
    "manylinux1_x86_64", "manylinux1_i686", "manylinux2010_x86_64", "manylinux2010_i686",
    "manylinux2014_x86_64", "manylinux2014_i686", "manylinux2014_aarch64",
    "manylinux2014_armv7l", "manylinux2014_ppc64", "manylinux2014_ppc64le",
    "manylinux2014_s390x", "linux_armv6l", "linux_armv7l",
})  # fmt: skip
# `_macosx_platform_re`, `_macosx_arches`, `_macosx_major_versions`
_MACOSX = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)")
_MACOSX_ARCHES = frozenset({
    "ppc", "ppc64", "i386", "x86_64", "arm64", "intel", "fat", "fat3", "fat64", "universal",
    "universal2",
})  # fmt: skip
_MACOSX_MAJORS = frozenset({"11", "12", "13", "14", "15", "26"})
# `_ios_platform_re`, `_ios_arches`
_IOS = re.compile(r"ios_(\d+)_(\d+)_(?P<arch>.*)_(iphoneos|iphonesimulator)")
_IOS_ARCHES = frozenset({"arm64", "x86_64"})
# `_android_platform_re`, `_android_arches`
_ANDROID = re.compile(r"android_(\d+)_(?P<arch>.*)")
_ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})
# `_linux_platform_re`, `_jointlinux_arches` (PEP 600 manylinux, PEP 656 musllinux)
_LINUX = re.compile(r"(?P<libc>(many|musl))linux_(\d+)_(\d+)_(?P<arch>.*)")
_MUSLLINUX_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"}
)
_MANYLINUX_ARCHES = _MUSLLINUX_ARCHES | {"ppc64"}
# `_pyemscripten_platform_re`
_PYEMSCRIPTEN = re.compile(r"pyemscripten_(?P<major>\d+)_(?P<minor>\d+)_wasm32")


def is_valid(platform: str) -> bool:
    """warehouse/forklift/legacy.py `_valid_platform_tag`, rule for rule (`re.match` too)."""
    if platform in _ALLOWED:
        return True
    m = _MACOSX.match(platform)
    # macOS 10.x tags count minors; from 11 on, only `macosx_{major}_0` is a tag.
    if m and m["major"] == "10" and m["arch"] in _MACOSX_ARCHES:
        return True
    if m and m["major"] in _MACOSX_MAJORS and m["minor"] == "0" and m["arch"] in _MACOSX_ARCHES:
        return True
    m = _LINUX.match(platform)
    if m:
        arches = _MUSLLINUX_ARCHES if m["libc"] == "musl" else _MANYLINUX_ARCHES
        return m["arch"] in arches
    m = _IOS.match(platform)
    if m and m["arch"] in _IOS_ARCHES:
        return True
    m = _ANDROID.match(platform)
    if m and m["arch"] in _ANDROID_ARCHES:
        return True
    return bool(_PYEMSCRIPTEN.match(platform))


def problems(filename: str, platforms: list[str]) -> list[str]:
    """One problem per platform tag of the wheel PyPI would refuse, with warehouse's text."""
    return [
        f'platform tag {platform!r} is refused by PyPI ("{unsupported(filename, platform)}"): '
        f"{_fix(platform)}"
        for platform in sorted(set(platforms))
        if not is_valid(platform)
    ]


def unsupported(filename: str, platform: str) -> str:
    """warehouse/forklift/legacy.py `file_upload`: its text for a tag `is_valid` refuses."""
    return f"Binary wheel '{filename}' has an unsupported platform tag '{platform}'."


def _fix(platform: str) -> str:
    listed = f"(PyPI's allow-list from {WAREHOUSE_AS_OF}; {ESCAPE})"
    if platform.startswith("linux_"):
        return (
            "repair the wheel with auditwheel (or build it with cibuildwheel) to get a "
            "manylinux or musllinux tag; a bare linux_* wheel only runs where it was built"
        )
    m = _MACOSX.match(platform)
    if m and m["major"] != "10" and m["minor"] != "0" and m["major"] in _MACOSX_MAJORS:
        return (
            f"since macOS 11 the tag is macosx_{m['major']}_0_{m['arch']}: build with "
            f"MACOSX_DEPLOYMENT_TARGET={m['major']}.0 (cibuildwheel and current wheel and "
            "setuptools releases write it so)"
        )
    if m or _LINUX.match(platform) or _IOS.match(platform) or _ANDROID.match(platform):
        return f"PyPI does not take this architecture or version {listed}"
    if platform.startswith("emscripten_"):
        return (
            "PyPI takes only pyemscripten_{year}_{n}_wasm32 wheels (the Pyodide ABI): build "
            f"with a pyodide-build that writes that tag {listed}"
        )
    return (
        "PyPI takes wheels for Windows, macOS, manylinux, musllinux, iOS, Android and "
        f"pyemscripten only {listed}; publish this one on another index"
    )
