"""The trusted-publishing path end to end against the sandbox (GitHub OIDC + PyPI look-alike).

Every run goes through the real CLI entrypoint with the environment the action gives it, and
every run's output is checked for the secrets the sandbox handed out: the OIDC JWTs, the
minted upload tokens and the runner's request token must never be printed (the one
`::add-mask::` line per secret, which the runner consumes, is the exception).
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from support.procs import free_port
from support.runs import error_lines, publish
from trusted_publish.console import Console
from trusted_publish.credentials.exchange import mint_token
from trusted_publish.errors import CredentialError
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Identity, RegisteredPublisher, Sandbox

PROJECT = "tp-demo-package"


# --- the happy path ------------------------------------------------------------------------


def test_both_files_land_with_digests_the_server_verified(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = publish(sandbox, dist_dir, capsys)
    assert run.code == 0, run.text
    stored = {f.filename: f for f in sandbox.files(PROJECT)}
    for path in dist_dir.iterdir():
        assert stored[path.name].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(sandbox.upload_attempts) == 2
    assert all(a.status == 200 for a in sandbox.upload_attempts)
    # Masked the moment we held them: request token, JWT, minted token and the Basic
    # header's value it is sent in.
    masks = [line for line in run.out.splitlines() if line.startswith("::add-mask::")]
    basic = base64.b64encode(f"__token__:{sandbox.minted_tokens[0]}".encode()).decode()
    assert masks == [
        f"::add-mask::{sandbox.oidc_request_token}",
        f"::add-mask::{sandbox.issued_jwts[0]}",
        f"::add-mask::{sandbox.minted_tokens[0]}",
        f"::add-mask::{basic}",
    ]


def test_pip_installs_what_was_published(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert publish(sandbox, dist_dir, capsys).code == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", "--isolated",
         "--disable-pip-version-check", "--index-url", sandbox.index_url, PROJECT],
        check=True,
        env={"PIP_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    probe = subprocess.run(
        [str(python), "-c", "import tp_demo_package as m; print(m.__version__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "1.0.0"


# --- refusals before any byte is uploaded ----------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
)
def test_missing_oidc_variables_say_to_add_the_permission(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    run = publish(sandbox, dist_dir, capsys, env={missing: ""})
    assert run.code == 4
    [error] = error_lines(run)
    assert missing in error
    assert "id-token: write" in error
    assert sandbox.upload_attempts == []
    assert sandbox.mint_requests == []


def test_an_index_without_trusted_publishing_says_to_pass_a_password(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.trusted_publishing = "absent"
    run = publish(sandbox, dist_dir, capsys)
    assert run.code == 4
    [error] = error_lines(run)
    assert "does not offer trusted publishing" in error
    assert "`password` input" in error
    assert sandbox.upload_attempts == []


def test_trusted_publishing_turned_off_is_said_so(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.trusted_publishing = "disabled"
    run = publish(sandbox, dist_dir, capsys)
    assert run.code == 4
    assert "Trusted publishing is turned off" in error_lines(run)[0]
    assert sandbox.upload_attempts == []


@pytest.mark.parametrize(
    ("setup", "code", "description"),
    [
        pytest.param(
            {"publishers": [RegisteredPublisher("octo-org/demo", "other.yml")]},
            "invalid-publisher",
            "valid token, but no corresponding publisher",
            id="wrong-workflow",
        ),
        pytest.param(
            {
                "publishers": [
                    RegisteredPublisher("octo-org/demo", "release.yml", environment="release")
                ]
            },
            "invalid-publisher",
            "valid token, but no corresponding publisher",
            id="wrong-environment",
        ),
        pytest.param(
            {"identity": Identity(issued_at_offset=-3600)},
            "invalid-token",
            "malformed or invalid token",
            id="expired-token",
        ),
        pytest.param(
            {"identity": Identity(event_name="pull_request_target")},
            "invalid-publisher",
            "pull_request_target",
            id="pull-request-target",
        ),
        pytest.param(
            {
                "publishers": [
                    RegisteredPublisher(
                        "octo-org/demo", "release.yml", projects={PROJECT}, pending=True
                    )
                ],
                "existing_project": PROJECT,
            },
            "invalid-pending-publisher",
            "valid token, but project already exists",
            id="pending-publisher-project-exists",
        ),
    ],
)
def test_a_refused_exchange_shows_pypi_codes_and_the_claims_never_the_token(
    sandbox: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    setup: dict[str, object],
    code: str,
    description: str,
) -> None:
    if "publishers" in setup:
        sandbox.publishers = setup["publishers"]  # type: ignore[assignment]
    if "identity" in setup:
        sandbox.identity = setup["identity"]  # type: ignore[assignment]
    if "existing_project" in setup:
        sandbox.create_project(str(setup["existing_project"]))
    run = publish(sandbox, dist_dir, capsys)
    assert run.code == 4
    [error] = error_lines(run)
    assert f"{code}: " in error
    assert description in error
    # The claims PyPI matched on, so the user can compare them with the publisher's form.
    assert "repository: octo-org/demo" in error
    assert "job_workflow_ref: octo-org/demo/.github/workflows/release.yml@refs/tags/v1.0.0" in error
    assert "Fix:" in error
    assert sandbox.upload_attempts == []


def test_a_reused_oidc_token_is_refused_with_its_code(sandbox: Sandbox) -> None:
    console = Console(env={}, out=io.StringIO(), err=io.StringIO())
    jwt = sandbox.id_token("pypi")
    session = requests.Session()
    mint_token(session, Index.from_urls(sandbox.repository_url), jwt, console)
    with pytest.raises(CredentialError) as exc:
        mint_token(session, Index.from_urls(sandbox.repository_url), jwt, console)
    assert "invalid-reuse-token: invalid token: already used" in exc.value.render()
    assert jwt not in exc.value.render()


def test_a_token_from_an_unknown_issuer_is_invalid_payload(sandbox: Sandbox) -> None:
    console = Console(env={}, out=io.StringIO(), err=io.StringIO())
    jwt = sandbox.sign_jwt({"iss": "https://issuer.invalid", "aud": "pypi", "jti": "x"})
    with pytest.raises(CredentialError) as exc:
        mint_token(requests.Session(), Index.from_urls(sandbox.repository_url), jwt, console)
    assert "invalid-payload:" in exc.value.render()
    assert jwt not in exc.value.render()


def test_mint_not_enabled_is_shown_with_its_code(sandbox: Sandbox) -> None:
    console = Console(env={}, out=io.StringIO(), err=io.StringIO())
    jwt = sandbox.id_token("pypi")
    sandbox.trusted_publishing = "disabled"
    with pytest.raises(CredentialError) as exc:
        mint_token(requests.Session(), Index.from_urls(sandbox.repository_url), jwt, console)
    assert "not-enabled:" in exc.value.render()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_no_distributions_stops_before_any_network_call(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    folder = tmp_path / "dist"
    if state == "empty":
        folder.mkdir()
    run = publish(sandbox, folder, capsys)
    assert run.code == 3
    assert "python -m build" in error_lines(run)[0]
    assert sandbox.mint_requests == []
    assert sandbox.upload_attempts == []


def test_an_unreachable_index_is_named_with_the_reason(
    dist_dir: Path, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/legacy/"
    # One retry, not five: a refused connection is retried like any other blip.
    env = {"TRUSTED_PUBLISH_REPOSITORY_URL": closed, "TRUSTED_PUBLISH_MAX_RETRIES": "1"}
    run = publish(sandbox, dist_dir, capsys, env=env)
    assert run.code == 4
    [error] = error_lines(run)
    assert "Could not reach the index" in error
    assert "connection was refused" in error
    assert sandbox.upload_attempts == []
