"""Provenance a release can lose: before the first upload, the release before it is read from
the JSON API and the Integrity API, and a run that would leave PyPI showing its provenance
as lost or changed (warehouse attestations/models.py, `ProvenanceStatus`) says so, naming the
previous version and the fix; never an error, dry run included; and an Integrity API that
can't be read is "could not tell", never "none".

End to end against the sandbox, through the real publish flow, with the index taken as a
PyPI (as `pypi-like: true` declares one; `Index.pypi_like` is the one place that decides).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.attestations import LocalSigner
from support.builders import make_wheel
from trusted_publish.console import Console
from trusted_publish.errors import PublishError
from trusted_publish.index.continuity import (
    Continuity,
    Releases,
    previous_release,
    read_project_answer,
)
from trusted_publish.index.verify import VerifyPolicy
from trusted_publish.inputs import load_inputs
from trusted_publish.publish import publish
from trusted_publish.report import Report
from trusted_publish_sandbox import Identity, RegisteredPublisher, Sandbox

QUICK = VerifyPolicy(max_seconds=1.0, first_delay=0.2, max_delay=0.4)


def release(sb: Sandbox, tmp_path: Path, version: str, **settings: Any) -> tuple[int, str]:
    """Publish tp-sample `version` as a PyPI-like index takes it: (exit code, log)."""
    folder = tmp_path / f"dist-{version}-{len(list(tmp_path.iterdir()))}"
    make_wheel(folder, version=version)
    signer: Optional[LocalSigner] = settings.pop("signer", None)
    env = {"GITHUB_ACTIONS": "true", **sb.env()}
    # `pypi-like: true`: the sandbox is a PyPI (JSON API, Integrity API), as its printed
    # environment says.
    flags = {
        "repository_url": sb.repository_url,
        "packages_dir": str(folder),
        "pypi_like": "true",
        **settings,
    }
    out = io.StringIO()
    console = Console(env=env, out=out, err=out)
    inputs = load_inputs(flags, env)
    report = Report(index=inputs.index, dry_run=inputs.dry_run)
    code = 0
    try:
        publish(inputs, console, env, report, signer=signer, verify_policy=QUICK)
    except PublishError as exc:
        code = exc.exit_code
        console.error(exc.render())
    return code, out.getvalue()


def warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("::warning")]


@pytest.mark.usefixtures("local_trust")
@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_a_release_without_attestations_after_an_attested_one_warns_lost(
    tmp_path: Path, dry_run: str
) -> None:
    with Sandbox() as sb:
        assert release(sb, tmp_path, "1.0.0", signer=LocalSigner(), attestations="true")[0] == 0
        code, log = release(sb, tmp_path, "1.1.0", attestations="false", dry_run=dry_run)
    assert code == 0, log
    [warning] = [w for w in warnings(log) if "provenance would be lost" in w]
    assert "tp-sample 1.0.0, the release before tp-sample 1.1.0, has provenance" in warning
    assert "attested by GitHub octo-org/demo release.yml" in warning
    assert "(`attestations: false`)" in warning
    assert "To keep it, publish with trusted publishing and attestations" in warning


@pytest.mark.usefixtures("local_trust")
def test_a_release_attested_by_another_workflow_warns_changed(tmp_path: Path) -> None:
    with Sandbox() as sb:
        sb.publishers = [
            RegisteredPublisher("octo-org/demo", "release.yml"),
            RegisteredPublisher("octo-org/demo", "deploy.yml"),
        ]
        assert release(sb, tmp_path, "1.0.0", signer=LocalSigner(), attestations="true")[0] == 0
        sb.identity = Identity(workflow="deploy.yml")
        code, log = release(sb, tmp_path, "1.1.0", signer=LocalSigner(), attestations="true")
    assert code == 0, log
    [warning] = [w for w in warnings(log) if "provenance would change" in w]
    assert "tp-sample 1.0.0, the release before tp-sample 1.1.0, was attested by GitHub " in warning
    assert "octo-org/demo release.yml; tp-sample 1.1.0 will be attested by GitHub " in warning
    assert "octo-org/demo deploy.yml" in warning


@pytest.mark.usefixtures("local_trust")
def test_the_same_publisher_again_keeps_it_without_a_word(tmp_path: Path) -> None:
    with Sandbox() as sb:
        assert release(sb, tmp_path, "1.0.0", signer=LocalSigner(), attestations="true")[0] == 0
        code, log = release(sb, tmp_path, "1.1.0", signer=LocalSigner(), attestations="true")
    assert code == 0, log
    assert not [w for w in warnings(log) if "provenance would" in w], log


@pytest.mark.usefixtures("local_trust")
def test_an_unreachable_integrity_api_says_it_could_not_tell(tmp_path: Path) -> None:
    with Sandbox() as sb:
        assert release(sb, tmp_path, "1.0.0", signer=LocalSigner(), attestations="true")[0] == 0
        sb.fail_next("/integrity/", [503])
        code, log = release(sb, tmp_path, "1.1.0", attestations="false")
    assert code == 0, log
    assert not [w for w in warnings(log) if "provenance would" in w]
    assert (
        "Could not tell whether the release before tp-sample 1.1.0 (tp-sample 1.0.0) has "
        "provenance (HTTP 503)" in log
    )


def test_a_first_release_or_one_after_an_unattested_release_says_nothing(tmp_path: Path) -> None:
    with Sandbox() as sb:
        first = release(sb, tmp_path, "1.0.0", attestations="false")
        second = release(sb, tmp_path, "1.1.0", attestations="false")
    for code, log in (first, second):
        assert code == 0, log
        assert "provenance would" not in log and "Could not tell" not in log


# --- the JSON API's project answer: one boundary ---------------------------------------------


def test_the_previous_release_is_the_highest_version_below_with_a_file() -> None:
    releases = {"0.9": ["a"], "1.0.0rc1": ["b"], "1.0": [], "2.0": ["c"], "x!y": ["d"]}
    assert previous_release(releases, "1.5") == "1.0.0rc1"
    assert previous_release(releases, "0.9") is None
    assert previous_release(releases, "not a version") is None


@given(status=st.sampled_from([200, 200, 404, 500]), body=st.binary(max_size=300))
def test_any_project_answer_becomes_a_named_outcome(status: int, body: bytes) -> None:
    answer = read_project_answer(status, body)
    assert isinstance(answer, Releases)
    if answer.files is None:
        assert answer.reason  # could not tell, and why: never "no releases"


def test_an_unreadable_project_answer_is_could_not_tell_never_none() -> None:
    assert read_project_answer(200, b"[" * 100_000 + b"]" * 100_000).files is None
    assert read_project_answer(503, b"").files is None
    assert read_project_answer(404, b"").files == {}
    assert Continuity.UNKNOWN.value == "could not tell"
