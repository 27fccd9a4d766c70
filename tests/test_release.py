"""A release users can pin: the version, the changelog, the pinned installs, the workflows'
runners and action pins, and .github/workflows/release.yml, its scripts run with bash and the
whole workflow run under act against the sandbox.

trusted-publish itself is never installed from PyPI here: the version being released is not
there yet when these run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.runner import WORKFLOW_FILES, needs_posix_runner_python, runner_env
from trusted_publish import __version__
from trusted_publish_sandbox import RegisteredPublisher, Sandbox
from trusted_publish_sandbox.oidc import Identity

ROOT = Path(__file__).resolve().parents[1]
CHANGELOG = ROOT / "CHANGELOG.md"
TOOLS = Path(sys.executable).parent  # hatchling, act: pinned in requirements/dev.txt

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


# --- the pinned install: README and the GitLab example -------------------------------------

GITLAB = ROOT / "examples" / "gitlab"
PINNED = re.compile(r"trusted-publish(?:\[[a-z,]+\])?==([0-9][0-9A-Za-z.]*[0-9])")


def test_every_pinned_install_names_this_version() -> None:
    # A release bumps them with __version__ (README: "Releasing"); an old pin would install
    # the previous release, a pin ahead of it one that does not exist.
    for path in (ROOT / "README.md", GITLAB / "publish-requirements.in"):
        pins = PINNED.findall(path.read_text(encoding="utf-8"))
        assert pins, f"{path.name} pins no version of trusted-publish"
        assert set(pins) == {__version__}, path.name


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    pipeline = yaml.safe_load((GITLAB / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    return {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }


def pip_commands(job: dict[str, Any]) -> list[list[str]]:
    # Every script line must be a string: an unquoted `:all: ` makes YAML read a mapping.
    assert all(isinstance(line, str) for line in job["script"]), job["script"]
    return [
        line.split() for line in job["script"] if re.search(r"\bpip (install|download)\b", line)
    ]


def test_the_gitlab_example_installs_trusted_publish_from_its_hash_lock_only() -> None:
    jobs = gitlab_jobs()
    assert set(jobs) == {"build", "fetch-trusted-publish", "publish"}
    requirement = (GITLAB / "publish-requirements.in").read_text(encoding="utf-8")
    assert "--generate-hashes" in requirement
    assert "publish-requirements.in -o publish-requirements.txt" in requirement
    for name, job in jobs.items():
        for command in pip_commands(job):
            if "-r" in command:
                assert command[command.index("-r") + 1] == "publish-requirements.txt", name
                assert "--require-hashes" in command and "--only-binary" in command, name
            else:  # anything else named is pinned to one version
                named = [w for w in command[command.index("pip") + 2 :] if not w.startswith("-")]
                assert named and all(re.fullmatch(r"[\w.-]+==[\w.]+", w) for w in named), command
    assert any("trusted-publish" in line for line in jobs["publish"]["script"])


def test_the_gitlab_job_holding_the_id_token_asks_no_index() -> None:
    jobs = gitlab_jobs()
    holders = [name for name, job in jobs.items() if "id_tokens" in job]
    assert holders == ["publish"]
    publish, fetch = jobs["publish"], jobs["fetch-trusted-publish"]
    [install] = pip_commands(publish)
    assert "--no-index" in install and "--require-hashes" in install
    # It installs the wheels the token-free job downloaded, handed over as an artifact.
    wheels = install[install.index("--find-links") + 1]
    [download] = pip_commands(fetch)
    assert download[download.index("--dest") + 1] == wheels
    assert f"{wheels}/" in fetch["artifacts"]["paths"]
    assert "fetch-trusted-publish" in publish["needs"]
    assert publish["image"] == fetch["image"], "the wheels must fit the publish job's Python"
    assert publish["rules"] == fetch["rules"]


def test_gitlabs_schema_accepts_the_gitlab_example() -> None:
    result = subprocess.run(
        [str(TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
         str(GITLAB / ".gitlab-ci.yml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


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


# --- .github/workflows/release.yml --------------------------------------------------------

RELEASE_YML = ROOT / ".github" / "workflows" / "release.yml"
TAG = f"v{__version__}"
PUBLISHER_REPOSITORY = "trusted-publish/trusted-publish"


def load_release() -> dict[str, Any]:
    return load_workflow(RELEASE_YML)


def job_step(workflow: dict[str, Any], job: str, key: str, value: str) -> dict[str, Any]:
    """The one step of ``job`` whose ``key`` is ``value`` (an id, or a `uses:`)."""
    [found] = [s for s in workflow["jobs"][job]["steps"] if s.get(key) == value]
    return dict(found)


def uses_of(workflow: dict[str, Any], job: str) -> list[str]:
    return [s["uses"].split("@")[0] for s in workflow["jobs"][job]["steps"] if "uses" in s]


def test_release_yml_is_linted_with_the_other_workflows() -> None:
    # tests/test_action.py runs zizmor and the workflow schema on these files.
    assert RELEASE_YML in WORKFLOW_FILES


def test_release_runs_on_version_tags_with_no_permission_by_default() -> None:
    workflow = load_release()
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # PyYAML reads the key `on` as True
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert list(jobs) == ["build", "publish", "move-major-tag"]
    assert jobs["publish"]["needs"] == "build"
    assert jobs["move-major-tag"]["needs"] == "publish"


def test_only_the_publish_job_may_ask_for_an_oidc_token_and_only_in_the_pypi_environment() -> None:
    jobs = load_release()["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["publish"]["environment"] == "pypi"
    assert jobs["move-major-tag"]["permissions"] == {"contents": "write"}
    for name in ("build", "move-major-tag"):
        assert "environment" not in jobs[name], name


def test_the_release_publishes_itself_from_the_tags_checkout_with_pypis_default() -> None:
    release = load_release()
    assert uses_of(release, "publish") == [
        "actions/checkout",
        "actions/download-artifact",
        "./",
    ]
    publish = job_step(release, "publish", "uses", "./")
    download = job_step(release, "publish", "uses", uses_of_full(release, "publish", 1))
    # The dists go outside the workspace, and the action reads them from there; nothing else
    # is set: PyPI is the default index, attestations are automatic there.
    assert download["with"]["path"].startswith("${{ runner.temp }}/")
    assert publish["with"] == {"packages-dir": download["with"]["path"]}
    # No job leaves the job's token in .git/config for a later step.
    for job in release["jobs"]:
        checkout = job_step(release, job, "uses", uses_of_full(release, job, 0))
        assert checkout["with"]["persist-credentials"] is False, job


def uses_of_full(workflow: dict[str, Any], job: str, index: int) -> str:
    return str([s["uses"] for s in workflow["jobs"][job]["steps"] if "uses" in s][index])


# --- the release's own scripts, run with bash as the runner runs them ---------------------

GIT = ["git", "-c", "user.name=release", "-c", "user.email=release@example.invalid"]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [*GIT, *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


@dataclass
class StepRun:
    code: int
    out: str

    @property
    def annotations(self) -> list[str]:
        return [x for x in self.out.splitlines() if x.startswith("::") and "::add-mask::" not in x]


def run_step(job: str, step_id: str, cwd: Path, **env: str) -> StepRun:
    """A `run:` step of release.yml, with its env: as given here (GitHub fills it from ${{ }})."""
    script = job_step(load_release(), job, "id", step_id)["run"]
    result = subprocess.run(
        ["/bin/bash", "-e", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return StepRun(result.returncode, result.stdout + result.stderr)


@pytest.fixture
def tagged(tmp_path: Path) -> Path:
    """A clone whose main has two commits, and a branch `side` main does not have."""
    repo = tmp_path / "clone"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # as a full-depth checkout has
    git(repo, "checkout", "-q", "-b", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "not merged")
    git(repo, "checkout", "-q", "main")
    return repo


def test_check_tag_takes_a_release_tag_on_main(tagged: Path) -> None:
    on_main = git(tagged, "rev-parse", "main~1")  # an older commit of main is fine too
    for sha in (git(tagged, "rev-parse", "main"), on_main):
        run = run_step("build", "check-tag", tagged, TAG="v1.2.3", RELEASE_SHA=sha)
        assert run.code == 0, run.out
        assert run.annotations == []


@pytest.mark.parametrize(
    "tag",
    ["v1.2", "1.2.3", "v1.2.3rc1", "v1.2.3-rc.1", "v01.2.3x", "v1.2.3\n::warning::injected",
     "v1.2.3; touch pwned", "vX.Y.Z", ""],
)  # fmt: skip
def test_check_tag_refuses_anything_but_vxyz_without_echoing_it(tagged: Path, tag: str) -> None:
    run = run_step(
        "build", "check-tag", tagged, TAG=tag, RELEASE_SHA=git(tagged, "rev-parse", "HEAD")
    )
    assert run.code == 1
    [error] = run.annotations
    assert error.startswith("::error title=release::The pushed tag is not a release tag vX.Y.Z")
    assert "injected" not in run.out and "touch" not in run.out
    assert not (tagged / "pwned").exists()


def test_check_tag_refuses_a_tag_on_a_commit_main_does_not_have(tagged: Path) -> None:
    run = run_step(
        "build", "check-tag", tagged, TAG="v1.2.3", RELEASE_SHA=git(tagged, "rev-parse", "side")
    )
    assert run.code == 1
    [error] = run.annotations
    assert "v1.2.3 is on a commit that is not on main" in error


def fake_build_venv(runner_temp: Path) -> None:
    """RUNNER_TEMP/build-venv as the install step leaves it (hatchling from the dev venv)."""
    bin_dir = runner_temp / "build-venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "hatchling").symlink_to(TOOLS / "hatchling")


def test_check_version_refuses_a_tag_that_is_not_the_version_being_built(tmp_path: Path) -> None:
    fake_build_venv(tmp_path)
    good = run_step("build", "check-version", ROOT, TAG=TAG, RUNNER_TEMP=str(tmp_path))
    assert good.code == 0, good.out
    assert f"{TAG} is the version being built." in good.out
    bad = run_step("build", "check-version", ROOT, TAG="v9.8.7", RUNNER_TEMP=str(tmp_path))
    assert bad.code == 1
    [error] = bad.annotations
    assert f"v9.8.7 is not the version in the code ({__version__})" in error


@pytest.mark.parametrize(
    ("files", "ok"),
    [
        (["trusted_publish-1.2.3.tar.gz", "trusted_publish-1.2.3-py3-none-any.whl"], True),
        (["trusted_publish-1.2.3.tar.gz"], False),
        (["trusted_publish-1.2.4.tar.gz", "trusted_publish-1.2.4-py3-none-any.whl"], False),
        (["trusted_publish-1.2.3.tar.gz", "trusted_publish-1.2.3-py3-none-any.whl",
          "trusted_publish-1.2.2-py3-none-any.whl"], False),
    ],
)  # fmt: skip
def test_check_dist_wants_exactly_the_sdist_and_the_wheel(
    tmp_path: Path, files: list[str], ok: bool
) -> None:
    (tmp_path / "dist").mkdir()
    for name in files:
        (tmp_path / "dist" / name).write_bytes(b"x")
    run = run_step("build", "check-dist", tmp_path, TAG="v1.2.3")
    assert (run.code == 0) is ok, run.out


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare `origin` with releases v1.0.0 and v1.1.0 of main, v1 on v1.0.0."""
    work = tmp_path / "work"
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for version in ("1.0.0", "1.1.0"):
        git(work, "commit", "-q", "--allow-empty", "-m", version)
        git(work, "tag", "-a", f"v{version}", "-m", f"v{version}")
    git(work, "tag", "v1", "v1.0.0^{commit}")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main", "--tags")
    return work


def remote_tag(work: Path, name: str) -> str:
    return git(work, "ls-remote", "origin", f"refs/tags/{name}").split()[0]


def test_move_major_tag_moves_v1_to_the_newest_release(origin: Path) -> None:
    sha = git(origin, "rev-parse", "v1.1.0^{commit}")
    run = run_step("move-major-tag", "move", origin, TAG="v1.1.0", RELEASE_SHA=sha,
                   GITHUB_TOKEN="ghs_not-a-real-token")  # fmt: skip
    assert run.code == 0, run.out
    assert remote_tag(origin, "v1") == sha
    assert f"v1 now points at v1.1.0 ({sha})." in run.out
    # The token reached git only as the masked Basic value, in the step's environment.
    basic = base64.b64encode(b"x-access-token:ghs_not-a-real-token").decode()
    assert run.out.splitlines()[0] == f"::add-mask::{basic}"
    assert "ghs_not-a-real-token" not in run.out
    assert basic not in run.out.split("\n", 1)[1]
    assert "extraheader" not in (origin / ".git" / "config").read_text()


def test_move_major_tag_leaves_v1_on_a_newer_release(origin: Path) -> None:
    # A fix for an older line (v1.0.1 after v1.1.0) does not take v1 back.
    git(origin, "checkout", "-q", "v1.0.0")
    git(origin, "commit", "-q", "--allow-empty", "-m", "1.0.1")
    git(origin, "tag", "v1.0.1")
    git(origin, "push", "-q", "origin", "v1.0.1")
    before = remote_tag(origin, "v1")
    run = run_step("move-major-tag", "move", origin, TAG="v1.0.1",
                   RELEASE_SHA=git(origin, "rev-parse", "HEAD"), GITHUB_TOKEN="")  # fmt: skip
    assert run.code == 0, run.out
    assert run.annotations == [
        "::notice title=release::v1 stays where it is: v1.1.0 is a newer release than v1.0.1."
    ]
    assert remote_tag(origin, "v1") == before


def test_move_major_tag_refuses_a_tag_origin_does_not_have_or_that_is_not_vxyz(
    origin: Path,
) -> None:
    sha = git(origin, "rev-parse", "HEAD")
    missing = run_step(
        "move-major-tag", "move", origin, TAG="v1.2.0", RELEASE_SHA=sha, GITHUB_TOKEN=""
    )
    assert missing.code == 1
    assert missing.annotations == [
        "::error title=release::v1.2.0 is not a tag of origin: no tag is moved."
    ]
    odd = run_step("move-major-tag", "move", origin, TAG="v1", RELEASE_SHA=sha, GITHUB_TOKEN="")
    assert odd.code == 1
    assert "not a release tag vX.Y.Z" in odd.annotations[0]
    assert remote_tag(origin, "v1") == git(origin, "rev-parse", "v1.0.0^{commit}")


# --- release.yml end to end under act, publishing to the sandbox ------------------------------

#: What the act copy of release.yml changes, and why: act runs here without network to
#: GitHub, so remote actions other than actions/checkout (which act replaces by the local
#: working copy itself) cannot be downloaded. Everything else, the publish job's `uses: ./`
#: step with its `with:`, `permissions` and `environment` included, is release.yml's own.
HANDOFF_STEP = 'mkdir -p "$HANDOFF" && cp -R dist/. "$HANDOFF"/'
RECEIVE_STEP = 'mkdir -p "$DEST" && cp -R "$HANDOFF"/. "$DEST"/'


def act_copy_of_release(sandbox_url: str) -> tuple[dict[str, Any], list[str]]:
    """release.yml as act can run it here, and the list of what was changed."""
    workflow = load_release()
    changed: list[str] = []
    build = workflow["jobs"]["build"]["steps"]
    publish = workflow["jobs"]["publish"]["steps"]
    for steps in (build, publish):
        for i, s in enumerate(list(steps)):
            uses = str(s.get("uses", "")).split("@")[0]
            if uses == "actions/setup-python":
                # The runner's Python (this machine's, 3.11) is on PATH already.
                steps.remove(s)
                changed.append("build: setup-python removed (the runner's Python is used)")
            elif uses == "actions/upload-artifact":
                steps[steps.index(s)] = {
                    "name": "Hand dist/ over (upload-artifact)",
                    "run": HANDOFF_STEP,
                }
                changed.append("build: upload-artifact -> a copy of dist/ into $HANDOFF")
            elif uses == "actions/download-artifact":
                steps[i] = {
                    "name": "Take dist/ over (download-artifact)",
                    "env": {"DEST": s["with"]["path"]},  # the same folder, the same expression
                    "run": RECEIVE_STEP,
                }
                changed.append("publish: download-artifact -> a copy from $HANDOFF, same path")
            elif uses == "./":
                # The index: the sandbox instead of PyPI (the only change to the step).
                s["with"] = {**s["with"], "repository-url": sandbox_url}
                changed.append("publish: uses ./ gets repository-url: the sandbox")
    workflow["on"] = workflow.pop(True)  # PyYAML reads `on` as True; act wants `on`
    return workflow, changed


def test_the_act_copy_changes_only_what_act_cannot_run_here() -> None:
    copy, changed = act_copy_of_release("http://127.0.0.1:1/legacy/")
    assert changed == [
        "build: setup-python removed (the runner's Python is used)",
        "build: upload-artifact -> a copy of dist/ into $HANDOFF",
        "publish: download-artifact -> a copy from $HANDOFF, same path",
        "publish: uses ./ gets repository-url: the sandbox",
    ]
    real = load_release()["jobs"]
    jobs = copy["jobs"]
    for name in ("publish", "move-major-tag"):
        for key in ("permissions", "environment", "needs", "runs-on", "concurrency"):
            assert jobs[name].get(key) == real[name].get(key), (name, key)
    assert job_step(copy, "publish", "uses", "./")["with"] == {
        **job_step(load_release(), "publish", "uses", "./")["with"],
        "repository-url": "http://127.0.0.1:1/legacy/",
    }
    assert jobs["move-major-tag"]["steps"] == real["move-major-tag"]["steps"]
    for step_id in ("check-tag", "check-version", "check-dist"):
        assert job_step(copy, "build", "id", step_id) == job_step(
            load_release(), "build", "id", step_id
        )


@pytest.fixture
def release_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """This project as a clone has it at the release tag, and its bare `origin`.

    main and the tag are pushed to origin; refs/remotes/origin/main is what a full-depth
    checkout has. v1 starts on an older commit, so moving it shows.
    """
    repo = tmp_path / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "an older commit")
    git(repo, "tag", "v1")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"release {TAG}")
    git(repo, "tag", "-a", TAG, "-m", TAG)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main", "--tags")
    git(repo, "fetch", "-q", "origin")
    return repo, bare


@pytest.mark.slow
@needs_posix_runner_python
def test_act_runs_the_release_build_publish_and_major_tag_against_the_sandbox(
    release_checkout: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = release_checkout
    release_sha = git(repo, "rev-parse", "HEAD")
    identity = Identity(repository=PUBLISHER_REPOSITORY, workflow="release.yml",
                        ref=f"refs/tags/{TAG}", environment="pypi", sha=release_sha)  # fmt: skip
    # The publisher the README tells maintainers to register on PyPI, and only it.
    publisher = RegisteredPublisher(PUBLISHER_REPOSITORY, "release.yml", "pypi")
    with Sandbox([publisher], identity=identity) as sandbox:
        copy, _ = act_copy_of_release(sandbox.repository_url)
        workflow = tmp_path / "release-act.yml"
        workflow.write_text(yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"ref": f"refs/tags/{TAG}", "after": release_sha}))
        home = tmp_path / "home"
        home.mkdir()
        env = runner_env(
            tmp_path, with_uv=True, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
            PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
            UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
        )  # fmt: skip
        oidc = sandbox.env()
        started = time.monotonic()
        result = subprocess.run(
            [str(TOOLS / "act"), "push", "-W", str(workflow), "-e", str(event),
             "-P", "ubuntu-latest=-self-hosted",
             "--action-cache-path", str(tmp_path / "act-cache"), "--no-cache-server",
             "--env", f"HANDOFF={tmp_path / 'handoff'}",
             "--env", f"ACTIONS_ID_TOKEN_REQUEST_URL={oidc['ACTIONS_ID_TOKEN_REQUEST_URL']}",
             "--env", f"ACTIONS_ID_TOKEN_REQUEST_TOKEN={oidc['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        log = result.stdout + result.stderr
        (tmp_path / "act.log").write_text(log, encoding="utf-8")
        print(f"act run of release.yml: {time.monotonic() - started:.1f} s")
        assert result.returncode == 0, log
        stored = {f.filename: f.sha256 for f in sandbox.files("trusted-publish")}
        secrets = [*sandbox.issued_jwts, *sandbox.minted_tokens, sandbox.oidc_request_token]

    # The build job checked the tag and built exactly this version...
    assert f"{TAG}: a release tag on main." in log
    assert f"{TAG} is the version being built." in log
    built = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "handoff").iterdir()
    }
    assert sorted(built) == [f"trusted_publish-{__version__}-py3-none-any.whl",
                             f"trusted_publish-{__version__}.tar.gz"]  # fmt: skip
    # ...the action published those bytes with trusted publishing...
    assert "Success - Main Publish trusted-publish with itself" in log
    assert stored == built
    visible = "\n".join(x for x in log.splitlines() if "::add-mask::" not in x)
    assert secrets
    assert not [s for s in secrets if s in visible or s[-24:] in visible]
    # ...and the major tag now points at the release's commit on origin.
    moved = git(repo, "ls-remote", str(bare), "refs/tags/v1").split()[0]
    assert moved == release_sha
