"""Every token path of the sandbox needs its bearer, and it listens on loopback unless told
(issue 18, defect 7).

Google's metadata server answers any process on its machine; the sandbox's listens where
other processes (other users') reach it, so without a bearer any of them could mint an
upload token for any project. It serves under a secret path that `GCE_METADATA_HOST`
carries (the client puts that value in front of the identity path, as google-auth does).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sandbox_client import child_env, session
from trusted_publish.credentials import google
from trusted_publish_sandbox import Sandbox
from trusted_publish_sandbox.cli import is_loopback
from trusted_publish_sandbox.google import METADATA_IDENTITY_PATH

FLAVOR = {"Metadata-Flavor": "Google"}
ASK = {"audience": "pypi", "format": "full"}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def test_the_metadata_server_gives_no_token_without_its_secret_path(sb: Sandbox) -> None:
    for prefix in ("", "/not-the-secret", f"/{sb.metadata_secret[:-1]}", f"/{sb.metadata_secret}x"):
        url = f"{sb.base_url}{prefix}{METADATA_IDENTITY_PATH}"
        resp = session().get(url, params=ASK, headers=FLAVOR)
        assert resp.status_code == 403, prefix
        assert "secret path" in resp.text
    deeper = f"{sb.base_url}/a/{sb.metadata_secret}{METADATA_IDENTITY_PATH}"
    assert session().get(deeper, params=ASK, headers=FLAVOR).status_code == 404
    assert sb.issued_jwts == []


def test_the_client_reaches_it_through_gce_metadata_host_alone(sb: Sandbox) -> None:
    # The client's own URL building, unchanged for Google's real metadata server.
    url = google.identity_url(sb.google_env())
    resp = session().get(url, params=ASK, headers=FLAVOR)
    assert resp.status_code == 200
    assert resp.text in sb.issued_jwts


def test_messages_name_the_metadata_server_without_its_secret(
    sb: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trusted_publish.cli import main

    # The metadata server answers 404 (reached through the secret path): the error names it.
    sb.fail_next(f"/{sb.metadata_secret}/computeMetadata/", statuses=(404,))
    capsys.readouterr()
    code = main(
        [],
        env={
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
            "TRUSTED_PUBLISH_VERBOSE": "true",
            **sb.google_env(),
        },
    )
    out, err = capsys.readouterr()
    assert code == 4
    assert f"Google's metadata server at {sb.base_url} answered HTTP 404" in err
    assert sb.metadata_secret not in out + err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - what is checked, never bound
        ("", False),
        ("192.0.2.1", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def run_cli_until_ready(*args: str) -> tuple[str, str]:
    """Start the sandbox's command line, wait for its ready line, stop it: (stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trusted_publish_sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "sandbox ready on " in line:  # `# sandbox ready on URL`, the last line
                break
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    return "".join(lines), err


def test_the_sandbox_warns_loudly_when_told_to_listen_beyond_loopback() -> None:
    # 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine: the warning comes
    # first, then the bind fails, and no test ever listens beyond loopback.
    out, err = run_cli_until_ready("--host", "192.0.2.1")
    assert "sandbox: WARNING: --host 192.0.2.1 is not loopback" in err
    assert "sandbox: cannot start" in err
    assert "sandbox ready" not in out


def test_the_sandbox_listens_on_loopback_by_default_without_a_warning() -> None:
    out, err = run_cli_until_ready()
    assert "# sandbox ready on http://127.0.0.1:" in out
    assert "WARNING" not in err
    assert "GCE_METADATA_HOST=127.0.0.1:" in out
