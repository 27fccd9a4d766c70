"""PEP 740 provenance from PyPI's Integrity API: read back after the upload, and the previous
release's, before it.

`GET <web>/integrity/<project>/<version>/<file>/provenance` (warehouse/api/integrity.py,
`provenance_for_file`) serves a file's provenance: attestation bundles, each with the trusted
publisher that made it. `read_integrity_answer` is that answer's one boundary: any status,
any bytes become an `IntegrityAnswer`, parsed with pydantic into typed values; nothing raw
travels past it.

After the upload (`verify_provenance`), a file's provenance is verified only against the
publisher the upload token was minted for, whichever CI (GitHub, GitLab, Google): a bundle
from any other publisher, or none to compare against, is never "verified". Where
pypi-attestations is installed (it is whenever this run signed), the attestation is verified
with its own `Attestation.verify` against that publisher, offline (Sigstore's trust root comes
with sigstore); without it, the publisher and the statement's subject are compared, and the
reason says so. Every request obeys `request-timeout`, and all of them share one bound.

Before the first upload (`continuity`), the previous release's provenance is read (one file
of it: one request per release) and compared with what this run will make, the way PyPI
labels a release's provenance lost or changed against the previous one
(warehouse/attestations/models.py, `ProvenanceStatus`: sources are the publisher's kind and
repository, or email; workflows are compared too; the environment is not).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import quote

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

from trusted_publish.errors import Interrupted, PublishError
from trusted_publish.http import transport

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.target import Index

#: The Integrity API's media type (PEP 740).
INTEGRITY_JSON = "application/vnd.pypi.integrity.v1+json"
#: How long PyPI lets caches keep an Integrity API answer (warehouse/api/integrity.py).
INTEGRITY_CACHE_SECONDS = 600
#: Seconds the whole provenance read-back may take, all files together.
PROVENANCE_SECONDS = 30.0


class ProvenanceState(Enum):
    """What the Integrity API said of one file's provenance."""

    VERIFIED = "verified"
    NOT_YET = "not served yet"
    MISMATCH = "does not match"
    UNREADABLE = "could not be read"
    UNCHECKED = "not checked against the publisher"
    NOT_READ = "not read"


@dataclass(frozen=True)
class ProvenanceCheck:
    """One file's provenance as read back, and where it is served."""

    state: ProvenanceState
    url: str


# --- the publisher --------------------------------------------------------------------------


@dataclass(frozen=True)
class Publisher:
    """A trusted publisher as a provenance names it (pypi-attestations' publisher models)."""

    kind: str
    identity: str
    """GitHub, GitLab: the repository (`owner/name`); Google: the service account's email."""
    workflow: Optional[str] = None
    """GitHub: the workflow file name; GitLab: the CI file's path; Google: none."""

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Optional[Publisher]:
        kind = fields.get("kind")
        if kind in ("GitHub", "GitLab"):
            repository = fields.get("repository")
            workflow = fields.get("workflow" if kind == "GitHub" else "workflow_filepath")
            if isinstance(repository, str) and isinstance(workflow, str):
                return cls(kind, repository, workflow)
        if kind == "Google" and isinstance(fields.get("email"), str):
            return cls(kind, fields["email"])
        return None

    def same_as(self, other: Publisher) -> bool:
        # GitHub owner and repository names are not case-sensitive (PyPI stores them as
        # GitHub spells them); everything else is compared exactly.
        fold = self.kind == "GitHub"
        return (
            self.kind == other.kind
            and _fold(self.identity, fold) == _fold(other.identity, fold)
            and self.workflow == other.workflow
        )

    def describe(self) -> str:
        workflow = f" {self.workflow}" if self.workflow else ""
        return f"{self.kind} {self.identity}{workflow}"

    def fields(self) -> dict[str, str]:
        """As pypi-attestations' publisher models take it."""
        if self.kind == "GitHub":
            return {"kind": "GitHub", "repository": self.identity, "workflow": self.workflow or ""}
        if self.kind == "GitLab":
            return {
                "kind": "GitLab",
                "repository": self.identity,
                "workflow_filepath": self.workflow or "",
            }
        return {"kind": self.kind, "email": self.identity}


def _fold(value: str, fold: bool) -> str:
    return value.lower() if fold else value


# --- the answer's boundary ------------------------------------------------------------------


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")
    statement: StrictStr
    signature: StrictStr


class _Attestation(BaseModel):
    model_config = ConfigDict(extra="allow")
    envelope: _Envelope


class _Bundle(BaseModel):
    model_config = ConfigDict(extra="allow")
    publisher: dict[str, Any]
    attestations: list[_Attestation]


class _Provenance(BaseModel):
    model_config = ConfigDict(extra="allow")
    attestation_bundles: list[_Bundle]


@dataclass(frozen=True)
class Attested:
    """One attestation: the files its statement names (name, sha256) and its JSON."""

    subjects: tuple[tuple[str, str], ...]
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Bundle:
    publisher: Optional[Publisher]
    """None: a publisher kind or shape this client does not know."""
    attestations: tuple[Attested, ...]


class Served(Enum):
    PROVENANCE = "provenance"
    NONE = "none"
    """404: the index has no provenance for the file (yet)."""
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class IntegrityAnswer:
    served: Served
    reason: str
    """In words safe to print (never the server's own text)."""
    bundles: tuple[Bundle, ...] = ()


def read_integrity_answer(status: int, body: bytes) -> IntegrityAnswer:
    """An Integrity API answer, whatever it holds, as what it means."""
    if status == 404:
        return IntegrityAnswer(Served.NONE, "HTTP 404")
    if status != 200:
        return IntegrityAnswer(Served.UNREADABLE, f"HTTP {status}")
    try:
        # pydantic's own JSON parser: no recursion limit to hit, any byte a ValidationError.
        document = _Provenance.model_validate_json(body)
    except ValidationError:
        return IntegrityAnswer(Served.UNREADABLE, "not a PEP 740 provenance object")
    except PublishError:
        raise  # a signal, not the answer
    except Exception as exc:  # noqa: BLE001 - the boundary: any failure is an outcome
        return IntegrityAnswer(Served.UNREADABLE, f"an unreadable answer ({type(exc).__name__})")
    bundles = tuple(
        Bundle(
            Publisher.from_fields(bundle.publisher),
            tuple(
                Attested(_subjects(a.envelope.statement), a.model_dump(mode="json"))
                for a in bundle.attestations
            ),
        )
        for bundle in document.attestation_bundles
    )
    return IntegrityAnswer(Served.PROVENANCE, "HTTP 200", bundles)


def _subjects(statement: str) -> tuple[tuple[str, str], ...]:
    """The (name, sha256) pairs an in-toto statement names; none when it is unreadable."""
    try:
        document = json.loads(base64.b64decode(statement, validate=True))
        subjects = document["subject"] if isinstance(document, dict) else []
    except (ValueError, KeyError, binascii.Error, RecursionError):
        return ()
    found = []
    for subject in subjects if isinstance(subjects, list) else ():
        if not isinstance(subject, dict):
            continue
        name, digests = subject.get("name"), subject.get("digest")
        sha256 = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(name, str) and isinstance(sha256, str):
            found.append((name, sha256))
    return tuple(found)


def provenance_url(index: Index, name: str, version: str, filename: str) -> str:
    """Where the Integrity API serves a file's provenance."""
    return (
        f"{index.web_url}/integrity/{quote(canonicalize_name(name))}/{quote(version)}/"
        f"{quote(filename)}/provenance"
    )


def fetch(session: requests.Session, url: str, seconds: float) -> IntegrityAnswer:
    """GET one file's provenance (one try, within `seconds`), read at the boundary. A signal
    (`Interrupted`) is not an answer: it goes on to the caller."""
    try:
        reply = transport.request(
            session,
            "GET",
            url,
            what="the provenance request",
            cap=transport.SMALL_JSON_CAP,
            seconds=seconds,
            headers={"Accept": INTEGRITY_JSON},
        )
        return read_integrity_answer(reply.status_code, reply.content)
    except transport.RequestFailed as exc:
        return IntegrityAnswer(Served.UNREADABLE, exc.reason)
    except PublishError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: whatever the answer did
        return IntegrityAnswer(Served.UNREADABLE, f"an unreadable answer ({type(exc).__name__})")


# --- after the upload: this run's provenance ------------------------------------------------

#: Verifies one attestation of a file against a publisher: None when it holds, else why not.
SigstoreCheck = Callable[[Mapping[str, Any], Publisher, str, str], Optional[str]]


def sigstore_check(
    attestation: Mapping[str, Any], publisher: Publisher, filename: str, sha256: str
) -> Optional[str]:
    """pypi-attestations' own verification: the signature against Sigstore's trust root
    (offline: the root that comes with sigstore, refreshed when this run signed), the
    certificate against the trusted publisher, the statement against the file."""
    from pypi_attestations import (
        Attestation,
        AttestationError,
        Distribution,
        GitHubPublisher,
        GitLabPublisher,
        GooglePublisher,
    )

    models: dict[str, Any] = {
        "GitHub": GitHubPublisher,
        "GitLab": GitLabPublisher,
        "Google": GooglePublisher,
    }
    try:
        identity = models[publisher.kind].model_validate(publisher.fields())
        Attestation.model_validate(attestation).verify(
            identity, Distribution(name=filename, digest=sha256), offline=True
        )
    except (AttestationError, ValidationError) as exc:
        return f"it does not verify with Sigstore: {str(exc)[:200]}"
    except PublishError:
        raise  # a signal, not a verdict
    except Exception as exc:  # noqa: BLE001 - a failure of the verifier, not a verdict
        return f"Sigstore could not verify it ({type(exc).__name__})"
    return None


def available_check() -> Optional[SigstoreCheck]:
    """`sigstore_check` where pypi-attestations can be imported (None elsewhere)."""
    try:
        import pypi_attestations  # noqa: F401
    except ImportError:
        return None
    return sigstore_check


def judge(
    answer: IntegrityAnswer,
    dist: Distribution,
    ours: Optional[Publisher],
    check: Optional[SigstoreCheck],
) -> tuple[ProvenanceState, str]:
    """(state, why) of one file's provenance as served."""
    if answer.served is Served.NONE:
        return ProvenanceState.NOT_YET, answer.reason
    if answer.served is Served.UNREADABLE:
        return ProvenanceState.UNREADABLE, answer.reason
    naming = [
        (bundle, attested)
        for bundle in answer.bundles
        for attested in bundle.attestations
        if (dist.filename, dist.sha256) in attested.subjects
    ]
    if not naming:
        return ProvenanceState.MISMATCH, f"no attestation of sha256 {dist.sha256}"
    if ours is None:
        return ProvenanceState.UNCHECKED, (
            "the publisher the upload token was minted for is not known, so an attestation "
            "from any publisher would look the same"
        )
    from_us = [a for b, a in naming if b.publisher is not None and b.publisher.same_as(ours)]
    if not from_us:
        others = sorted(
            {b.publisher.describe() if b.publisher else "an unknown publisher" for b, _ in naming}
        )
        return (
            ProvenanceState.MISMATCH,
            f"attested by {', '.join(others)}, not by {ours.describe()}",
        )
    if check is None:
        return ProvenanceState.VERIFIED, (
            f"an attestation of this file from {ours.describe()} (publisher and statement "
            "compared; pypi-attestations is not installed to verify the signature)"
        )
    problems = [p for p in (check(a.raw, ours, dist.filename, dist.sha256) for a in from_us) if p]
    if len(problems) == len(from_us):
        return ProvenanceState.MISMATCH, problems[0]
    return ProvenanceState.VERIFIED, f"verified with Sigstore against {ours.describe()}"


def verify_provenance(
    session: requests.Session,
    index: Index,
    dists: Sequence[Distribution],
    *,
    publisher: Optional[Mapping[str, str]],
    console: Console,
    request_seconds: float = transport.REQUEST_TIMEOUT,
    bound: float = PROVENANCE_SECONDS,
    check: Optional[SigstoreCheck] = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, ProvenanceCheck]:
    """Read each file's provenance back: file name → what was found. Every problem is a
    warning (the file itself is verified, and PyPI checked the attestation against the
    publisher when it took it). Each request within `request_seconds`, all within `bound`;
    a signal ends the read-back, and the files not read yet say so."""
    ours = Publisher.from_fields(publisher) if publisher else None
    deadline = clock() + bound
    checks: dict[str, ProvenanceCheck] = {}
    stopped: Optional[str] = None
    for dist in dists:
        url = provenance_url(index, dist.name, dist.version, dist.filename)
        left = min(request_seconds, deadline - clock())
        if stopped is None and left <= 0:
            stopped = f"the read-back's {bound:.0f} s bound passed"
        if stopped is None:
            try:
                state, why = judge(fetch(session, url, left), dist, ours, check)
            except Interrupted:
                # After the files were read back: the release is done, the rest is unread.
                stopped = "stopped by a signal"
        if stopped is not None:
            state, why = ProvenanceState.NOT_READ, stopped
        checks[dist.filename] = ProvenanceCheck(state, url)
        _tell(console, index=index, dist=dist, state=state, why=why, url=url)
    return checks


def _tell(
    console: Console,
    *,
    index: Index,
    dist: Distribution,
    state: ProvenanceState,
    why: str,
    url: str,
) -> None:
    if state is ProvenanceState.VERIFIED:
        console.debug(f"Provenance of {dist.filename}: {why}.")
    elif state is ProvenanceState.NOT_YET:
        console.warning(
            f"{index.name} has no provenance for {dist.filename} yet ({why}). Its "
            f"Integrity API answers are cached for up to {INTEGRITY_CACHE_SECONDS // 60} "
            f"minutes after an upload: check {url} later.",
            title="trusted-publish: provenance not served yet",
        )
    else:
        console.warning(
            f"The provenance of {dist.filename} {state.value} ({why}): {url}",
            title="trusted-publish: provenance",
        )
