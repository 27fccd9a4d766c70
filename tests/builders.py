"""Distributions made by code, so tests need no checked-in binaries.

`make_wheel` and `make_sdist` write archives shaped like a build backend's, with every part
overridable so a test can break exactly one rule.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def metadata_text(
    name: str = "tp-sample",
    version: str = "1.0.0",
    *,
    metadata_version: str = "2.4",
    extra_headers: str = "",
    body: str = "# tp-sample\n\nA sample project.\n",
) -> str:
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
        "Requires-Dist: requests>=2\n"
        "Requires-Dist: click; extra == 'cli'\n"
        "Provides-Extra: cli\n"
        "Project-URL: Homepage, https://example.org\n"
        "Project-URL: Source, https://example.org/src\n"
        "Description-Content-Type: text/markdown\n"
        f"{extra_headers}"
        "\n"
        f"{body}"
    )


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
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """A pure wheel `{name}-{version}-{tag}.whl` with METADATA, WHEEL and RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            metadata or metadata_text(name.replace("_", "-"), version)
        ).encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
        **(extra_files or {}),
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"\n{dist_info}/RECORD,,\n").encode()
    path = folder / (filename or f"{name}-{version}-{tag}.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def make_sdist(
    folder: Path,
    name: str = "tp_sample",
    version: str = "1.0.0",
    *,
    metadata: str | None = None,
    filename: str | None = None,
    root: str | None = None,
) -> Path:
    """A PEP 625 sdist `{name}-{version}.tar.gz` holding `{root}/PKG-INFO`."""
    folder.mkdir(parents=True, exist_ok=True)
    root = root or f"{name}-{version}"
    files = {
        f"{root}/PKG-INFO": (metadata or metadata_text(name.replace("_", "-"), version)).encode(),
        f"{root}/pyproject.toml": b"[project]\nname = 'x'\n",
        f"{root}/{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    path = folder / (filename or f"{name}-{version}.tar.gz")
    with tarfile.open(path, "w:gz") as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
