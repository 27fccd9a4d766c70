"""A distribution's file name against its metadata, as PyPI judges it (forklift/legacy.py).

warehouse's `file_upload` compares the file name with the metadata's Name and Version, and
raises at the first mismatch; these functions give its verdicts in its order (the sandbox
answers with the first, the client shows each with what to do) and its texts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

#: What is wrong: a name `packaging` cannot parse, another project's name, a name not
#: normalized (PEP 427 for wheels, PEP 625 for sdists), another version.
Kind = Literal["unparsable", "project", "normalization", "version"]


@dataclass(frozen=True)
class NameRefusal:
    """One of warehouse's refusals of a file name, and what the file name said."""

    kind: Kind
    text: str
    name: str = ""
    """The project name as read from the file name (warehouse's `name_from_filename`)."""
    version: Version | None = None
    """The version the file name holds, when it parses."""


def sdist_refusal(filename: str, name: str, version: Version | None) -> NameRefusal | None:
    """legacy.py `file_upload`, the sdist file name checks, in order.

    `name`/`version` are the metadata's; with no valid version only the project is compared.
    """
    try:
        name_from_filename, version_from_filename = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return NameRefusal("unparsable", f"Invalid source distribution filename: {filename}")
    found: str = name_from_filename
    if (
        version is not None
        and version.is_postrelease
        and found != canonicalize_name(name)
        and filename.count("-") >= 2
    ):
        # A post-release may carry a hyphen ("1.0-1"): warehouse splits at the second to
        # last hyphen, and keeps that name even when what follows is no version.
        found = filename.rpartition("-")[0].rpartition("-")[0]
        with contextlib.suppress(InvalidVersion):
            version_from_filename = Version(filename[len(found) + 1 : -len(".tar.gz")])
    normalized = canonicalize_name(name)
    expected_prefix = normalized.replace("-", "_")
    if canonicalize_name(found) != normalized:
        text = f"Start filename for {name!r} with {expected_prefix!r}."
        return NameRefusal("project", text, found, version_from_filename)
    if version is None:
        return None
    expected = f"{expected_prefix}-{version}.tar.gz"
    if filename == expected:
        return None
    kind: Kind = "version" if version_from_filename != version else "normalization"
    text = f"Filename {filename!r} is invalid, should be {expected!r}."
    return NameRefusal(kind, text, found, version_from_filename)


def wheel_refusals(filename: str, name: str, version: Version | None) -> list[NameRefusal]:
    """legacy.py `file_upload`, the wheel file name checks (its platform tags aside).

    warehouse raises the first; the name and the version are both judged here, so that one
    look shows both.
    """
    try:
        name_in_file, version_in_file, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        return [NameRefusal("unparsable", str(exc))]
    # parse_wheel_filename normalizes the name; warehouse reads the first part as written.
    name_from_filename = filename.split("-", 1)[0]
    canonical = canonicalize_name(name)
    normalized = canonical.replace("-", "_")
    found = []
    if canonical != name_in_file:
        text = f"Start filename for {name!r} with {normalized!r}."
        found.append(NameRefusal("project", text, name_from_filename, version_in_file))
    elif name_from_filename != normalized:
        text = (
            f"Filename {filename!r} should contain the normalized project name "
            f"{normalized!r}, not {name_from_filename!r}."
        )
        found.append(NameRefusal("normalization", text, name_from_filename, version_in_file))
    if version is not None and version != version_in_file:
        text = f"Version in filename should be {str(version)!r} not {str(version_in_file)!r}."
        found.append(NameRefusal("version", text, name_from_filename, version_in_file))
    return found
