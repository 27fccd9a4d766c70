"""PEP 740 attestations: a signed statement, per file, that this workflow published it.

PyPI shows a verified provenance badge for a file uploaded with an attestation: a DSSE
envelope whose in-toto statement names the file and its SHA-256, signed with a short-lived
Sigstore certificate issued to the workflow's GitHub identity and logged in Rekor. PyPI
checks that the certificate's identity is the project's trusted publisher, so attestations
go only with trusted publishing.

The stage runs after every check, the token exchange and the look-up of the files the index
already has, and before the first upload; when any file can't be attested, nothing is
uploaded. For each file to upload, a `<file>.publish.attestation` made by an earlier step (a
build job) is checked and used as it is; otherwise the file is signed and the attestation
written there, which is also where twine and pypi-attestations look for it.

Signing sits behind the small `Signer` interface. The real one, `SigstoreSigner`, asks the
CI's token source (`providers`) for an OIDC token with audience `sigstore` and signs with
the `sigstore` and `pypi-attestations` libraries. Those are heavy, so they are not runtime
dependencies: the action installs them from their own hash-locked lock
(requirements/attestations.txt) into its private venv when a run makes attestations, and
only then (see `ondemand`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from trusted_publish.credentials.providers import TokenSource, detect
from trusted_publish.errors import DistributionError, SigningError
from trusted_publish.http.policy import describe_transport_error
from trusted_publish.runtime import extras

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.target import Index

#: The statement type of a publish attestation (what `<file>.publish.attestation` holds).
PUBLISH_PREDICATE = "https://docs.pypi.org/attestations/publish/v1"
#: Beside each distribution: `<file>.publish.attestation`, as twine and pypi-attestations name it.
SUFFIX = ".publish.attestation"
#: The OIDC audience Sigstore's certificate authority (Fulcio) accepts.
SIGSTORE_AUDIENCE = "sigstore"
#: Seconds after which a new signing certificate is asked for. Fulcio's certificates live 10
#: minutes and a signature needs a valid one; signing many large files can outlast that.
CERTIFICATE_REFRESH = 8 * 60.0

_OFF_FIX = "set `attestations: false` to publish without attestations"


class Signer(Protocol):
    """Makes the PEP 740 attestation of one file."""

    def sign(self, dist: Distribution) -> dict[str, Any]:
        """The attestation object of `dist` (JSON-ready), or a `SigningError`."""
        ...


@dataclass(frozen=True)
class Decision:
    make: bool
    """Attest every file of this run."""
    why_not: str | None = None
    """When they are not made although the user did not turn them off: the notice to show."""


def decide(
    wanted: bool | None,
    *,
    trusted_publishing: bool,
    index: Index,
    unavailable: str | None = None,
) -> Decision:
    """Whether this run makes attestations, from the `attestations` input and the setup.

    `wanted` is the `attestations` input. Empty (automatic): with trusted publishing to PyPI
    or TestPyPI, the only indexes known to take them. `true`: with trusted publishing to any
    index, since the user says it takes them (with a password, `true` is refused when the
    inputs are read). `false`: never. `unavailable`: why this CI's job can't sign ones the
    index takes (the token source says); a notice when automatic, an error when `true`.
    """
    if wanted is False:
        return Decision(make=False)
    if not trusted_publishing:
        return Decision(
            make=False,
            why_not="No attestations are made: they need trusted publishing (an index takes "
            "them only from a trusted publisher), and this run uploads with a password. "
            "Remove `password` to publish with trusted publishing and attestations.",
        )
    if unavailable and wanted is True:
        raise SigningError(
            "Nothing was uploaded: `attestations: true`, and this job can't make them. "
            + unavailable.removeprefix("No attestations are made: "),
            fix="Give the job what is named above, or " + _OFF_FIX + ".",
        )
    if unavailable and index.pypi_deployment:
        return Decision(make=False, why_not=unavailable)
    if wanted is None and not index.pypi_deployment:
        return Decision(
            make=False,
            why_not="No attestations are made: only PyPI and TestPyPI are known to take them, "
            f"and this run publishes to {index.name}. Set "
            "`attestations: true` if this index takes PEP 740 attestations.",
        )
    return Decision(make=True)


def attestation_path(dist: Distribution) -> Path:
    return Path(f"{dist.path}{SUFFIX}")


def form_value(attestations: Sequence[Mapping[str, Any]]) -> str:
    """The upload form's `attestations` field: a JSON array, as twine sends it."""
    return json.dumps(list(attestations))


def check(dist: Distribution, attestation: object, shown: str) -> list[str]:
    """What is wrong with `attestation` as the publish attestation of `dist` ([] if nothing).

    Checked: it is a PEP 740 attestation object (pypi-attestations' model), and its
    statement is a publish statement whose one subject is this file name with this file's
    SHA-256. The signature and certificate are left to the index, which verifies them
    against Sigstore's roots of trust and the trusted publisher.
    """
    from pydantic import ValidationError
    from pypi_attestations import Attestation

    try:
        model = Attestation.model_validate(attestation)
        statement = model.statement
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return [f"{shown} is not a PEP 740 attestation ({where}: {first['msg']})"]
    except ValueError:
        return [f"{shown}: the statement in its envelope is not JSON"]
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        return [f"{shown}: its statement must name exactly one subject, the file"]
    name = subjects[0].get("name")
    digests = subjects[0].get("digest")
    sha256 = digests.get("sha256") if isinstance(digests, dict) else None
    if name != dist.filename:
        return [f"{shown} attests {name!r}, not {dist.filename}"]
    if sha256 != dist.sha256:
        return [
            f"{shown} is stale: it attests other bytes (sha256 {sha256}) than {dist.filename} "
            f"has now (sha256 {dist.sha256})"
        ]
    predicate = statement.get("predicateType")
    if predicate != PUBLISH_PREDICATE:
        return [f"{shown} is a {predicate!r} attestation, not a publish attestation"]
    return []


def stage(
    dists: Sequence[Distribution],
    decision: Decision,
    console: Console,
    *,
    explicit: bool,
    dry_run: bool,
    make_signer: Callable[[], Signer],
) -> dict[str, str]:
    """Attest the files about to be uploaded: file name → the `attestations` form value.

    Empty when this run makes none. Raises before anything is uploaded when a file can't be
    attested; `make_signer` is called only when a file needs signing. `explicit`: the user
    asked for attestations (`true`), so missing libraries are an error, not a notice.
    """
    if not dists:
        return {}
    if decision.why_not:
        console.notice(decision.why_not)
    if not decision.make:
        return {}
    with console.group("Attestations (PEP 740): signed provenance for every file"):
        if not _libraries(console, explicit=explicit):
            return {}
        to_sign = _reuse_existing(dists, console)
        if dry_run:
            for dist in to_sign:
                # No signature in a dry run: each one is a permanent entry in Rekor's public log.
                console.info(f"Would sign {dist.filename} and write {attestation_path(dist).name}")
            return {}
        if to_sign:
            _sign(to_sign, make_signer(), console)
        return {dist.filename: form_value([_read(attestation_path(dist))]) for dist in dists}


def _reuse_existing(dists: Sequence[Distribution], console: Console) -> list[Distribution]:
    """Check every attestation an earlier step made; the files that still need signing."""
    to_sign: list[Distribution] = []
    problems: list[str] = []
    reused: list[str] = []
    for dist in dists:
        path = attestation_path(dist)
        if not path.is_file():
            to_sign.append(dist)
            continue
        try:
            found = check(dist, _read(path), path.name)
        except (OSError, ValueError) as exc:
            found = [f"{path.name} can't be read as JSON ({exc})"]
        problems.extend(found)
        if not found:
            reused.append(path.name)
    if problems:
        raise DistributionError(
            "Nothing was uploaded: attestation files beside the distributions can't be used.",
            details=problems,
            fix="Delete the attestation files named above and trusted-publish signs the files "
            "afresh; or make them again in the step that built these very files (a rebuild "
            "changes a file's bytes, and so its digest).",
        )
    for name in reused:
        console.info(f"Using {name}: made by an earlier step, and it attests this very file.")
    return to_sign


def _sign(dists: Sequence[Distribution], signer: Signer, console: Console) -> None:
    for dist in dists:
        path = attestation_path(dist)
        try:
            attestation = signer.sign(dist)
        except SigningError as exc:
            raise SigningError(
                f"Nothing was uploaded: {dist.filename} could not be signed. {exc.message}",
                details=exc.details,
                fix=exc.fix,
            ) from None
        problems = check(dist, attestation, f"The attestation made for {dist.filename}")
        if problems:
            raise SigningError(
                f"Nothing was uploaded: the signer made a wrong attestation for {dist.filename}.",
                details=problems,
                fix="This is a bug in the signer; " + _OFF_FIX + " until it is fixed.",
            )
        try:
            path.write_text(json.dumps(attestation), encoding="utf-8")
        except OSError as exc:
            raise DistributionError(
                f"Nothing was uploaded: {path.name} could not be written ({exc}).",
                fix="Make the packages folder writable: the attestation is kept beside its "
                "file, where a re-run finds it.",
            ) from None
        console.info(f"Signed {dist.filename}; wrote {path.name}")


def _read(path: Path) -> Any:
    # Parsed and sent again, as twine does: the form carries the JSON of the file beside it.
    return json.loads(path.read_bytes())


# --- the libraries, installed on demand ------------------------------------------------------


def _libraries(console: Console, *, explicit: bool) -> bool:
    """Make sigstore and pypi-attestations importable: True when they are.

    In the action's own venv they are installed from their lock; anywhere else we never
    install into someone else's Python, so a run left to decide (automatic) goes on without
    attestations and says so, and a run that asked for them (`true`) stops.
    """
    extra = extras.ATTESTATIONS
    started = time.monotonic()
    found = extras.ensure(extra, console)
    if found.ready:
        if found.attempted:
            console.info(f"Installed them in {time.monotonic() - started:.1f} s.")
        return True
    if found.attempted:
        raise SigningError(
            f"Nothing was uploaded: installing {extra.packages} failed ({found.why_not}).",
            fix="Re-run the job if the package index was unreachable; or " + _OFF_FIX + ".",
        )
    message = (
        f"Attestations need the {extra.packages} packages, which are not installed "
        f"({found.why_not})."
    )
    fix = f"Run `{extra.install_elsewhere}` in this environment, or " + _OFF_FIX + "."
    if explicit:
        raise SigningError(message, fix=fix)
    console.warning(f"No attestations are made. {message} {fix}")
    return False


# --- the real signer -------------------------------------------------------------------------


class SigstoreSigner:
    """Signs with a short-lived Sigstore certificate for this job's CI identity.

    Built when the first file needs signing: it asks the CI's token source (the one the
    exchange used, or GitHub's runner when none is given) for an OIDC token with audience
    `sigstore`, Sigstore's certificate authority (Fulcio) trades it for a
    certificate naming the workflow, and each signature is logged in Sigstore's transparency
    log (Rekor), where PyPI checks it.
    """

    def __init__(
        self,
        session: requests.Session,
        env: Mapping[str, str],
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        source: TokenSource | None = None,
    ) -> None:
        self._console = console
        self._clock = clock
        # Found (a bearer masked) before anything else: a missing `id-token: write`
        # permission is named here, not after a round trip.
        self._source = source or detect(session, env, console)
        self._stack = ExitStack()
        self._signer: Any = None
        self._since = 0.0

    def sign(self, dist: Distribution) -> dict[str, Any]:
        from pypi_attestations import Attestation, AttestationError
        from pypi_attestations import Distribution as AttestedFile

        signer = self._current_signer()
        try:
            attestation = Attestation.sign(
                signer, AttestedFile(name=dist.filename, digest=dist.sha256)
            )
        except AttestationError as exc:
            raise SigningError(
                f"Sigstore did not sign it: {exc}.",
                fix="Re-run the job; if it keeps failing, " + _OFF_FIX + ".",
            ) from None
        except Exception as exc:  # noqa: BLE001 - Rekor's client raises many unrelated types
            raise SigningError(
                f"Sigstore's transparency log could not be reached: {_reason(exc)}.",
                fix="Sigstore may be down (https://status.sigstore.dev): re-run the job "
                "later, or " + _OFF_FIX + ".",
            ) from None
        signed: dict[str, Any] = json.loads(attestation.model_dump_json())
        return signed

    def _current_signer(self) -> Any:
        if self._signer is not None and self._clock() - self._since < CERTIFICATE_REFRESH:
            return self._signer
        from sigstore.models import ClientTrustConfig
        from sigstore.oidc import IdentityError, IdentityToken
        from sigstore.sign import SigningContext

        # A fresh token each time: GitHub's tokens live minutes, and Fulcio checks expiry.
        token = self._source.fetch(SIGSTORE_AUDIENCE)
        try:
            identity = IdentityToken(token)
        except IdentityError as exc:
            raise SigningError(
                f"Sigstore can't use the OIDC token from {self._source.name}: {exc}.",
                fix="Re-run the job; if it keeps failing, " + _OFF_FIX + ".",
            ) from None
        try:
            trust = ClientTrustConfig.production()
            # PyPI verifies attestations with entries of Rekor's v1 log; pypi-attestations'
            # own signing command pins the same until PyPI takes v2 entries.
            trust.force_tlog_version = 1
            context = SigningContext.from_trust_config(trust)
            self._signer = self._stack.enter_context(context.signer(identity, cache=True))
        except Exception as exc:  # noqa: BLE001 - TUF, Fulcio and the network each raise their own
            raise SigningError(
                f"Could not get a signing certificate from Sigstore: {_reason(exc)}.",
                fix="Sigstore may be down (https://status.sigstore.dev), or the runner can't "
                "reach it: re-run the job later, or " + _OFF_FIX + ".",
            ) from None
        self._since = self._clock()
        return self._signer


def _reason(exc: BaseException) -> str:
    """The error and, when the network is behind it, what the network said."""
    text = str(exc).strip() or type(exc).__name__
    transport = describe_transport_error(exc)
    if transport != type(exc).__name__ and transport not in text:
        text += f": {transport}"
    return text
