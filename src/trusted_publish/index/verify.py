"""After the upload: the index really serves our bytes (and, with attestations, our provenance).

A 200 from the upload endpoint is weaker than it looks: a proxy or a sign-in page in front of
an index answers 200 to anything, and an index can take a file it then fails to store. So once
the last upload is done, every file of the run (uploaded, or skipped as already there) is
looked up again through the same `listing.Lookup` that was asked before the upload: one
request per release, repeated with back-off while a file is missing (a cache in front of the
index may lag the upload), within a bound in seconds. A file the index does not list, or lists
with other bytes, is an error; a look-up that can't be made is a warning, never a pass.

Files uploaded with attestations are then read back from PyPI's Integrity API: see
`provenance`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Callable, Optional

from packaging.utils import canonicalize_name

from trusted_publish.errors import VerificationError
from trusted_publish.http.policy import sanitize_url

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.listing import Listing, Lookup

_SHA256 = re.compile(r"[0-9a-f]{64}")


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
