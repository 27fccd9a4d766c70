"""A release users can pin: the version, the changelog, and the examples that name it.

Read from the files (nothing is installed from PyPI: the version being released is not there
yet when these run).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

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


# --- the workflows: runners that exist, actions pinned to one release each ------------------

WORKFLOWS = sorted(
    [
        *(ROOT / "examples" / "workflows").glob("*.yml"),
        *(ROOT / ".github" / "workflows").glob("*.yml"),
    ]
)

#: Runner labels GitHub has retired (actions/runner-images): a job that asks for one waits
#: for a runner that never comes, then fails. macOS 14 was retired on 2026-11-02
#: (actions/runner-images#13518), macOS 13 in December 2025; -large/-xlarge/-arm64 with them.
RETIRED_LABEL = re.compile(
    r"(?:macos-1[0-4]|macos-10\.\d+|ubuntu-1[468]\.04|ubuntu-20\.04|windows-201[69])"
    r"(?:-(?:large|xlarge|arm64))?"
)

#: How users pin this action in the examples (zizmor.yml's ref-pin policy for it).
OUR_ACTION = "trusted-publish/trusted-publish@v1"


def load_workflow(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def strings_in(value: object) -> list[str]:
    """Every string in a YAML value (a matrix's lists, include entries and all)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def runner_labels(workflow: dict[str, Any]) -> set[str]:
    """The labels a workflow's jobs may run on: `runs-on` and every value of their matrix."""
    labels: set[str] = set()
    for job in workflow["jobs"].values():
        labels.update(s for s in strings_in(job.get("runs-on")) if "${{" not in s)
        labels.update(strings_in(job.get("strategy", {}).get("matrix", {})))
    return labels


def uses_values(workflow: dict[str, Any]) -> list[str]:
    return [
        s["uses"] for job in workflow["jobs"].values() for s in job.get("steps", []) if "uses" in s
    ] + [job["uses"] for job in workflow["jobs"].values() if "uses" in job]


def test_the_label_check_knows_the_retired_runners() -> None:
    retired = ["macos-13", "macos-12", "macos-14", "macos-13-xlarge", "ubuntu-20.04"]
    retired += ["windows-2019", "macos-14-large"]
    assert all(RETIRED_LABEL.fullmatch(label) for label in retired)
    current = ["macos-15-intel", "macos-15", "macos-26", "macos-latest", "ubuntu-24.04-arm"]
    current += ["ubuntu-22.04", "windows-2025", "windows-11-arm", "ubuntu-latest"]
    assert not any(RETIRED_LABEL.fullmatch(label) for label in current)
    # The walker sees matrix values, not only runs-on.
    cibuildwheel = load_workflow(ROOT / "examples" / "workflows" / "cibuildwheel.yml")
    assert {"macos-15-intel", "macos-latest", "ubuntu-24.04-arm"} <= runner_labels(cibuildwheel)


def test_no_workflow_runs_on_a_retired_runner() -> None:
    assert len(WORKFLOWS) >= 5, WORKFLOWS
    retired = {
        f"{path.relative_to(ROOT)}: {label}"
        for path in WORKFLOWS
        for label in runner_labels(load_workflow(path))
        if RETIRED_LABEL.fullmatch(label)
    }
    assert retired == set()


def test_every_action_is_pinned_by_sha_and_to_one_release_everywhere() -> None:
    # Read as YAML: a quoted or uncommented `uses:` counts too (the line grep of
    # tests/test_action.py checks the `# vX.Y.Z` comment beside each).
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for uses in uses_values(load_workflow(path)):
            if uses in ("./", OUR_ACTION):
                continue
            action, _, ref = uses.partition("@")
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", action), f"{path.name}: {uses}"
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {uses} is not pinned"
            pins.setdefault(action, set()).add(ref)
    assert {"actions/checkout", "actions/download-artifact", "pypa/cibuildwheel"} <= set(pins)
    # One release of each action: a pin left behind by an update is an older release.
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}
