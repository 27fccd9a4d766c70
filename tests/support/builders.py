"""Distributions made by code, so tests need no checked-in binaries.

`make_wheel` and `make_sdist` write archives shaped like a build backend's, with every part
overridable so a test can break exactly one rule.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import tarfile
import zipfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

_MARKDOWN = "text/markdown"
_REQUIRES_DIST = ("requests>=2", "click; extra == 'cli'")


def metadata_text(
    name: str = "tp-sample",
    version: str = "1.0.0",
    *,
    metadata_version: str = "2.4",
    extra_headers: str = "",
    body: str = "# tp-sample\n\nA sample project.\n",
    content_type: str | None = _MARKDOWN,
    requires_dist: Sequence[str] = _REQUIRES_DIST,
) -> str:
    """A METADATA/PKG-INFO as a current backend writes it; `content_type=None` leaves
    Description-Content-Type out. `requires_dist=()` makes a package that installs alone."""
    return (
        f"Metadata-Version: {metadata_version}\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        "Summary: A sample distribution made by a test\n"
        "Keywords: sample,test\n"
        "Author-email: Sam Ple <sam@example.org>\n"
        "License-Expression: MIT\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: Operating System :: OS Independent\n"
        "Requires-Python: >=3.9\n"
        + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires_dist)
        + "Provides-Extra: cli\n"
        "Project-URL: Homepage, https://example.org\n"
        "Project-URL: Source, https://example.org/src\n"
        + (f"Description-Content-Type: {content_type}\n" if content_type else "")
        + f"{extra_headers}"
        "\n"
        f"{body}"
    )


#: Per Metadata-Version, the fields it introduced (core-metadata specification history).
_FIELDS_ADDED = {
    "1.0": (
        "Platform: any\nSummary: s\nKeywords: a,b\nHome-page: https://example.org\n"
        "Author: A\nAuthor-email: a@example.org\nLicense: MIT\n"
    ),
    "1.1": (
        "Classifier: Programming Language :: Python\nDownload-URL: https://example.org/d\n"
        "Supported-Platform: linux\n"
    ),
    "1.2": (
        "Maintainer: M\nMaintainer-email: m@example.org\nRequires-Dist: requests>=2\n"
        "Requires-Python: >=3.9\nRequires-External: libc\n"
        "Project-URL: Source, https://example.org/src\nProvides-Dist: tp_sample\n"
        "Obsoletes-Dist: tp-old\n"
    ),
    "2.1": "Description-Content-Type: text/markdown\nProvides-Extra: cli\n",
    "2.2": "Dynamic: Requires-Dist\n",
    "2.3": "",
    "2.4": "License-Expression: MIT\nLicense-File: LICENSE\n",
    "2.5": "Import-Name: tp_sample\nImport-Namespace: tp_ns\n",
}


def metadata_of_version(
    metadata_version: str, name: str = "tp-sample", version: str = "1.0.0"
) -> str:
    """Valid metadata using every field `metadata_version` allows, newest ones included."""
    fields = "".join(
        text for added, text in _FIELDS_ADDED.items() if _v(added) <= _v(metadata_version)
    )
    if _v(metadata_version) >= _v("2.4"):
        fields = fields.replace("License: MIT\n", "")  # superseded by License-Expression
    body = "A sample.\n"
    head = f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
    return head + fields + "\n" + body


def _v(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    folder: Path,
    name: str = "tp_sample",
    version: str = "1.0.0",
    *,
    tag: str = "py3-none-any",
    metadata: str | None = None,
    filename: str | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    dist_info: str | None = None,
    omit: Collection[str] = (),
    wheel_file: str | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    streaming: bool = False,
    member_comment: bytes = b"",
) -> Path:
    """A pure wheel `{name}-{version}-{tag}.whl` with METADATA, WHEEL and RECORD.

    `dist_info` renames the .dist-info folder; `omit` leaves out some of its files
    ("METADATA", "WHEEL", "RECORD"); `wheel_file` replaces the WHEEL file's text.
    `streaming` writes it as a streaming zip tool does (sizes in data descriptors);
    `member_comment` gives every member that zip comment.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = dist_info or f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            metadata or metadata_text(name.replace("_", "-"), version)
        ).encode(),
        f"{dist_info}/licenses/LICENSE": b"MIT License\n",
        f"{dist_info}/WHEEL": (
            wheel_file
            or f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
        **(extra_files or {}),
    }
    for part in omit:
        files.pop(f"{dist_info}/{part}", None)
    if "RECORD" not in omit:
        record = "\n".join(_record_line(p, d) for p, d in files.items())
        files[f"{dist_info}/RECORD"] = (record + f"\n{dist_info}/RECORD,,\n").encode()
    path = folder / (filename or f"{name}-{version}-{tag}.whl")
    with path.open("wb") as raw:
        # zipfile writes data descriptors when it can't seek back to fill in the sizes.
        out = _Unseekable(raw) if streaming else raw
        with zipfile.ZipFile(out, "w", compression) as zf:  # type: ignore[arg-type]
            for member, data in files.items():
                info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = compression
                info.comment = member_comment
                zf.writestr(info, data)
    return path


class _Unseekable:
    """A write-only file that can't seek or tell, like a pipe."""

    def __init__(self, raw: io.BufferedWriter) -> None:
        self._raw = raw

    def write(self, data: bytes) -> int:
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()


def make_sdist(
    folder: Path,
    name: str = "tp_sample",
    version: str = "1.0.0",
    *,
    metadata: str | None = None,
    filename: str | None = None,
    root: str | None = None,
    extra_members: Mapping[str, bytes] | None = None,
    symlinks: Mapping[str, str] | None = None,
    pkg_info: bool = True,
    sparse: Collection[str] = (),
) -> Path:
    """A PEP 625 sdist `{name}-{version}.tar.gz` holding `{root}/PKG-INFO`.

    `extra_members` are added by their full name (outside the root if so named);
    `symlinks` maps member names to link targets; `pkg_info=False` leaves PKG-INFO out;
    `sparse` names members written as GNU sparse files. A `filename` ending in .zip makes a
    zip archive, the sdist format before PEP 625.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = root or f"{name}-{version}"
    files = {
        f"{root}/PKG-INFO": (metadata or metadata_text(name.replace("_", "-"), version)).encode(),
        f"{root}/pyproject.toml": b"[project]\nname = 'x'\n",
        f"{root}/{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{root}/LICENSE": b"MIT License\n",
        **(extra_members or {}),
    }
    if not pkg_info:
        del files[f"{root}/PKG-INFO"]
    path = folder / (filename or f"{name}-{version}.tar.gz")
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for member, data in files.items():
                zf.writestr(member, data)
        return path
    tar_format = tarfile.GNU_FORMAT if sparse else tarfile.PAX_FORMAT
    with tarfile.open(path, "w:gz", format=tar_format) as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            if member in sparse:
                # An empty sparse map: GNU tar's header type is what PyPI refuses.
                info.type = tarfile.GNUTYPE_SPARSE
            tf.addfile(info, io.BytesIO(data))
        for member, target in (symlinks or {}).items():
            info = tarfile.TarInfo(member)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def patch_local_size(path: Path, member: str) -> Path:
    """Change `member`'s size in its local header only: the central directory disagrees."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x03\x04")
    while data[at + 30 : at + 30 + len(member)] != member.encode():
        at = data.index(b"PK\x03\x04", at + 4)
    (size,) = struct.unpack_from("<L", data, at + 22)
    struct.pack_into("<L", data, at + 22, size + 1)
    path.write_bytes(bytes(data))
    return path


def with_zip64_extensible_data(path: Path) -> bytes:
    """The zip's bytes with a ZIP64 end record (and locator) carrying 4 bytes of
    extensible data, put before its end record."""
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    records, cd_size, cd_offset = struct.unpack_from("<xxxxxxxxHLL", data, eocd)
    extensible = b"\x00\x00\x00\x00"
    eocd64 = struct.pack(
        "<4sQHHLLQQQQ", b"PK\x06\x06", 44 + len(extensible), 45, 45, 0, 0, records,
        records, cd_size, cd_offset,
    ) + extensible  # fmt: skip
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    return data[:eocd] + eocd64 + locator + data[eocd:]


def make_release(folder: Path, name: str = "tp_sample", version: str = "1.0.0") -> list[Path]:
    """A good wheel and sdist of one release."""
    return [make_wheel(folder, name, version), make_sdist(folder, name, version)]


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut the file as an interrupted download would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def corrupt_member(path: Path, member_text: bytes) -> Path:
    """Flip a byte inside a member stored uncompressed, so only its CRC gives it away."""
    data = bytearray(path.read_bytes())
    at = data.index(member_text)
    data[at] ^= 0x20
    path.write_bytes(bytes(data))
    return path
