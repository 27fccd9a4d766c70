"""After the upload: the index is asked again, the provenance read back, the token burned.

Every run goes through the real publish flow over loopback: against the sandbox (trusted
publishing, attestations signed by the local signer of tests/support/attestations.py, and
the sandbox's faults: an index that answers 200 and stores nothing, one that stores other
bytes, one whose listing lags, one whose Integrity API serves a provenance that is not
ours), and against real pypiserver and devpi-server (password uploads, read back through
their simple pages).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.attestations import LocalSigner, attestation_of, write_attestation
from support.devpi import DevpiIndex
from support.pypiserver import PypiServer
from support.runs import publish as publish_cli
from support.sandbox_client import upload
from trusted_publish.console import Console
from trusted_publish.errors import PublishError
from trusted_publish.index.verify import VerifyPolicy
from trusted_publish.inputs import load_inputs
from trusted_publish.publish import publish
from trusted_publish.report import Report
from trusted_publish_sandbox import Sandbox

WHEEL = "tp_demo_package-1.0.0-py3-none-any.whl"
SDIST = "tp_demo_package-1.0.0.tar.gz"
#: Short enough for a test to see the give-up, long enough for a loopback index.
QUICK = VerifyPolicy(max_seconds=1.0, first_delay=0.2, max_delay=0.4)
DEAD_TOKEN = (
    "Invalid or non-existent authentication information. "
    "See https://pypi.org/help/#invalid-auth for more information."
)


@dataclass
class Result:
    code: int
    out: str
    outputs: dict[str, Any]
    summary: str

    def warnings(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("::warning")]


def read_outputs(path: Path) -> dict[str, Any]:
    found = re.findall(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", path.read_text(), re.M | re.S)
    return {name: json.loads(value) for name, _, value in found}


def run(
    tmp_path: Path,
    repository_url: str,
    dist_dir: Path,
    *,
    env: dict[str, str] | None = None,
    signer: LocalSigner | None = None,
    policy: VerifyPolicy = QUICK,
    **settings: str,
) -> Result:
    """One publish as `cli` runs it (report written whatever happens), with a short policy."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    run_env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        **(env or {}),
    }
    flags = {"repository_url": repository_url, "packages_dir": str(dist_dir), **settings}
    out = io.StringIO()
    console = Console(env=run_env, out=out, err=out)
    inputs = load_inputs(flags, run_env)
    report = Report(index=inputs.index, dry_run=inputs.dry_run)
    code = 0
    try:
        publish(inputs, console, run_env, report, signer=signer, verify_policy=policy)
    except PublishError as exc:
        report.error = exc
        report.stopped()
        console.error(exc.render(), title=f"trusted-publish: {exc.stage}")
        code = exc.exit_code
    report.write(console)
    return Result(code, out.getvalue(), read_outputs(outputs), summary.read_text())


def on_sandbox(sb: Sandbox, tmp_path: Path, dist_dir: Path, **kwargs: Any) -> Result:
    return run(tmp_path, sb.repository_url, dist_dir, env=sb.env(), **kwargs)


# --- the happy path ----------------------------------------------------------------------------


@pytest.mark.usefixtures("local_trust")
def test_every_file_and_its_provenance_is_verified_and_the_summary_links_it(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox() as sb:
        result = on_sandbox(sb, tmp_path, dist_dir, signer=LocalSigner(), attestations="true")
        assert result.code == 0, result.out
        assert result.warnings() == []
        assert sorted(result.outputs["verified"]) == sorted([WHEEL, SDIST])
        assert "Done: 2 files uploaded, 2 verified on the index." in result.out
        for name in (WHEEL, SDIST):
            url = sb.provenance_url("tp-demo-package", "1.0.0", name)
            row = next(line for line in result.summary.splitlines() if f"`{name}`" in line)
            assert row.endswith(f"| uploaded | yes | [verified](<{url}>) |")
        # Per release: the install line (another index: its simple page) and the stage times.
        assert f"pip install --index-url {sb.index_url} tp-demo-package==1.0.0" in result.summary
        assert re.search(
            r"Time: checks [\d.]+ s · exchange [\d.]+ s · look-up [\d.]+ s · signing [\d.]+ s"
            r" · uploads [\d.]+ s · verification [\d.]+ s",
            result.summary,
        )


def test_files_already_there_are_verified_too(tmp_path: Path, dist_dir: Path) -> None:
    with Sandbox() as sb:
        assert on_sandbox(sb, tmp_path / "first", dist_dir).code == 0
        again = on_sandbox(sb, tmp_path / "second", dist_dir)
        assert again.code == 0
        assert sorted(again.outputs["verified"]) == sorted([WHEEL, SDIST])
        assert again.outputs["skipped"] and not again.outputs["uploaded"]


# --- an index that lies -----------------------------------------------------------------------


def test_an_index_that_answers_200_and_stores_nothing_fails_the_run(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox(upload_fault="drop") as sb:
        result = on_sandbox(sb, tmp_path, dist_dir)
    assert result.code == 5
    assert f"{WHEEL}: {sb.index_url} does not list it" in result.out
    assert result.outputs["verified"] == []
    assert sorted(result.outputs["uploaded"]) == sorted([WHEEL, SDIST])
    assert "Uploaded, but the index does not serve 2 files as sent" in result.summary
    assert "| uploaded | no |" in result.summary
    assert "### What went wrong (verification)" in result.summary


def test_an_index_that_stores_other_bytes_fails_the_run_naming_both_digests(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox(upload_fault="alter") as sb:
        result = on_sandbox(sb, tmp_path, dist_dir)
        theirs = {f.filename: f.sha256 for f in sb.files("tp-demo-package")}
    assert result.code == 5
    assert f"{WHEEL}: {sb.index_url} lists it with sha256 {theirs[WHEEL]}, this file has" in (
        result.out
    )
    assert result.outputs["verified"] == []
    assert "does not serve 2 files as sent" in result.summary


def test_a_listing_that_lags_the_upload_is_waited_for(tmp_path: Path, dist_dir: Path) -> None:
    policy = VerifyPolicy(max_seconds=15.0, first_delay=0.5, max_delay=1.0)
    with Sandbox(listing_lag=1.5) as sb:
        result = on_sandbox(sb, tmp_path, dist_dir, policy=policy)
    assert result.code == 0, result.out
    assert "does not list 2 of the files yet; asking again" in result.out
    assert sorted(result.outputs["verified"]) == sorted([WHEEL, SDIST])
    assert "Done: 2 files uploaded, 2 verified on the index." in result.summary


def test_a_listing_that_cannot_be_read_is_a_warning_not_a_pass(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox() as sb:
        assert on_sandbox(sb, tmp_path, dist_dir).code == 0
        # Now every simple page the index may have answers 503: the second run can't tell
        # what is there (so it uploads again, and PyPI takes the same file as a no-op).
        for where in sb.index_url, f"{sb.repository_url}simple/":
            sb.fail_next(where.removeprefix(sb.base_url), [503] * 50)
        broken = on_sandbox(sb, tmp_path / "again", dist_dir)
    assert broken.code == 0, broken.out
    assert broken.outputs["verified"] == []
    assert any("Could not check that the index serves" in w for w in broken.warnings())
    assert "| uploaded | not checked |" in broken.summary


@pytest.mark.usefixtures("local_trust")
def test_a_provenance_not_served_yet_is_a_warning_naming_the_cache(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox() as sb:
        sb.fail_next("/integrity/", [404])
        result = on_sandbox(sb, tmp_path, dist_dir, signer=LocalSigner(), attestations="true")
    assert result.code == 0
    [warning] = result.warnings()
    assert "no provenance for" in warning and "cached for up to 10 minutes" in warning
    assert "[not served yet](<" in result.summary


def attested_cli_run(
    sb: Sandbox, tmp_path: Path, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> Result:
    """The real CLI, as the action runs it, with an attestation beside each file (made by
    an earlier step: the CLI can't reach Sigstore from a test) for it to upload."""
    for path in (dist_dir / WHEEL, dist_dir / SDIST):
        write_attestation(path, attestation_of(path))
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    env = {
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "TRUSTED_PUBLISH_ATTESTATIONS": "true",
    }
    run = publish_cli(sb, dist_dir, capsys, env=env)
    return Result(run.code, run.text, read_outputs(outputs), summary.read_text())


def provenance_cell(result: Result, filename: str) -> str:
    row = next(line for line in result.summary.splitlines() if f"`{filename}`" in line)
    return row.rsplit("|", 2)[-2].strip()


@pytest.mark.usefixtures("local_trust")
def test_the_cli_verifies_a_provenance_of_these_bytes_from_this_workflow(
    tmp_path: Path, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The good case of the two below, through the same run: they fail for their reason only.
    with Sandbox() as sb:
        result = attested_cli_run(sb, tmp_path, dist_dir, capsys)
    assert result.code == 0, result.out
    assert result.warnings() == []
    for name in (WHEEL, SDIST):
        assert provenance_cell(result, name).startswith("[verified](<")


def test_a_provenance_from_another_publisher_is_not_verified(
    tmp_path: Path, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An attestation of these very bytes, but made by another repository's workflow.
    with Sandbox(provenance_fault="other-publisher") as sb:
        result = attested_cli_run(sb, tmp_path, dist_dir, capsys)
        url = sb.provenance_url("tp-demo-package", "1.0.0", WHEEL)
    # The files are on the index as sent: the release stays published.
    assert result.code == 0, result.out
    assert sorted(result.outputs["verified"]) == sorted([WHEEL, SDIST])
    for name in (WHEEL, SDIST):
        assert provenance_cell(result, name).startswith("[does not match](<")
    assert any(
        f"The provenance of {WHEEL} does not match (attested by GitHub mallory/demo "
        f"other.yml, not by GitHub octo-org/demo release.yml): {url}" in warning
        for warning in result.warnings()
    ), result.warnings()


def test_a_provenance_whose_statement_names_other_bytes_is_not_verified(
    tmp_path: Path, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # From this workflow, but the statement's subject has another SHA-256 than the file.
    with Sandbox(provenance_fault="other-digest") as sb:
        result = attested_cli_run(sb, tmp_path, dist_dir, capsys)
        theirs = {f.filename: f.sha256 for f in sb.files("tp-demo-package")}
    assert result.code == 0, result.out
    for name in (WHEEL, SDIST):
        assert provenance_cell(result, name).startswith("[does not match](<")
    assert any(
        f"The provenance of {WHEEL} does not match (no attestation of sha256 {theirs[WHEEL]})"
        in warning
        for warning in result.warnings()
    ), result.warnings()


def test_verify_false_reads_nothing_back(tmp_path: Path, dist_dir: Path) -> None:
    # The index drops every file: only verification could tell, and it is off.
    with Sandbox(upload_fault="drop") as sb:
        result = on_sandbox(sb, tmp_path, dist_dir, verify="false")
    assert result.code == 0
    assert "Not checking that the index serves the files (`verify: false`)." in result.out
    assert result.outputs["verified"] == []
    assert "| uploaded | not checked | not checked |" in result.summary


# --- real index servers: their simple pages ------------------------------------------------


@pytest.mark.slow
def test_pypiserver_files_are_verified_through_its_simple_page(
    tmp_path: Path, dist_dir: Path, pypiserver: PypiServer
) -> None:
    env = {"TRUSTED_PUBLISH_USER": pypiserver.user, "TRUSTED_PUBLISH_PASSWORD": pypiserver.password}
    result = run(tmp_path, pypiserver.upload_url, dist_dir, env=env)
    assert result.code == 0, result.out
    assert sorted(result.outputs["verified"]) == sorted([WHEEL, SDIST])
    assert "pip install --index-url http://127.0.0.1:" in result.summary


@pytest.mark.slow
def test_devpi_files_are_verified_through_its_simple_page(
    tmp_path: Path, dist_dir: Path, devpi: DevpiIndex
) -> None:
    env = {"TRUSTED_PUBLISH_USER": devpi.user, "TRUSTED_PUBLISH_PASSWORD": devpi.password}
    result = run(tmp_path, devpi.upload_url, dist_dir, env=env)
    assert result.code == 0, result.out
    assert sorted(result.outputs["verified"]) == sorted([WHEEL, SDIST])
    assert "+simple/ tp-demo-package==1.0.0" in result.summary


# --- burning the token ----------------------------------------------------------------------


def test_the_token_is_burned_where_the_index_can_and_is_refused_afterwards(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox() as sb:
        result = on_sandbox(sb, tmp_path, dist_dir)
        assert result.code == 0
        assert sb.minted_tokens and sb.burned_tokens == sb.minted_tokens
        assert "Burned the upload token" in result.out
        refused = upload(sb, dist_dir / WHEEL, ("__token__", sb.burned_tokens[0]))
        assert (refused.status_code, refused.reason) == (403, DEAD_TOKEN)


def test_an_index_without_the_endpoint_is_left_alone_without_a_word(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox(burn_token=False) as sb:  # an index without the endpoint: 404
        result = on_sandbox(sb, tmp_path, dist_dir)
    assert result.code == 0
    assert sb.burned_tokens == []
    assert "burn" not in result.out.lower()


def test_the_token_is_burned_after_a_failed_run_and_a_failed_burn_fails_nothing(
    tmp_path: Path, dist_dir: Path
) -> None:
    with Sandbox() as sb:
        sb.fail_next("/legacy/", [400])
        failed = on_sandbox(sb, tmp_path, dist_dir)
        assert failed.code == 5
        assert sb.burned_tokens == sb.minted_tokens
        sb.fail_next("/_/oidc/burn-token", [503])
        burn_failed = on_sandbox(sb, tmp_path / "again", dist_dir)
    assert burn_failed.code == 0
    [warning] = burn_failed.warnings()
    assert "Could not burn the upload token (HTTP 503); it expires by itself" in warning


def test_a_password_is_never_burned(tmp_path: Path, dist_dir: Path) -> None:
    with Sandbox(users={"alice": "s3cret"}) as sb:
        env = {"TRUSTED_PUBLISH_USER": "alice", "TRUSTED_PUBLISH_PASSWORD": "s3cret"}
        result = run(tmp_path, sb.repository_url, dist_dir, env=env)
        assert result.code == 0
        assert sb.burned_tokens == []
        assert upload(sb, dist_dir / WHEEL, ("alice", "s3cret")).status_code == 200
