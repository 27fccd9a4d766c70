"""After the upload: the index really serves our bytes (and, with attestations, our provenance).

A 200 from the upload endpoint is weaker than it looks: a proxy or a sign-in page in front of
an index answers 200 to anything, and an index can take a file it then fails to store. So once
the last upload is done, every file of the run (uploaded, or skipped as already there) is
looked up again through the same `listing.Lookup` that was asked before the upload: one
request per release, repeated with back-off while a file is missing (a cache in front of the
index may lag the upload), within a bound in seconds. A file the index does not list, or lists
with other bytes, is an error; a look-up that can't be made is a warning, never a pass.

Files uploaded with attestations are then read back from PyPI's Integrity API
(`/integrity/<project>/<version>/<file>/provenance`, warehouse/api/integrity.py): the
provenance must hold an attestation of this file's SHA-256 from this workflow's publisher.
That API's answers are cached (10 minutes), so a provenance missing right after the upload is
a warning, not an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import quote

from packaging.utils import canonicalize_name

from trusted_publish.errors import VerificationError
from trusted_publish.http import transport
from trusted_publish.http.policy import sanitize_url

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.listing import Listing, Lookup
    from trusted_publish.index.target import Index

_SHA256 = re.compile(r"[0-9a-f]{64}")

#: The Integrity API's media type (PEP 740).
INTEGRITY_JSON = "application/vnd.pypi.integrity.v1+json"
#: How long PyPI lets caches keep an Integrity API answer (warehouse/api/integrity.py).
INTEGRITY_CACHE_SECONDS = 600


@dataclass(frozen=True)
class VerifyPolicy:
    """How long to wait for a file the index does not list yet: back-off, bounded in seconds."""

    max_seconds: float = 45.0
    """No new look-up starts this many seconds after the first."""
    first_delay: float = 1.0
    max_delay: float = 10.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        while True:
            yield delay
            delay = min(delay * 2, self.max_delay)


class Verified(Enum):
    """Whether the index was seen serving a file with our SHA-256 after the upload."""

    YES = "yes"
    NO = "no"
    NOT_CHECKED = "not checked"


class ProvenanceState(Enum):
    """What the Integrity API said of one file's provenance."""

    VERIFIED = "verified"
    NOT_YET = "not served yet"
    MISMATCH = "does not match"
    UNREADABLE = "could not be read"


@dataclass(frozen=True)
class ProvenanceCheck:
    """One file's provenance as read back, and where it is served."""

    state: ProvenanceState
    url: str


@dataclass(frozen=True)
class Verification:
    """What the read-back found, file by file, and what it cost (for the log and the
    benchmarks)."""

    releases: int
    lookups: int
    seconds: float
    files: dict[str, Verified] = field(default_factory=dict)
    """File name → whether the index serves it with our SHA-256."""
    error: Optional[VerificationError] = None
    """Names each file the index does not serve as sent; None when it serves them all."""


@dataclass
class _Release:
    name: str
    version: str
    dists: list[Distribution]
    readable_before: bool
    """The look-up before the upload could read this release's listing."""
    listing: Optional[Listing] = None


def verify_listing(
    dists: Sequence[Distribution],
    lookup: Lookup,
    *,
    policy: VerifyPolicy,
    console: Console,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Verification:
    """Check that the index lists every file of `dists` with our SHA-256: a `Verified` per
    file, and (in `error`) a `VerificationError` naming each file it does not serve after
    the retries; a warning for each one it could not look up."""
    started = clock()
    releases: dict[tuple[str, str], _Release] = {}
    for dist in dists:
        key = (str(canonicalize_name(dist.name)), dist.version)
        if key not in releases:
            # Without `fresh`, the answer the look-up before the upload got (kept by Lookup).
            before = lookup.files(dist.name, dist.version)
            releases[key] = _Release(dist.name, dist.version, [], before is not None)
        releases[key].dists.append(dist)
    lookups = 0
    delays = policy.delays()
    todo = list(releases.values())
    while True:
        for release in todo:
            release.listing = lookup.files(release.name, release.version, fresh=True)
            lookups += 1
        todo = [r for r in releases.values() if _waiting(r)]
        if not todo:
            break
        delay = next(delays)
        if clock() + delay - started > policy.max_seconds:
            break
        missing = sum(len(_missing(r)) for r in todo)
        console.info(
            f"The index does not list {missing} of the files yet; asking again in {delay:.0f} s."
        )
        sleep(delay)

    where = sanitize_url(lookup.source) if lookup.source else "the index"
    problems: list[str] = []
    files: dict[str, Verified] = {}
    for release in releases.values():
        for dist in release.dists:
            files[dist.filename], problem = _judge(dist, release.listing, where, console)
            if problem:
                problems.append(problem)
    seconds = clock() - started
    verified = sum(1 for v in files.values() if v is Verified.YES)
    console.info(
        f"Verified {verified} of {len(dists)} files on {where}: "
        f"{lookups} look-ups for {len(releases)} releases in {seconds:.1f} s."
    )
    error = None
    if problems:
        error = VerificationError(
            "The index answered 200 to these uploads but does not serve the files as sent.",
            details=problems,
            fix="Check what stands in front of the index (a proxy or a sign-in page answers "
            "200 to anything) and whether it kept the files; then publish a new version. If "
            "the index is only slow to list new files, re-run: files it lists with our "
            "digest are skipped.",
        )
    return Verification(
        releases=len(releases), lookups=lookups, seconds=seconds, files=files, error=error
    )


def _missing(release: _Release) -> list[Distribution]:
    listing = release.listing or {}
    return [d for d in release.dists if d.filename not in listing]


def _waiting(release: _Release) -> bool:
    # A listing that lacks a file may be a cache: ask again; so may one that could be read
    # before the upload and can't now. One that could not be read before either is no
    # index listing at all (nothing to wait for). A file listed with other bytes is final
    # (a file name is never reused).
    if release.listing is None:
        return release.readable_before
    return bool(_missing(release))


def _judge(
    dist: Distribution,
    listing: Optional[Listing],
    where: str,
    console: Console,
) -> tuple[Verified, Optional[str]]:
    """What the listing says of `dist`, and the error line when it is wrong."""
    if listing is None:
        console.warning(
            f"Could not check that the index serves {dist.filename}: its listing could not be "
            "read. The upload was answered 200; check the index by hand.",
            title="trusted-publish: not verified",
        )
        return Verified.NOT_CHECKED, None
    if dist.filename not in listing:
        return Verified.NO, f"{dist.filename}: {where} does not list it (sha256 {dist.sha256})"
    theirs = listing[dist.filename]
    if theirs is not None and not _SHA256.fullmatch(theirs):
        # Shown only as far as it is a digest: the rest is the server's untrusted text.
        return Verified.NO, f"{dist.filename}: {where} lists it with a malformed sha256"
    if theirs is None:
        console.warning(
            f"{where} lists {dist.filename} without a SHA-256, so its bytes could not be compared.",
            title="trusted-publish: not verified",
        )
        return Verified.NOT_CHECKED, None
    if theirs != dist.sha256:
        return Verified.NO, (
            f"{dist.filename}: {where} lists it with sha256 {theirs}, this file has {dist.sha256}"
        )
    return Verified.YES, None


# --- provenance (PEP 740) ------------------------------------------------------------------


def provenance_url(index: Index, dist: Distribution) -> str:
    """Where the Integrity API serves `dist`'s provenance."""
    name = canonicalize_name(dist.name)
    return (
        f"{index.web_url}/integrity/{quote(name)}/{quote(dist.version)}/"
        f"{quote(dist.filename)}/provenance"
    )


def verify_provenance(
    session: requests.Session,
    index: Index,
    dists: Sequence[Distribution],
    *,
    publisher: Optional[Mapping[str, str]],
    console: Console,
) -> dict[str, ProvenanceCheck]:
    """Read each file's provenance back: file name → what was found. Every problem is a
    warning (the file itself is verified, and PyPI checked the attestation against the
    publisher when it took it)."""
    checks: dict[str, ProvenanceCheck] = {}
    for dist in dists:
        url = provenance_url(index, dist)
        try:
            resp = fetch_provenance(session, url)
        except transport.RequestFailed as exc:
            state, why = ProvenanceState.UNREADABLE, exc.reason
        else:
            state, why = _read_provenance(resp, dist, publisher)
        checks[dist.filename] = ProvenanceCheck(state, url)
        if state is ProvenanceState.VERIFIED:
            continue
        if state is ProvenanceState.NOT_YET:
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
    return checks


def fetch_provenance(
    session: requests.Session, url: str, seconds: float = transport.REQUEST_TIMEOUT
) -> transport.Reply:
    """GET one file's provenance from the Integrity API (one try, bounded)."""
    return transport.request(
        session,
        "GET",
        url,
        what="the provenance request",
        cap=transport.SMALL_JSON_CAP,
        seconds=seconds,
        headers={"Accept": INTEGRITY_JSON},
    )


def _read_provenance(
    resp: transport.Reply, dist: Distribution, publisher: Optional[Mapping[str, str]]
) -> tuple[ProvenanceState, str]:
    """(state, why) for one Integrity API answer."""
    if resp.status_code == 404:
        return ProvenanceState.NOT_YET, "HTTP 404"
    if resp.status_code != 200:
        return ProvenanceState.UNREADABLE, f"HTTP {resp.status_code}"
    try:
        document = resp.json()
        bundles = document["attestation_bundles"]
        if not isinstance(bundles, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return ProvenanceState.UNREADABLE, "not a PEP 740 provenance object"
    attested_by: list[str] = []
    for bundle in bundles:
        if not isinstance(bundle, dict) or not _attests(bundle.get("attestations"), dist):
            continue
        theirs = bundle.get("publisher")
        if publisher is None or _same_publisher(theirs, publisher):
            return ProvenanceState.VERIFIED, "an attestation of this file from this workflow"
        attested_by.append(_describe_publisher(theirs))
    if attested_by:
        return ProvenanceState.MISMATCH, (
            f"attested by {', '.join(attested_by)}, not by {_describe_publisher(publisher)}"
        )
    return ProvenanceState.MISMATCH, f"no attestation of sha256 {dist.sha256}"


def _attests(attestations: Any, dist: Distribution) -> bool:
    """Whether one of `attestations` names this file with this SHA-256."""
    for attestation in attestations if isinstance(attestations, list) else ():
        try:
            statement = json.loads(base64.b64decode(attestation["envelope"]["statement"]))
            subjects = statement["subject"]
        except (KeyError, TypeError, ValueError, binascii.Error):
            continue
        for subject in subjects if isinstance(subjects, list) else ():
            if not isinstance(subject, dict):
                continue
            digests = subject.get("digest")
            sha256 = digests.get("sha256") if isinstance(digests, dict) else None
            if subject.get("name") == dist.filename and sha256 == dist.sha256:
                return True
    return False


def _same_publisher(theirs: Any, ours: Mapping[str, str]) -> bool:
    if not isinstance(theirs, dict):
        return False
    # GitHub compares owner and repository names without case (warehouse stores them as
    # configured); the environment is not compared: a publisher may accept any.
    return all(str(theirs.get(key, "")).lower() == value.lower() for key, value in ours.items())


def _describe_publisher(publisher: Any) -> str:
    if not isinstance(publisher, Mapping):
        return "an unknown publisher"
    parts = [
        f"{key}={publisher[key]}" for key in ("kind", "repository", "workflow") if key in publisher
    ]
    return " ".join(parts) or "an unknown publisher"
