"""Diagnoses, reporting and the dry run, each reached through the real flow.

Every test drives `trusted-publish` (the CLI entrypoint, with the environment the action
gives it) against the sandbox set up in the wrong way the test is about, and checks for the
key sentence and the fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from support.runs import Run, error_lines, publish
from trusted_publish.cli import main
from trusted_publish.credentials.claims import unverified_claims
from trusted_publish.credentials.exchange import refusal_help
from trusted_publish.credentials.github import GitHubPublisher
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Identity, RegisteredPublisher, Sandbox

PROJECT = "tp-demo-package"


def the_error(run: Run) -> str:
    [error] = error_lines(run)
    # Workflow commands escape newlines; read it as the user sees it in the log.
    return error.replace("%0A", "\n").replace("%25", "%")


# --- before any token ----------------------------------------------------------------------------


def test_a_fork_pull_request_is_told_apart_from_a_missing_permission(
    sandbox: Sandbox, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"repo": {"fork": True}}}}))
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
    }
    error = the_error(publish(sandbox, dist_dir, capsys, env=env))
    assert "pull request from a fork" in error
    assert "if: github.event_name != 'pull_request'" in error
    assert "id-token: write" not in error


def test_pull_request_target_is_refused_before_asking_for_a_token(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = publish(sandbox, dist_dir, capsys, env={"GITHUB_EVENT_NAME": "pull_request_target"})
    assert run.code == 4
    error = the_error(run)
    assert "`pull_request_target`, and PyPI refuses to publish from it" in error
    assert "tags: ['v*']" in error
    assert sandbox.issued_jwts == []
    assert sandbox.mint_requests == []


# --- a refused exchange --------------------------------------------------------------------------


def test_a_wrong_environment_shows_what_pypi_needs_and_the_likely_mismatch(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [
        RegisteredPublisher("octo-org/demo", "release.yml", environment="release")
    ]
    error = the_error(publish(sandbox, dist_dir, capsys))
    assert "What the index's trusted publisher must say" in error
    assert re.search(r"Owner\s+octo-org", error)
    assert re.search(r"Repository name\s+demo", error)
    assert re.search(r"Workflow name\s+release\.yml", error)
    assert re.search(r"Environment name\s+pypi", error)
    assert "The job runs in environment 'pypi': the publisher must name that environment" in error


def test_a_renamed_workflow_is_pointed_at(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [RegisteredPublisher("octo-org/demo", "publish.yml")]
    sandbox.identity = Identity(workflow="release-v2.yml")
    error = the_error(publish(sandbox, dist_dir, capsys))
    assert re.search(r"Workflow name\s+release-v2\.yml", error)
    assert "a renamed workflow needs its publisher updated" in error


def test_a_reusable_workflow_from_another_repository_is_explained(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.identity = Identity(
        job_workflow_ref="shared-org/workflows/.github/workflows/pypi.yml@refs/heads/main"
    )
    error = the_error(publish(sandbox, dist_dir, capsys))
    assert "invalid-publisher" in error
    assert "reusable workflow from shared-org/workflows" in error
    assert "Call this action from a workflow file in your own repository" in error


def test_the_link_opens_pypis_publisher_form_prefilled(sandbox: Sandbox) -> None:
    sandbox.identity = Identity(environment="release")
    claims = unverified_claims(sandbox.id_token("pypi"))
    lines, _ = refusal_help(claims, ["invalid-publisher"], Index.from_urls(), ["My_Project"])
    assert (
        "Add it for My_Project: https://pypi.org/manage/project/my-project/settings/publishing/"
        "?provider=github&owner=octo-org&repository=demo&workflow_filename=release.yml"
        "&environment=release"
    ) in lines
    publisher = GitHubPublisher.from_claims(claims)
    assert publisher is not None and not publisher.is_reusable_elsewhere


def test_a_pending_publisher_for_another_name_is_caught_at_upload(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [
        RegisteredPublisher("octo-org/demo", "release.yml", projects={"tp-demo-pkg"}, pending=True)
    ]
    run = publish(sandbox, dist_dir, capsys)
    assert run.code == 5
    error = the_error(run)
    assert "Non-user identities cannot create new projects" in error
    assert "'tp-demo-package' (normalized 'tp-demo-package')" in error
    assert "Delete the pending publisher on PyPI" in error


# --- password and token mistakes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        (
            {"TRUSTED_PUBLISH_USER": "alice", "TRUSTED_PUBLISH_PASSWORD": "hunter22"},
            "PyPI does not accept account passwords for uploads",
        ),
        (
            {"TRUSTED_PUBLISH_PASSWORD": "ghp_notapypitoken"},
            "does not look like a PyPI API token",
        ),
    ],
)
def test_password_mistakes_for_pypi_stop_before_the_network(
    dist_dir: Path, capsys: pytest.CaptureFixture[str], env: dict[str, str], sentence: str
) -> None:
    full_env = {
        "GITHUB_ACTIONS": "true",
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        "TRUSTED_PUBLISH_REPOSITORY_URL": "https://upload.pypi.org/legacy/",
        **env,
    }
    assert main([], env=full_env) == 2
    out = capsys.readouterr().out
    assert sentence in out
    assert env["TRUSTED_PUBLISH_PASSWORD"] not in out.replace(
        f"::add-mask::{env['TRUSTED_PUBLISH_PASSWORD']}", ""
    )


# --- upload refusals -----------------------------------------------------------------------------


def test_a_release_older_than_14_days_says_to_publish_a_new_version(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdist = next(dist_dir.glob("*.tar.gz"))
    parked = dist_dir.parent / sdist.name
    sdist.rename(parked)
    assert publish(sandbox, dist_dir, capsys).code == 0
    parked.rename(sdist)
    sandbox.release_age_days(PROJECT, "1.0.0", 30)
    error = the_error(publish(sandbox, dist_dir, capsys))
    assert "Uploading new files to releases older than 14 days is not allowed" in error
    assert "publish these files under a new version" in error


def test_a_file_over_the_size_limit_points_at_the_request_form(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.max_file_size = 1000
    error = the_error(publish(sandbox, dist_dir, capsys))
    assert "File too large" in error
    assert "https://pypi.org/help/#file-size-limit" in error


# --- reporting -----------------------------------------------------------------------------------


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's `name<<DELIM ... DELIM` blocks as the runner does."""
    outputs: dict[str, str] = {}
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines) - 1:
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        outputs[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return outputs


def test_outputs_and_summary_are_written(
    sandbox: Sandbox, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(summary)}
    assert publish(sandbox, dist_dir, capsys, env=env).code == 0
    outputs = read_outputs(out_file)
    names = sorted(p.name for p in dist_dir.iterdir())
    assert sorted(json.loads(outputs["uploaded"])) == names
    assert json.loads(outputs["skipped"]) == []
    assert json.loads(outputs["project-urls"]) == []  # not PyPI: no release page to link
    text = summary.read_text()
    assert "| file | size | sha256 | result |" in text
    for path in dist_dir.iterdir():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"| `{path.name}` |" in text
        assert f"`{digest}` | uploaded |" in text


def test_a_failure_puts_the_diagnosis_in_the_summary(
    sandbox: Sandbox, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [RegisteredPublisher("octo-org/demo", "other.yml")]
    summary = tmp_path / "summary.md"
    run = publish(sandbox, dist_dir, capsys, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 4
    text = summary.read_text()
    assert "❌" in text
    assert "### What went wrong (credentials)" in text
    assert "invalid-publisher" in text
    assert "| not started |" in text


def test_print_hash_prints_sha256_blake2b_and_md5(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = publish(sandbox, dist_dir, capsys, "--print-hash")
    wheel = next(dist_dir.glob("*.whl")).read_bytes()
    assert f"sha256       {hashlib.sha256(wheel).hexdigest()}" in run.out
    assert f"blake2b-256  {hashlib.blake2b(wheel, digest_size=32).hexdigest()}" in run.out
    assert f"md5          {hashlib.md5(wheel).hexdigest()}" in run.out  # noqa: S324


# --- dry run -------------------------------------------------------------------------------------


def test_a_dry_run_exchanges_the_token_and_uploads_nothing(
    sandbox: Sandbox, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One file is already there from an earlier run; the other is new.
    wheel = next(dist_dir.glob("*.whl"))
    sdist = next(dist_dir.glob("*.tar.gz"))
    parked = dist_dir.parent / sdist.name
    sdist.rename(parked)
    assert publish(sandbox, dist_dir, capsys).code == 0
    parked.rename(sdist)
    attempts, mints = len(sandbox.upload_attempts), len(sandbox.minted_tokens)

    summary = tmp_path / "summary.md"
    run = publish(sandbox, dist_dir, capsys, "--dry-run", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 0
    assert len(sandbox.minted_tokens) == mints + 1  # the exchange proved the configuration
    assert len(sandbox.upload_attempts) == attempts  # and not one byte was sent
    assert f"Would upload {sdist.name}" in run.out
    assert f"Skipping {wheel.name}: the index already has it" in run.out
    assert "Dry run: 1 file would be uploaded, 1 already there." in run.out
    assert "would be uploaded (dry run)" in summary.read_text()
