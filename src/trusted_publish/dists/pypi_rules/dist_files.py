"""What PyPI refuses about a distribution file as a whole (warehouse/forklift/legacy.py).

Its name (`_validate_filename`), and its kind (`_is_valid_dist_file`): a file both a zip and
a tar, an sdist whose tar has sparse members, an sdist without one top-level folder holding
PKG-INFO.
"""

from __future__ import annotations

import posixpath
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from trusted_publish.dists.pypi_rules import ARCHIVES_HELP

_CONTROL = frozenset(chr(c) for c in range(32)) | {chr(127)}


def filename_problems(filename: str) -> list[str]:
    """warehouse `_validate_filename`: no control character (a newline, a tab...) in a name."""
    bad = sorted({c for c in filename if c in _CONTROL})
    if not bad:
        return []
    shown = ", ".join(f"U+{ord(c):04X}" for c in bad)
    return [
        f'its name holds control characters ({shown}); PyPI refuses it ("Cannot upload a '
        "file with non-printable characters (ordinals 0-31) or the DEL character (ordinal "
        '127) in the name."): rename it to what the build backend wrote, or rebuild it'
    ]


def zip_and_tar_problems(path: Path) -> list[str]:
    """warehouse `_is_valid_dist_file`: a file read as a zip by some tools, a tar by others."""
    # Both tests read a few headers only: the zip's end record, the tar's first block.
    if not (zipfile.is_zipfile(path) and tarfile.is_tarfile(path)):
        return []
    return [
        'PyPI refuses it ("Invalid distribution file. File is both a zip and a tar file"): '
        "tools would disagree on what it holds; rebuild it, or download the artifact again"
    ]


SPARSE_PROBLEM = (
    'PyPI refuses it ("Invalid distribution file. tar archive not accepted: Sparse members '
    f'are not allowed. {ARCHIVES_HELP}"): sparse members ({{members}}) are a GNU tar '
    "extension; rebuild the sdist with a build backend (it writes plain members)"
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


def sdist_layout_problems(names: Iterable[str]) -> list[str]:
    """warehouse `_is_valid_dist_file`: one top-level folder, with PKG-INFO in it."""
    names = list(names)
    top = top_level(names)
    if top in {".", "/", ""}:
        return [
            'PyPI refuses it ("Invalid distribution file. Incorrect number of top-level '
            'directories in sdist"): an sdist holds one folder, {name}-{version}/, and '
            "everything in it; rebuild it"
        ]
    if posixpath.join(top, "PKG-INFO") not in names:
        return [
            f'PyPI refuses it ("Invalid distribution file. PKG-INFO not found at '
            f'{top}/PKG-INFO"): rebuild it with a build backend (it writes PKG-INFO)'
        ]
    return []
