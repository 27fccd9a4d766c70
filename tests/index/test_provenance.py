"""Provenance read back after the upload, for every CI: verified only against the publisher
the upload token was minted for, with pypi-attestations' own verification where it is
installed, every request within `request-timeout` and all of them within one bound; and the
Integrity API's answer read at one boundary, fuzzed.

Runs go through the real CLI against the sandbox, with attestations an earlier step made
(tests/support/attestations.py: the local signer; Sigstore can't be reached from a test).
"""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.attestations import attestation_of, write_attestation
from support.builders import make_wheel
from support.dists import read_distribution
from support.procs import LOOPBACK
from support.runs import Run, assert_no_secret
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.errors import Interrupted
from trusted_publish.http.transport import make_session
from trusted_publish.index.provenance import (
    IntegrityAnswer,
    ProvenanceState,
    Served,
    read_integrity_answer,
    verify_provenance,
)
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Sandbox

#: Every test here runs as on a machine that is not Google Cloud.
pytestmark = pytest.mark.usefixtures("not_on_google_cloud")

WHEEL = "tp_demo_package-1.0.0-py3-none-any.whl"
SDIST = "tp_demo_package-1.0.0.tar.gz"


def attested_run(
    sb: Sandbox,
    dist_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ci_env: dict[str, str],
) -> tuple[Run, str]:
    """The CLI in a CI job whose earlier step left an attestation beside each file; the run
    and its job summary."""
    for path in (dist_dir / WHEEL, dist_dir / SDIST):
        write_attestation(path, attestation_of(path))
    summary = tmp_path / "summary.md"
    env = {
        "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        "TRUSTED_PUBLISH_ATTESTATIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        **ci_env,
    }
    capsys.readouterr()
    code = main([], env=env)
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    assert_no_secret(sb, run.text)
    return run, summary.read_text()


def provenance_cell(summary: str, filename: str) -> str:
    row = next(line for line in summary.splitlines() if f"`{filename}`" in line)
    return row.rsplit("|", 2)[-2].strip()


CIS = {
    "github": (lambda sb: {"GITHUB_ACTIONS": "true", **sb.env()}, "GitHub octo-org/demo"),
    "gitlab": (lambda sb: sb.gitlab_env("pypi", "sigstore"), "GitLab octo-group/demo"),
    "google": (lambda sb: sb.google_env(), "Google publisher@demo-project"),
}


@pytest.mark.usefixtures("local_trust")
@pytest.mark.parametrize("ci", sorted(CIS))
def test_each_cis_own_provenance_is_verified(
    ci: str, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_of, _ = CIS[ci]
    with Sandbox() as sb:
        run, summary = attested_run(sb, dist_dir, tmp_path, capsys, env_of(sb))
    assert run.code == 0, run.text
    for name in (WHEEL, SDIST):
        assert provenance_cell(summary, name).startswith("[verified](<"), summary


@pytest.mark.usefixtures("local_trust")
@pytest.mark.parametrize("ci", sorted(CIS))
def test_a_provenance_from_another_publisher_is_not_verified_whatever_the_ci(
    ci: str, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An attestation of these very bytes, from another repository (GitHub, GitLab) or
    # another service account (Google). Before, GitLab and Google runs called it verified.
    env_of, ours = CIS[ci]
    with Sandbox(provenance_fault="other-publisher") as sb:
        run, summary = attested_run(sb, dist_dir, tmp_path, capsys, env_of(sb))
    assert run.code == 0, run.text  # the files are served as sent: the release stands
    for name in (WHEEL, SDIST):
        assert provenance_cell(summary, name).startswith("[does not match](<"), summary
    warning = next(w for w in run.text.splitlines() if f"The provenance of {WHEEL}" in w)
    assert "attested by " in warning and f"not by {ours}" in warning


def test_pypi_attestations_own_verification_refuses_what_sigstore_did_not_sign(
    dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the local root of trust: the local signer's attestation, served from this
    # very publisher with these very bytes, fails Sigstore's verification (offline, with
    # the trust root that comes with sigstore), so it is not called verified.
    with Sandbox() as sb:
        run, summary = attested_run(sb, dist_dir, tmp_path, capsys, CIS["github"][0](sb))
    assert run.code == 0, run.text
    assert provenance_cell(summary, WHEEL).startswith("[does not match](<")
    assert "it does not verify with Sigstore" in run.text


# --- bounded: request-timeout per request, one bound for all -------------------------------


@pytest.fixture
def silent() -> Iterator[str]:
    """An index that takes connections and never answers."""
    server = socket.socket()
    server.bind((LOOPBACK, 0))
    server.listen(64)
    host, port = server.getsockname()[:2]
    try:
        yield f"http://{host}:{port}/legacy/"
    finally:
        server.close()


def test_provenance_requests_obey_request_timeout_and_share_one_bound(
    silent: str, tmp_path: Path
) -> None:
    tags = [f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64" for minor in range(8, 14)]
    dists = [read_distribution(make_wheel(tmp_path, tag=tag)) for tag in tags]
    out = io.StringIO()
    started = time.monotonic()
    found = verify_provenance(
        make_session(),
        Index.from_urls(silent),
        dists,
        publisher={"kind": "GitHub", "repository": "octo-org/demo", "workflow": "release.yml"},
        console=Console(env={}, out=out, err=out),
        request_seconds=0.4,
        bound=1.0,
    )
    took = time.monotonic() - started
    assert took < 2.0, f"{took:.1f} s: six files at 0.4 s each, but one bound of 1 s"
    states = [check.state for check in found.values()]
    assert states[0] is ProvenanceState.UNREADABLE
    assert ProvenanceState.NOT_READ in states
    assert "no complete answer within the 0.4 s deadline" in out.getvalue()
    assert "the read-back's 1 s bound passed" in out.getvalue()


# --- the Integrity API's answer: one boundary, any bytes ------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@given(
    status=st.sampled_from([200, 200, 200, 404, 500, 302]),
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "attestation_bundles",
                            "publisher",
                            "attestations",
                            "envelope",
                            "statement",
                            "signature",
                            "kind",
                            "repository",
                            "workflow",
                            "email",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(lambda value: json.dumps(value).encode()),
        st.integers(1000, 100_000).map(_nested),
    ),
)
def test_any_integrity_answer_becomes_a_named_outcome(status: int, body: bytes) -> None:
    answer = read_integrity_answer(status, body)
    assert isinstance(answer, IntegrityAnswer)
    assert isinstance(answer.served, Served)
    # The reason is ours, never the server's text.
    assert re.fullmatch(r"[\w .()0-9-]+", answer.reason), answer.reason


def test_a_statement_that_is_not_base64_json_names_no_file() -> None:
    document: dict[str, Any] = {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {"kind": "GitHub", "repository": "o/r", "workflow": "w.yml"},
                "attestations": [{"envelope": {"statement": "%%%", "signature": ""}}],
            }
        ],
    }
    answer = read_integrity_answer(200, json.dumps(document).encode())
    assert answer.served is Served.PROVENANCE
    [bundle] = answer.bundles
    assert bundle.attestations[0].subjects == ()


def test_a_signal_during_the_provenance_read_back_leaves_the_rest_unread(tmp_path: Path) -> None:
    # One branch, with a session standing in: the signal handler raises `Interrupted` in the
    # middle of a request (tests/runtime/test_signals.py drives real signals through a run).
    tags = [f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64" for minor in range(8, 11)]
    dists = [read_distribution(make_wheel(tmp_path, tag=tag)) for tag in tags]

    class Signalled:
        def request(self, *args: object, **kwargs: object) -> None:
            raise Interrupted(signal.SIGTERM)

    out = io.StringIO()
    found = verify_provenance(
        Signalled(),  # type: ignore[arg-type]
        Index.from_urls("http://127.0.0.1:9/legacy/"),
        dists,
        publisher=None,
        console=Console(env={}, out=out, err=out),
    )
    assert [c.state for c in found.values()] == [ProvenanceState.NOT_READ] * 3
    assert "not read (stopped by a signal)" in out.getvalue()
