"""Files built in code that each break one of PyPI's upload rules, with PyPI's words."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trove_classifiers import deprecated_classifiers

from support.builders import (
    make_sdist,
    make_wheel,
    metadata_text,
    patch_local_size,
)

SPEC = "See https://packaging.python.org/specifications/core-metadata for more information."


ARCHIVES = "See https://docs.pypi.org/archives for more information"


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Any]
    expect: tuple[str, ...]


def _meta(name: str, extra: str = "", **kwargs: Any) -> str:
    return metadata_text(name, "1.0.0", extra_headers=extra, **kwargs)


def _wheel_with(name: str, extra: str) -> Callable[[Path], Path]:
    return lambda f: make_wheel(f, name, metadata=_meta(name.replace("_", "-"), extra))


def _tag(tag: str) -> Callable[[Path], Path]:
    return lambda f: make_wheel(f, "tp_plat", tag=f"cp312-cp312-{tag}")


def _joined(folder: Path, *, prefix: bytes = b"", suffix: bytes = b"") -> None:
    wheel = make_wheel(folder, "tp_joined")
    wheel.write_bytes(prefix + wheel.read_bytes() + suffix)


def _tar_then_zip(folder: Path) -> None:
    # A tar any tar reader opens, with a wheel behind it that any zip reader opens.
    wheel = make_wheel(folder / "w", "tp_poly")
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"hi\n"))
    (folder / wheel.name).write_bytes(tar.getvalue() + wheel.read_bytes())
    wheel.unlink()
    (folder / "w").rmdir()


DEPRECATED_WITH = next(c for c, by in sorted(deprecated_classifiers.items()) if by)


DEPRECATED_WITHOUT = next(c for c, by in sorted(deprecated_classifiers.items()) if not by)


CASES: dict[str, Case] = {
    # -- warehouse/forklift/metadata.py `_validate_metadata` --
    "unknown-classifier": Case(
        _wheel_with("tp_cls", "Classifier: Framework :: Nonesuch\n"),
        (
            "metadata field Classifier: PyPI refuses it (\"'Framework :: Nonesuch' is not a "
            f'valid classifier. {SPEC}"); use one from https://pypi.org/classifiers/ (checked '
            "against trove-classifiers 20",
            "set `verify-metadata: false`",
        ),
    ),
    "deprecated-classifier-with-replacement": Case(
        _wheel_with("tp_dep", f"Classifier: {DEPRECATED_WITH}\n"),
        (
            f'"The classifier {DEPRECATED_WITH!r} has been deprecated, use one of '
            f'{deprecated_classifiers[DEPRECATED_WITH]} instead. {SPEC}"); replace it with '
            f"{deprecated_classifiers[DEPRECATED_WITH][0]!r}",
        ),
    ),
    "deprecated-classifier": Case(
        _wheel_with("tp_dep2", f"Classifier: {DEPRECATED_WITHOUT}\n"),
        (f'"The classifier {DEPRECATED_WITHOUT!r} has been deprecated. {SPEC}"); remove it',),
    ),
    "author-email": Case(
        lambda f: make_wheel(
            f, "tp_mail", metadata=_meta("tp-mail").replace("sam@example.org", "sam@localhost")
        ),
        (
            "metadata field Author-email: PyPI refuses it (\"'sam@localhost' is not a valid "
            "email address: The part after the @-sign is not valid. It should have a period.",
            "fix the address in pyproject.toml",
        ),
    ),
    "maintainer-email": Case(
        _wheel_with("tp_mmail", "Maintainer-email: Mai <m..x@example.org>\n"),
        (
            "metadata field Maintainer-email: PyPI refuses it (\"'m..x@example.org' is not a "
            "valid email address: An email address cannot have two periods in a row.",
        ),
    ),
    # Any version warehouse does not list (SUPPORTED_METADATA_VERSIONS), newer than packaging
    # knows or not: refused by packaging's or warehouse's check, in the same words.
    "metadata-version-3.0": Case(
        lambda f: make_wheel(f, "tp_mv3", metadata=_meta("tp-mv3", metadata_version="3.0")),
        (
            "metadata field Metadata-Version: PyPI accepts 1.0 to 2.5, not '3.0' (\"'3.0' is "
            f'not a valid metadata version. {SPEC}")',
            "set `verify-metadata: false`",
        ),
    ),
    "home-page-not-http": Case(
        lambda f: make_wheel(
            f, "tp_home", metadata=_meta("tp-home", "Home-page: ftp://example.org/x\n")
        ),
        (
            "metadata field Home-page: PyPI refuses it (\"'ftp://example.org/x' is not a valid "
            f'url. {SPEC}"); use an http:// or https:// URL',
        ),
    ),
    "download-url-not-a-url": Case(
        _wheel_with("tp_dl", "Download-URL: example.org/download\n"),
        ("metadata field Download-URL: PyPI refuses it (\"'example.org/download' is not a valid",),
    ),
    "project-url-label-too-long": Case(
        _wheel_with(
            "tp_label", "Project-URL: Where the documentation lives nowadays, https://x.org\n"
        ),
        (
            "metadata field Project-URL: PyPI refuses it (\"'Where the documentation lives "
            "nowadays' must be 32 characters or less.",
            "shorten the label",
        ),
    ),
    "project-url-without-url": Case(
        _wheel_with("tp_nourl", "Project-URL: Changelog\n"),
        (f'metadata field Project-URL: PyPI refuses it ("Must have a URL. {SPEC}")',),
    ),
    "project-url-not-http": Case(
        _wheel_with("tp_gitrl", "Project-URL: Repository, git+ssh://git@example.org/x.git\n"),
        (
            "metadata field Project-URL: PyPI refuses it (\"'git+ssh://git@example.org/x.git' "
            "is not a valid url.",
        ),
    ),
    "provides-dist-invalid": Case(
        _wheel_with("tp_prov", "Provides-Dist: tp prov !!\n"),
        ("metadata field Provides-Dist: PyPI refuses it (\"'tp prov !!' is invalid: ",),
    ),
    "obsoletes-dist-url": Case(
        _wheel_with("tp_obs", "Obsoletes-Dist: tp-old @ https://example.org/tp_old.whl\n"),
        (
            "metadata field Obsoletes-Dist: PyPI refuses it (\"Can't have direct dependency: "
            "'tp-old @ https://example.org/tp_old.whl'.",
        ),
    ),
    "requires-dist-url": Case(
        _wheel_with("tp_req", "Requires-Dist: tp-lib @ https://example.org/tp_lib-1.0.tar.gz\n"),
        (
            "metadata field Requires-Dist: PyPI refuses it (\"Can't have direct dependency: "
            "tp-lib @ https://example.org/tp_lib-1.0.tar.gz.",
            "depend on a released version of tp-lib instead",
        ),
    ),
    "license-and-license-expression": Case(
        _wheel_with("tp_lic", "License: MIT License, the whole text\n"),
        (
            'metadata field License: PyPI refuses it ("License is deprecated when '
            "License-Expression is present. Only License-Expression should be present.",
            "drop the License field",
        ),
    ),
    # -- warehouse/forklift/legacy.py `_valid_platform_tag` --
    "macos-11-minor": Case(
        _tag("macosx_11_3_arm64"),
        (
            "platform tag 'macosx_11_3_arm64' is refused by PyPI (\"Binary wheel "
            "'tp_plat-1.0.0-cp312-cp312-macosx_11_3_arm64.whl' has an unsupported platform tag "
            "'macosx_11_3_arm64'.\"): since macOS 11 the tag is macosx_11_0_arm64",
        ),
    ),
    "manylinux-unknown-arch": Case(
        _tag("manylinux_2_17_sparc64"),
        ("unsupported platform tag 'manylinux_2_17_sparc64'.\"): PyPI does not take this",),
    ),
    "musllinux-ppc64": Case(
        _tag("musllinux_1_2_ppc64"), ("unsupported platform tag 'musllinux_1_2_ppc64'.",)
    ),
    "bare-linux": Case(
        _tag("linux_x86_64"), ("'linux_x86_64'.\"): repair the wheel with auditwheel",)
    ),
    "emscripten": Case(
        _tag("emscripten_3_1_58_wasm32"),
        ("'emscripten_3_1_58_wasm32'.\"): PyPI takes only pyemscripten_",),
    ),
    "freebsd": Case(
        _tag("freebsd_14_0_release_amd64"),
        (
            "'freebsd_14_0_release_amd64'.\"): PyPI takes wheels for Windows, macOS, manylinux, "
            "musllinux, iOS, Android and pyemscripten only (PyPI's allow-list from "
            "pypi/warehouse as of",
        ),
    ),
    "cygwin": Case(_tag("cygwin_3_5_x86_64"), ("unsupported platform tag 'cygwin_3_5_x86_64'.",)),
    "windows-arm32": Case(_tag("win_arm32"), ("unsupported platform tag 'win_arm32'.",)),
    "ios-unknown-arch": Case(
        _tag("ios_13_0_armv7_iphoneos"), ("unsupported platform tag 'ios_13_0_armv7_iphoneos'.",)
    ),
    "android-unknown-arch": Case(
        _tag("android_21_mips"), ("unsupported platform tag 'android_21_mips'.",)
    ),
    # -- warehouse/utils/zipfiles.py `validate_zipfile` --
    "zip-data-descriptor": Case(
        lambda f: make_wheel(f, "tp_stream", streaming=True),
        (
            'PyPI refuses it ("Invalid distribution file. ZIP archive not accepted: ZIP '
            f'contains a data descriptor. {ARCHIVES}"): the zip was written in streaming mode',
        ),
    ),
    "zip-member-comment": Case(
        lambda f: make_wheel(f, "tp_comment", member_comment=b"built on a Tuesday"),
        ("ZIP archive not accepted: Comment in central directory.",),
    ),
    "zip-unprintable-name": Case(
        lambda f: make_wheel(f, "tp_ctl", extra_files={"tp_ctl/a\x1bb.py": b""}),
        ("ZIP archive not accepted: Invalid character in filename.",),
    ),
    "zip-sizes-disagree": Case(
        lambda f: patch_local_size(make_wheel(f, "tp_sizes"), "tp_sizes/__init__.py"),
        ("ZIP archive not accepted: Mis-matched file size.", "edited after the build"),
    ),
    "zip-bytes-before": Case(
        lambda f: _joined(f, prefix=b"#!/bin/sh\nexit 0\n"),
        ("ZIP archive not accepted: Unknown record signature.", "bytes before the first member"),
    ),
    "zip-bytes-after": Case(
        lambda f: _joined(f, suffix=b"\0" * 512),
        ("ZIP archive not accepted: Trailing data.",),
    ),
    "zip-and-tar": Case(
        _tar_then_zip,
        ('PyPI refuses it ("Invalid distribution file. File is both a zip and a tar file")',),
    ),
    # -- warehouse/forklift/legacy.py `_is_valid_dist_file` --
    "sdist-sparse-member": Case(
        lambda f: make_sdist(f, "tp_sparse", sparse=["tp_sparse-1.0.0/LICENSE"]),
        (
            'PyPI refuses it ("Invalid distribution file. tar archive not accepted: Sparse '
            f"members are not allowed. {ARCHIVES}\"): sparse members ('tp_sparse-1.0.0/LICENSE')",
        ),
    ),
    # -- warehouse/utils/wheel.py `validate_entrypoints` --
    # warehouse/forklift/legacy.py `file_upload`: readme_renderer's Markdown (comrak) renders
    # link reference definitions alone to nothing.
    "markdown-renders-to-nothing": Case(
        lambda f: make_wheel(
            f, "tp_mdnil", metadata=_meta("tp-mdnil", body="[docs]: https://example.org/docs\n")
        ),
        (
            "the description (README) holds only link reference definitions: as Markdown it "
            'renders to nothing, and PyPI refuses the upload ("The description failed to '
            "render for 'text/markdown'. See https://pypi.org/help/#description-content-type "
            'for more information.")'
        ),
    ),
    "entry-points-not-ini": Case(
        lambda f: make_wheel(
            f,
            "tp_ep",
            extra_files={"tp_ep-1.0.0.dist-info/entry_points.txt": b"tp-ep = tp_ep:main\n"},
        ),
        (
            "tp_ep-1.0.0.dist-info/entry_points.txt: entry_points.txt is not a valid INI file: "
            "File contains no section headers. file: '<string>', line: 1",
            "so PyPI refuses the wheel (\"Wheel 'tp_ep-1.0.0-py3-none-any.whl' has invalid entry "
            'points defined in the entry_points.txt file")',
        ),
    ),
    "entry-point-name-with-slash": Case(
        lambda f: make_wheel(
            f,
            "tp_eps",
            extra_files={
                "tp_eps-1.0.0.dist-info/entry_points.txt": b"[console_scripts]\n"
                b"../bin/tp = tp_eps:main\n"
            },
        ),
        ("Invalid entry point name '../bin/tp' in 'console_scripts', so PyPI refuses the wheel",),
    ),
}
