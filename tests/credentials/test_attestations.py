"""PEP 740 attestations: every file signed before the first upload, and sent as PyPI wants it.

The runs go through the real publish flow against the sandbox, which checks the
`attestations` field as PyPI does (short of Sigstore's cryptography). Signing is done by a
local signer (tests/support/attestations.py) through the same `Signer` interface the real
Sigstore signer implements; the real one is run too, up to the point where it would reach
Sigstore.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from support.attestations import LocalSigner, sigstore_unreachable, subject_of, write_attestation
from support.capture import CaptureServer
from support.dists import dist_files, read_distribution
from support.extras import FAILING_INSTALLER, as_private_venv, without_modules
from support.forms import by_name, forms_by_file
from support.runs import assert_no_secret
from support.twine import FAKE_TOKEN, twine_upload
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.credentials import attestations
from trusted_publish.credentials.attestations import PUBLISH_PREDICATE, SUFFIX, SigningError
from trusted_publish.credentials.credential import TrustedPublishingCredentials
from trusted_publish.dists.discover import Distribution
from trusted_publish.errors import PublishError, UploadError
from trusted_publish.index.target import Index
from trusted_publish.index.upload import send
from trusted_publish.inputs import Inputs, load_inputs
from trusted_publish.publish import publish
from trusted_publish_sandbox import Sandbox

PROJECT = "tp-demo-package"
WHEEL = "tp_demo_package-1.0.0-py3-none-any.whl"
SDIST = "tp_demo_package-1.0.0.tar.gz"
TESTPYPI_UPLOAD_URL = "https://test.pypi.org/legacy/"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sb:
        yield sb


@dataclass
class Run:
    code: int
    out: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("::error")]

    @property
    def notices(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("::notice")]


def publish_with(sb: Sandbox, dist_dir: Path, signer: attestations.Signer, **settings: str) -> Run:
    """A publish to the sandbox as the action runs it, but signed by `signer`."""
    env = {"GITHUB_ACTIONS": "true", **sb.env()}
    flags = {"repository_url": sb.repository_url, "packages_dir": str(dist_dir), **settings}
    out = io.StringIO()
    console = Console(env=env, out=out, err=out)
    try:
        publish(load_inputs(flags, env), console, env, signer=signer)
        code = 0
    except PublishError as exc:
        console.error(exc.render(), title=f"trusted-publish: {exc.stage}")
        code = exc.exit_code
    return Run(code, out.getvalue())


def publish_cli(sb: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str], **env: str) -> Run:
    """The real command line, with the environment the action gives it."""
    run_env = {
        "GITHUB_ACTIONS": "true",
        "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        **sb.env(),
        **env,
    }
    capsys.readouterr()
    code = main([], env=run_env)
    captured = capsys.readouterr()
    return Run(code, captured.out + captured.err)


def dist(dist_dir: Path, filename: str) -> Distribution:
    return read_distribution(dist_dir / filename)


# --- signing, and what arrives -----------------------------------------------------------------


def test_every_file_arrives_with_its_attestation_and_a_copy_stays_beside_it(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    signer = LocalSigner()
    run = publish_with(sandbox, dist_dir, signer, attestations="true")
    assert run.code == 0, run.out
    assert sorted(signer.signed) == [WHEEL, SDIST]
    for path in dist_files(dist_dir):
        [arrived] = sandbox.attestations(path.name)
        beside = json.loads(Path(f"{path}{SUFFIX}").read_text(encoding="utf-8"))
        assert arrived == beside
        assert subject_of(arrived) == (path.name, dist(dist_dir, path.name).sha256)
    assert f"Signed {WHEEL}; wrote {WHEEL}{SUFFIX}" in run.out


def test_an_attestation_made_by_an_earlier_step_is_uploaded_without_signing_again(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    wheel = dist(dist_dir, WHEEL)
    made_in_the_build_job = LocalSigner().sign(wheel)
    write_attestation(wheel.path, made_in_the_build_job)
    signer = LocalSigner()
    run = publish_with(sandbox, dist_dir, signer, attestations="true")
    assert run.code == 0, run.out
    assert signer.signed == [SDIST]  # only the file without one
    assert sandbox.attestations(WHEEL) == [made_in_the_build_job]
    assert f"Using {WHEEL}{SUFFIX}: made by an earlier step" in run.out


def test_a_stale_attestation_stops_the_run_before_any_upload(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    # Made for the wheel of an earlier build: same name, other bytes.
    earlier = "0" * 64
    write_attestation(dist_dir / WHEEL, LocalSigner().attestation(WHEEL, earlier))
    signer = LocalSigner()
    run = publish_with(sandbox, dist_dir, signer, attestations="true")
    assert run.code == 3
    [error] = run.errors
    assert f"{WHEEL}{SUFFIX} is stale: it attests other bytes (sha256 {earlier})" in error
    assert dist(dist_dir, WHEEL).sha256 in error
    assert "Delete the attestation files named above" in error
    assert signer.signed == []
    assert sandbox.upload_attempts == []


def test_an_attestation_of_another_file_or_not_an_attestation_at_all_is_named_too(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    write_attestation(
        dist_dir / WHEEL, LocalSigner().attestation(SDIST, dist(dist_dir, SDIST).sha256)
    )
    write_attestation(dist_dir / SDIST, {"version": 1})
    run = publish_with(sandbox, dist_dir, LocalSigner(), attestations="true")
    assert run.code == 3
    [error] = run.errors
    # Both at once: one run lists every problem.
    assert f"{WHEEL}{SUFFIX} attests {SDIST!r}, not {WHEEL}" in error
    assert f"{SDIST}{SUFFIX} is not a PEP 740 attestation (verification_material:" in error
    assert sandbox.upload_attempts == []


def test_when_the_second_file_cannot_be_signed_nothing_is_uploaded(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    signer = LocalSigner(fail_on={SDIST})
    run = publish_with(sandbox, dist_dir, signer, attestations="true")
    assert run.code == 4
    [error] = run.errors
    assert error.startswith("::error title=trusted-publish%3A attestations::")
    assert f"Nothing was uploaded: {SDIST} could not be signed." in error
    assert signer.signed == [WHEEL]
    assert sandbox.upload_attempts == []
    # The signature already made is kept: a re-run uses it rather than signing again.
    assert Path(f"{dist_dir / WHEEL}{SUFFIX}").is_file()


def test_a_dry_run_checks_existing_attestations_and_signs_nothing(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    wheel = dist(dist_dir, WHEEL)
    write_attestation(wheel.path, LocalSigner().sign(wheel))
    signer = LocalSigner()
    run = publish_with(sandbox, dist_dir, signer, attestations="true", dry_run="true")
    assert run.code == 0, run.out
    # Every signature is a permanent entry in Sigstore's public log: none for a rehearsal.
    assert signer.signed == []
    assert f"Would sign {SDIST} and write {SDIST}{SUFFIX}" in run.out
    assert f"Using {WHEEL}{SUFFIX}" in run.out
    assert sandbox.upload_attempts == []


def test_files_the_index_already_has_are_not_signed(sandbox: Sandbox, dist_dir: Path) -> None:
    assert publish_with(sandbox, dist_dir, LocalSigner(), attestations="false").code == 0
    signer = LocalSigner()
    run = publish_with(sandbox, dist_dir, signer, attestations="true")
    assert run.code == 0, run.out
    assert signer.signed == []
    assert "Attestations (PEP 740)" not in run.out


# --- when they are made: automatic, true, false ---------------------------------------------


def inputs(**values: Any) -> Inputs:
    return Inputs(**values)


@pytest.mark.parametrize(
    ("values", "made"),
    [
        pytest.param({}, True, id="automatic-pypi"),
        pytest.param({"repository_url": TESTPYPI_UPLOAD_URL}, True, id="automatic-testpypi"),
        pytest.param({"repository_url": "https://pypi.example.org/legacy/"}, False,
                     id="automatic-other-index"),
        pytest.param({"password": "pypi-token"}, False, id="automatic-password"),
        pytest.param({"repository_url": "https://pypi.example.org/legacy/",
                      "attestations": "true"}, True, id="true-other-index"),
        pytest.param({"attestations": "false"}, False, id="false-pypi"),
    ],
)  # fmt: skip
def test_where_attestations_are_made(values: dict[str, Any], made: bool) -> None:
    given = inputs(**values)
    decision = attestations.decide(
        given.attestations, trusted_publishing=given.trusted_publishing, index=given.index
    )
    assert decision.make is made


@pytest.mark.parametrize(
    ("given", "expected"),
    [("", None), ("  ", None), ("true", True), ("TRUE", True), ("False", False)],
)
def test_the_input_takes_what_github_passes(given: str, expected: bool | None) -> None:
    assert load_inputs({}, {"TRUSTED_PUBLISH_ATTESTATIONS": given}).attestations is expected
    assert load_inputs({"attestations": given}, {}).attestations is expected


def test_a_misspelt_value_is_refused_rather_than_guessed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--attestations", "yes"], env={"GITHUB_ACTIONS": "true"})
    assert code == 2
    assert "`attestations` (env TRUSTED_PUBLISH_ATTESTATIONS): must be 'true' or 'false'" in (
        capsys.readouterr().out
    )


def test_automatic_with_a_password_publishes_with_one_notice(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in dist_files(dist_dir):  # even with attestations lying around
        write_attestation(path, {"version": 1})
    run = publish_cli(
        sandbox, dist_dir, capsys, TRUSTED_PUBLISH_USER="alice", TRUSTED_PUBLISH_PASSWORD="s3cret"
    )
    assert run.code == 0, run.out
    mentions = [line for line in run.out.splitlines() if "attestations are made" in line]
    assert mentions == [
        "::notice::No attestations are made: they need trusted publishing (an index takes them "
        "only from a trusted publisher), and this run uploads with a password. Remove "
        "`password` to publish with trusted publishing and attestations."
    ]
    assert [sandbox.attestations(path.name) for path in dist_files(dist_dir)] == [[], []]


def test_automatic_to_an_index_other_than_pypi_publishes_with_one_notice(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = publish_cli(sandbox, dist_dir, capsys)
    assert run.code == 0, run.out
    [notice] = [line for line in run.notices if "attestations" in line]
    assert notice == (
        "::notice::No attestations are made: only PyPI and TestPyPI are known to take them, "
        f"and this run publishes to {sandbox.repository_url}. Set `attestations: true` if "
        "this index takes PEP 740 attestations."
    )
    assert sandbox.attestations(WHEEL) == []


def test_true_with_a_password_is_an_error_before_any_request(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = publish_cli(
        sandbox, dist_dir, capsys,
        TRUSTED_PUBLISH_USER="alice", TRUSTED_PUBLISH_PASSWORD="s3cret",
        TRUSTED_PUBLISH_ATTESTATIONS="true",
    )  # fmt: skip
    assert run.code == 2
    [error] = run.errors
    assert "`attestations: true` needs trusted publishing, and a `password` is set" in error
    assert "Remove `password` (and `user`)" in error
    assert "set it to false" in error
    assert (sandbox.upload_attempts, sandbox.issued_jwts) == ([], [])


def test_false_turns_them_off_without_a_word(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_attestation(dist_dir / WHEEL, {"not": "checked"})
    run = publish_cli(sandbox, dist_dir, capsys, TRUSTED_PUBLISH_ATTESTATIONS="false")
    assert run.code == 0, run.out
    assert [line for line in run.out.splitlines() if "attestations are" in line.lower()] == []
    assert sandbox.attestations(WHEEL) == []


# --- the real signer, up to Sigstore -----------------------------------------------------------


def test_the_sigstore_signer_asks_github_for_a_sigstore_token_then_stops_at_sigstore(
    sandbox: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sigstore_unreachable(monkeypatch, tmp_path)
    run = publish_cli(sandbox, dist_dir, capsys, TRUSTED_PUBLISH_ATTESTATIONS="true")
    assert run.code == 4, run.out
    # First the exchange's token for PyPI, then one for Sigstore: the only ones asked for.
    audiences = [
        jwt.decode(token, options={"verify_signature": False})["aud"]
        for token in sandbox.issued_jwts
    ]
    assert audiences == ["pypi", "sigstore"]
    # Masked the moment it arrived, and never printed otherwise.
    sigstore_token = sandbox.issued_jwts[1]
    assert f"::add-mask::{sigstore_token}" in run.out
    assert_no_secret(sandbox, run.out)
    [error] = run.errors
    assert f"Nothing was uploaded: {WHEEL} could not be signed. Could not get a signing " in error
    assert "certificate from Sigstore: Failed to refresh TUF metadata" in error
    assert "set `attestations: false` to publish without attestations" in error
    assert sandbox.upload_attempts == []
    assert not Path(f"{dist_dir / WHEEL}{SUFFIX}").exists()


# --- the sandbox checks what PyPI checks -------------------------------------------------------


def upload_with(sb: Sandbox, dist_dir: Path, attestations: str, *, as_user: bool = False) -> str:
    """Send the wheel with this `attestations` field straight to the sandbox; its answer."""
    session = requests.Session()
    console = Console(env={}, out=io.StringIO(), err=io.StringIO())
    credentials = (
        (lambda: ("alice", "s3cret"))
        if as_user
        else TrustedPublishingCredentials(
            session, Index.from_urls(sb.repository_url), sb.env(), console
        ).auth
    )
    with pytest.raises(UploadError) as refused:
        send(session, sb.repository_url, dist(dist_dir, WHEEL), credentials,
             attestations=attestations)  # fmt: skip
    assert sb.files(PROJECT) == [], "a refused upload stores nothing"
    return refused.value.message


REFUSED = "refused tp_demo_package-1.0.0-py3-none-any.whl: HTTP 400 "
INVALID = "Invalid attestations supplied during upload: "
NOT_VERIFIED = (
    INVALID + "Could not verify the uploaded artifact using the included attestation: "
    "Verification failed: "
)


def test_a_subject_naming_another_file_is_refused_with_pypis_message(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    wheel = dist(dist_dir, WHEEL)
    other = LocalSigner().attestation(SDIST, wheel.sha256)
    message = upload_with(sandbox, dist_dir, attestations.form_value([other]))
    assert message.endswith(
        REFUSED + NOT_VERIFIED + f"subject does not match distribution name: {SDIST} != {WHEEL}"
    )


def test_a_subject_with_another_digest_is_refused_with_pypis_message(
    sandbox: Sandbox, dist_dir: Path
) -> None:
    stale = LocalSigner().attestation(WHEEL, "0" * 64)
    message = upload_with(sandbox, dist_dir, attestations.form_value([stale]))
    assert message.endswith(REFUSED + NOT_VERIFIED + "subject does not match distribution digest")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda a: [a, a], INVALID + "Multiple attestations for the same file "
                     f"with the same predicate type ({PUBLISH_PREDICATE}) are not supported",
                     id="two-of-one-type"),
        pytest.param(lambda a: [a, a, a], INVALID + "A maximum of 2 attestations per file "
                     "are supported", id="three"),
        pytest.param(lambda a: [], INVALID + "Malformed attestations: an empty attestation "
                     "set is not permitted", id="empty"),
        pytest.param(lambda a: [{"version": 1}], INVALID + "Malformed attestations: 2 "
                     "validation errors for list[Attestation]", id="not-an-attestation"),
    ],
)  # fmt: skip
def test_what_pypi_refuses_the_sandbox_refuses_in_pypis_words(
    sandbox: Sandbox, dist_dir: Path, make: Any, expected: str
) -> None:
    good = LocalSigner().sign(dist(dist_dir, WHEEL))
    message = upload_with(sandbox, dist_dir, attestations.form_value(make(good)))
    assert REFUSED + expected in message


def test_an_unknown_statement_type_is_refused(sandbox: Sandbox, dist_dir: Path) -> None:
    wheel = dist(dist_dir, WHEEL)
    odd = LocalSigner().attestation(WHEEL, wheel.sha256, predicate_type="https://example.org/x")
    message = upload_with(sandbox, dist_dir, attestations.form_value([odd]))
    assert message.endswith(
        REFUSED + NOT_VERIFIED + "unknown attestation type: https://example.org/x"
    )


def test_attestations_with_a_password_upload_are_refused(sandbox: Sandbox, dist_dir: Path) -> None:
    good = LocalSigner().sign(dist(dist_dir, WHEEL))
    message = upload_with(sandbox, dist_dir, attestations.form_value([good]), as_user=True)
    assert message.endswith(
        REFUSED + INVALID + "Attestations are only supported when using Trusted Publishing"
    )


def test_pypis_refusal_of_an_attestation_comes_with_a_fix(sandbox: Sandbox, dist_dir: Path) -> None:
    stale = LocalSigner().attestation(WHEEL, "0" * 64)
    session = requests.Session()
    console = Console(env={}, out=io.StringIO(), err=io.StringIO())
    auth = TrustedPublishingCredentials(
        session, Index.from_urls(sandbox.repository_url), sandbox.env(), console
    )
    with pytest.raises(UploadError) as refused:
        send(session, sandbox.repository_url, dist(dist_dir, WHEEL), auth.auth,
             attestations=attestations.form_value([stale]))  # fmt: skip
    assert "set `attestations: false`" in (refused.value.fix or "")


# --- the same form field as twine ----------------------------------------------------------------


def test_the_form_carries_the_attestation_files_exactly_as_twine_sends_them(
    dist_dir: Path, capture_server: CaptureServer
) -> None:
    signer = LocalSigner()
    files = dist_files(dist_dir)
    attestation_files = [write_attestation(p, signer.sign(read_distribution(p))) for p in files]
    twine_upload([*files, *attestation_files], capture_server.url, "__token__", FAKE_TOKEN,
                 extra_args=["--attestations"])  # fmt: skip
    theirs = forms_by_file([r for r in capture_server.requests if r.method == "POST"])
    capture_server.clear()

    # Ours: the attestation stage's form values, sent by the upload engine.
    dists = [read_distribution(p) for p in files]
    values = attestations.stage(
        dists,
        attestations.Decision(make=True),
        Console(env={}, out=io.StringIO(), err=io.StringIO()),
        explicit=True,
        dry_run=False,
        make_signer=LocalSigner,
    )
    for one in dists:
        send(requests.Session(), capture_server.url, one, lambda: ("__token__", FAKE_TOKEN),
             attestations=values[one.filename])  # fmt: skip
    ours = forms_by_file(capture_server.requests)
    assert sorted(ours) == sorted(theirs) == sorted(p.name for p in files)
    for filename, form in theirs.items():
        assert by_name(ours[filename]) == by_name(form), filename
        [value] = by_name(form)["attestations"]
        assert json.loads(str(value)) == [
            json.loads(Path(f"{dist_dir / filename}{SUFFIX}").read_text())
        ]


# --- the libraries, installed on demand -----------------------------------------------------------


@pytest.fixture
def without_the_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore and pypi-attestations missing, as in a Python that never installed them."""
    without_modules(monkeypatch, "pypi_attestations", "sigstore.sign")


def stage_quietly(dist_dir: Path, **values: Any) -> tuple[dict[str, str], str]:
    out = io.StringIO()
    dists = [read_distribution(p) for p in dist_files(dist_dir)]
    given = Inputs(packages_dir=dist_dir, **values)
    decision = attestations.decide(
        given.attestations, trusted_publishing=given.trusted_publishing, index=given.index
    )
    result = attestations.stage(
        dists, decision, Console(env={"GITHUB_ACTIONS": "true"}, out=out, err=out),
        explicit=given.attestations is True, dry_run=given.dry_run, make_signer=LocalSigner,
    )  # fmt: skip
    return result, out.getvalue()


@pytest.mark.usefixtures("without_the_libraries")
def test_outside_the_actions_venv_automatic_goes_on_without_and_says_how_to_get_them(
    dist_dir: Path,
) -> None:
    values, out = stage_quietly(dist_dir)
    assert values == {}
    [warning] = [line for line in out.splitlines() if line.startswith("::warning")]
    assert "No attestations are made." in warning
    assert "this is not trusted-publish's own environment" in warning
    assert "pip install 'trusted-publish[attestations]'" in warning


@pytest.mark.usefixtures("without_the_libraries")
def test_outside_the_actions_venv_true_stops_the_run(dist_dir: Path) -> None:
    with pytest.raises(SigningError) as stopped:
        stage_quietly(dist_dir, attestations=True)
    assert "need the sigstore and pypi-attestations packages" in stopped.value.message
    assert "pip install 'trusted-publish[attestations]'" in (stopped.value.fix or "")


@pytest.mark.usefixtures("without_the_libraries")
def test_in_the_actions_venv_a_failed_install_stops_the_run_before_any_upload(
    dist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_private_venv(monkeypatch, tmp_path / "venv", FAILING_INSTALLER)
    with pytest.raises(SigningError) as stopped:
        stage_quietly(dist_dir)
    assert stopped.value.message == (
        "Nothing was uploaded: installing sigstore and pypi-attestations failed "
        "(exit code 1: ERROR: no network)."
    )
