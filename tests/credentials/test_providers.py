"""Trusted publishing from GitLab CI/CD and Google Cloud, end to end against the sandbox.

Each run goes through the real CLI with the environment that CI gives a job: GitLab's ID
tokens in the variables its `id_tokens:` block declares, Google's from the metadata server
(the sandbox's, named by `GCE_METADATA_HOST`). Every run's output is checked for every
token the sandbox handed out, as on the GitHub path.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from support.attestations import sigstore_unreachable
from support.procs import free_port
from support.runs import Run, assert_no_secret
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.credentials.attestations import decide
from trusted_publish.credentials.claims import unverified_claims
from trusted_publish.credentials.exchange import refusal_help
from trusted_publish.credentials.gitlab import GitLabSource, variable_for
from trusted_publish.errors import SigningError
from trusted_publish.index.target import Index
from trusted_publish_sandbox import (
    GitLabPublisher,
    GoogleIdentity,
    GooglePublisher,
    Identity,
    RegisteredPublisher,
    Sandbox,
)

#: Every test here runs as on a machine that is not Google Cloud.
pytestmark = pytest.mark.usefixtures("not_on_google_cloud")

PROJECT = "tp-demo-package"


def run_cli(
    sb: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *argv: str,
) -> Run:
    """The CLI as a CI job outside GitHub runs it: no GitHub variables at all."""
    run_env = {
        "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        **env,
    }
    capsys.readouterr()
    code = main(list(argv), env=run_env)
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    assert_no_secret(sb, run.text)
    for value in env.values():
        if value.count(".") == 2:  # a JWT handed to the job
            assert value not in run.text and value[:40] not in run.text
    return run


def landed(sb: Sandbox, dist_dir: Path) -> bool:
    stored = {f.filename: f.sha256 for f in sb.files(PROJECT)}
    return stored == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dist_dir.iterdir()
    }


# --- GitLab CI/CD ------------------------------------------------------------------------------


def test_gitlab_publishes_with_the_jobs_pypi_id_token(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(sandbox, dist_dir, capsys, sandbox.gitlab_env())
    assert run.code == 0, run.text
    assert "OIDC token from GitLab CI/CD." in run.out
    assert landed(sandbox, dist_dir)
    assert sandbox.mint_requests[-1].publisher == "gitlab:octo-group/demo:.gitlab-ci.yml:pypi"


def test_gitlab_with_the_provider_named_and_another_variable(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = sandbox.gitlab_id_token("pypi")
    env = {"MY_PYPI_TOKEN": token}  # no GITLAB_CI: the provider is named instead
    argv = [
        "--trusted-publishing-provider",
        "gitlab",
        "--gitlab-id-token-variable",
        "MY_PYPI_TOKEN",
    ]
    run = run_cli(sandbox, dist_dir, capsys, env, *argv)
    assert run.code == 0, run.text
    assert landed(sandbox, dist_dir)


@pytest.mark.parametrize(
    ("audience", "variable"), [("pypi", "PYPI_ID_TOKEN"), ("testpypi", "TESTPYPI_ID_TOKEN")]
)
def test_a_missing_id_token_says_which_id_tokens_block_to_add(
    sandbox: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    audience: str,
    variable: str,
) -> None:
    sandbox.audience = audience
    run = run_cli(sandbox, dist_dir, capsys, {"GITLAB_CI": "true"})
    assert run.code == 4
    assert f"the job has no `{variable}` variable" in run.err
    assert f"id_tokens:\n        {variable}:\n          aud: {audience}\n" in run.err
    assert sandbox.mint_requests == [] and sandbox.upload_attempts == []


def test_an_id_token_for_another_audience_is_named_before_the_exchange(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"GITLAB_CI": "true", "PYPI_ID_TOKEN": sandbox.gitlab_id_token("sigstore")}
    run = run_cli(sandbox, dist_dir, capsys, env)
    assert run.code == 4
    assert "is for audience 'sigstore', and the index wants 'pypi'" in run.err
    assert "aud: pypi" in run.err
    assert sandbox.mint_requests == []


def test_the_variable_names_are_ids(sandbox: Sandbox) -> None:
    # `id`'s rule (what twine reads): upper case, other characters and a leading digit → _.
    assert variable_for("pypi") == "PYPI_ID_TOKEN"
    assert variable_for("testpypi") == "TESTPYPI_ID_TOKEN"
    assert variable_for("my-aud") == "MY_AUD_ID_TOKEN"
    assert variable_for("1x") == "_X_ID_TOKEN"
    assert set(sandbox.gitlab_env("pypi", "sigstore")) == {
        "GITLAB_CI", "CI_SERVER_URL", "PYPI_ID_TOKEN", "SIGSTORE_ID_TOKEN"
    }  # fmt: skip


def gitlab_refusal(
    sb: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str], publisher: GitLabPublisher
) -> str:
    sb.publishers = [publisher]
    run = run_cli(sb, dist_dir, capsys, sb.gitlab_env())
    assert run.code == 4
    assert sb.upload_attempts == []
    return run.err


def test_a_wrong_pipeline_path_is_diagnosed_by_field(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = gitlab_refusal(
        sandbox, dist_dir, capsys, GitLabPublisher("octo-group/demo", "ci/release.yml", "pypi")
    )
    assert (
        "invalid-publisher: valid token, but no corresponding publisher "
        "(Publisher with matching claims was not found)"
    ) in error
    assert (
        "ci_config_ref_uri: " in error
        and "/octo-group/demo//.gitlab-ci.yml@refs/tags/v1.0.0" in error
    )
    assert re.search(r"Namespace\s+octo-group\n", error)
    assert re.search(r"Project name\s+demo\n", error)
    assert re.search(r"Top-level pipeline file path\s+\.gitlab-ci\.yml\n", error)
    assert re.search(r"Environment name\s+pypi\n", error)
    assert "The top-level pipeline file is '.gitlab-ci.yml'" in error


def test_a_wrong_environment_is_diagnosed_by_field(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = gitlab_refusal(
        sandbox, dist_dir, capsys, GitLabPublisher("octo-group/demo", ".gitlab-ci.yml", "release")
    )
    assert "Publisher with matching claims was not found" in error
    assert "environment: pypi" in error  # the claim
    assert re.search(r"Environment name\s+pypi\n", error)
    assert "The job runs in environment 'pypi': the publisher must name exactly that" in error


def test_a_publisher_spelling_the_project_otherwise_is_found_then_refused(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # warehouse looks publishers up without case, then compares ci_config_ref_uri exactly.
    error = gitlab_refusal(
        sandbox, dist_dir, capsys, GitLabPublisher("Octo-Group/Demo", ".gitlab-ci.yml")
    )
    assert "(The ci_config_ref_uri claim does not match, expecting one of [" in error
    assert "Octo-Group/Demo//.gitlab-ci.yml@refs/tags/v1.0.0" in error
    assert "Register the publisher as GitLab spells it: octo-group/demo." in error


def test_a_self_managed_gitlab_is_named_and_the_form_link_carries_it(sandbox: Sandbox) -> None:
    claims = unverified_claims(sandbox.gitlab_id_token())
    lines, fix = refusal_help(claims, ["invalid-publisher"], Index.from_urls(), ["My_Project"])
    text = "\n".join(lines)
    assert re.search(rf"GitLab instance\s+{re.escape(sandbox.gitlab_issuer)}", text)
    assert "self-managed GitLab" in text
    assert (
        "Add it for My_Project: https://pypi.org/manage/project/my-project/settings/publishing/"
        "?provider=gitlab&namespace=octo-group&project=demo&workflow_filepath=.gitlab-ci.yml"
        "&environment=pypi&issuer_url=http%3A%2F%2F127.0.0.1%3A"
    ) in text
    assert "the link opens the form" in fix


# --- attestations from GitLab ----------------------------------------------------------------


def test_gitlab_attestations_need_a_sigstore_id_token(sandbox: Sandbox) -> None:
    console = Console(env={})
    on_gitlab_com = {"CI_SERVER_URL": "https://gitlab.com"}
    pypi = Index.from_urls()
    why = GitLabSource(on_gitlab_com, console).sigstore_unavailable(pypi)
    assert why is not None and "`SIGSTORE_ID_TOKEN: {aud: sigstore}`" in why
    # Automatic: one notice and no attestations; asked for: an error before any upload.
    assert decide(None, trusted_publishing=True, index=pypi, unavailable=why).why_not == why
    with pytest.raises(SigningError, match="`attestations: true`, and this job can't make"):
        decide(True, trusted_publishing=True, index=pypi, unavailable=why)
    with_sigstore = {**on_gitlab_com, "SIGSTORE_ID_TOKEN": sandbox.gitlab_id_token("sigstore")}
    assert GitLabSource(with_sigstore, console).sigstore_unavailable(pypi) is None
    # PyPI verifies GitLab attestations from gitlab.com only.
    self_managed = {**with_sigstore, "CI_SERVER_URL": "https://gitlab.example.com"}
    why = GitLabSource(self_managed, console).sigstore_unavailable(pypi)
    assert why is not None and "only from gitlab.com" in why


def test_gitlab_signs_with_its_sigstore_id_token_then_stops_at_sigstore(
    sandbox: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sigstore_unreachable(monkeypatch, tmp_path)
    env = {**sandbox.gitlab_env("pypi", "sigstore"), "TRUSTED_PUBLISH_ATTESTATIONS": "true"}
    run = run_cli(sandbox, dist_dir, capsys, env)
    assert run.code == 4, run.text
    # The Sigstore token was read and accepted: the run got as far as Sigstore itself.
    assert "Could not get a signing certificate from Sigstore" in run.err
    assert sandbox.upload_attempts == []


# --- Google Cloud ----------------------------------------------------------------------------


def test_google_publishes_with_the_metadata_servers_identity_token(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(sandbox, dist_dir, capsys, sandbox.google_env())
    assert run.code == 0, run.text
    assert "OIDC token from Google Cloud." in run.out
    assert landed(sandbox, dist_dir)
    assert sandbox.mint_requests[-1].publisher == (
        "google:publisher@demo-project.iam.gserviceaccount.com"
    )


def test_a_refused_google_publisher_shows_the_service_accounts_email_and_subject(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [GooglePublisher("publisher@demo-project.iam.gserviceaccount.com", "42")]
    run = run_cli(sandbox, dist_dir, capsys, sandbox.google_env())
    assert run.code == 4
    assert "Publisher with matching claims was not found" in run.err
    assert re.search(r"Email\s+publisher@demo-project\.iam\.gserviceaccount\.com\n", run.err)
    assert re.search(r"Subject \(optional\)\s+117838797398470216432\n", run.err)
    assert "email: publisher@demo-project.iam.gserviceaccount.com" in run.err
    claims = unverified_claims(sandbox.google_id_token("pypi"))
    lines, _ = refusal_help(claims, ["invalid-publisher"], Index.from_urls(), ["p"])
    assert (
        "Add it for p: https://pypi.org/manage/project/p/settings/publishing/?provider=google"
        "&email=publisher%40demo-project.iam.gserviceaccount.com&sub=117838797398470216432"
    ) in lines


def test_an_unverified_email_is_refused_with_warehouses_text(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.google_identity = GoogleIdentity(email_verified="true")  # a string, not true
    run = run_cli(sandbox, dist_dir, capsys, sandbox.google_env())
    assert run.code == 4
    assert "(Check failed for required claim 'email_verified')" in run.err
    assert "`email_verified` is not true" in run.err


def test_an_unreachable_metadata_server_is_named(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The run's own retry settings reach the metadata server: one short retry, not the
    # default back-off's half minute.
    env = {
        "GCE_METADATA_HOST": f"127.0.0.1:{free_port()}",
        "TRUSTED_PUBLISH_MAX_RETRIES": "1",
        "TRUSTED_PUBLISH_RETRY_TIMEOUT": "2",
    }
    run = run_cli(sandbox, dist_dir, capsys, env)
    assert run.code == 4
    assert "Could not reach Google's metadata server at http://127.0.0.1:" in run.err
    assert "Google's metadata server: " in run.text and "retry 1 of 1 in " in run.text
    assert sandbox.mint_requests == []


def test_a_metadata_host_off_the_machine_is_refused(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(sandbox, dist_dir, capsys, {"GCE_METADATA_HOST": "evil.example:80"})
    assert run.code == 4
    assert "GCE_METADATA_HOST names 'evil.example:80'" in run.err


# --- detection -------------------------------------------------------------------------------


def test_no_ci_detected_names_the_variables_looked_for(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(sandbox, dist_dir, capsys, {})
    assert run.code == 4
    for name in (
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GITLAB_CI",
        "GCE_METADATA_HOST",
    ):
        assert name in run.err
    assert "--trusted-publishing-provider" in run.err
    assert sandbox.mint_requests == []


def test_gitlab_comes_before_the_machines_google_identity(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # gitlab.com's own runners are Google Cloud machines: their account is not the project's.
    run = run_cli(sandbox, dist_dir, capsys, {**sandbox.google_env(), **sandbox.gitlab_env()})
    assert run.code == 0, run.text
    assert sandbox.mint_requests[-1].publisher.startswith("gitlab:")


def test_an_unknown_provider_is_an_input_error(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"TRUSTED_PUBLISH_TRUSTED_PUBLISHING_PROVIDER": "circleci"}
    run = run_cli(sandbox, dist_dir, capsys, env)
    assert run.code == 2
    assert "`trusted-publishing-provider`" in run.err
    bad = {"TRUSTED_PUBLISH_GITLAB_ID_TOKEN_VARIABLE": "1-nope"}
    assert run_cli(sandbox, dist_dir, capsys, bad).code == 2


# --- GitHub, matched as warehouse does today -------------------------------------------------


def github_env(sb: Sandbox) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", **sb.env()}


def test_a_customized_github_subject_is_accepted(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An organization's customized subject template: PyPI does not check `sub`.
    sandbox.identity = Identity(
        extra_claims={"sub": "repo:octo-org/demo:context:pypi:job_workflow_ref:release.yml"}
    )
    run = run_cli(sandbox, dist_dir, capsys, github_env(sandbox))
    assert run.code == 0, run.text
    assert landed(sandbox, dist_dir)


def test_a_case_difference_is_refused_and_the_diagnosis_says_names_compare_exactly(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.publishers = [RegisteredPublisher("octo-org/demo", "release.yml")]
    sandbox.identity = Identity(repository="octo-org/Demo")
    run = run_cli(sandbox, dist_dir, capsys, github_env(sandbox))
    assert run.code == 4
    [error] = [line for line in run.out.splitlines() if line.startswith("::error")]
    error = error.replace("%0A", "\n").replace("%25", "%")
    assert (
        "invalid-publisher: valid token, but no corresponding publisher "
        "(Publisher with matching claims was not found)"
    ) in error
    # The repository as the token spells it, and why the spelling matters.
    assert re.search(r"Repository name\s+Demo\n", error)
    assert "Names are compared exactly, case included" in error
    assert "(octo-org/Demo, release.yml)" in error
    assert sandbox.upload_attempts == []
