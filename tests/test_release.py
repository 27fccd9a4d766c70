"""A release users can pin: the version, the changelog, and the examples that name it.

Read from the files (nothing is installed from PyPI: the version being released is not there
yet when these run).
"""

from __future__ import annotations

import re
from pathlib import Path

from trusted_publish import __version__

ROOT = Path(__file__).resolve().parents[1]
CHANGELOG = ROOT / "CHANGELOG.md"

#: Keep a Changelog's release heading: `## [1.2.3] - 2026-12-07`.
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def test_the_version_is_a_plain_release_version() -> None:
    # The release workflow refuses a tag that is not vX.Y.Z, and the tag must equal this.
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__), __version__
    assert int(__version__.split(".")[0]) >= 1, "a version users can pin is 1.0.0 or later"


def test_the_changelog_has_unreleased_first_then_this_version() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    headings = re.findall(r"^## .*$", text, flags=re.MULTILINE)
    assert headings[0] == "## [Unreleased]"
    releases = RELEASE_HEADING.findall(text)
    assert releases, "no `## [X.Y.Z] - YYYY-MM-DD` heading"
    assert releases[0][0] == __version__, "the newest release in CHANGELOG.md is not __version__"
    # Newest first, each version once, dates never going forward down the file.
    versions = [tuple(map(int, v.split("."))) for v, _ in releases]
    assert versions == sorted(set(versions), reverse=True)
    dates = [d for _, d in releases]
    assert dates == sorted(dates, reverse=True)


def test_every_changelog_heading_has_its_link() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    for name in ["Unreleased", *(v for v, _ in RELEASE_HEADING.findall(text))]:
        assert re.search(rf"^\[{re.escape(name)}\]: https://", text, flags=re.MULTILINE), name


def test_changelog_sections_are_keep_a_changelogs() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    kinds = set(re.findall(r"^### (.*)$", text, flags=re.MULTILINE))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
