"""Before the first upload: would this release lose or change the provenance its previous
release had?

PyPI labels each release's provenance against the previous release's (warehouse
attestations/models.py, `ProvenanceStatus`): *lost* when the previous release had
attestations and this one has none, *changed* when the publishers differ (a source is the
publisher's kind and repository, or its email; the workflow counts too; the environment does
not). Nothing tells a maintainer before that label is set for good. So for each release of
this run, on an index that answers as PyPI does (`Index.pypi_like`), the project's JSON API
says which release comes before it, and the Integrity API serves that release's provenance
(one file of it, one request per release: warehouse attests a release's files from one
run); this run's plan (attestations or not, and from which publisher) is compared with it.
Each finding is a warning naming the previous version and the fix; never an error. An answer
that can't be read is "could not tell", never "none".
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable, Optional
from urllib.parse import quote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from trusted_publish.errors import PublishError
from trusted_publish.http import transport
from trusted_publish.index import provenance
from trusted_publish.index.provenance import Publisher, Served

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

#: Seconds the whole continuity read may take, all releases together.
CONTINUITY_SECONDS = 20.0


class Continuity(Enum):
    """What this release would do to the provenance of the release before it."""

    KEPT = "kept"
    LOST = "lost"
    CHANGED = "changed"
    NOTHING = "nothing to keep"
    """No release before it, or one without provenance."""
    UNKNOWN = "could not tell"


@dataclass(frozen=True)
class Plan:
    """What this run will give the release."""

    attests: bool
    publisher: Optional[Mapping[str, str]]
    """The publisher the upload token is minted for (as a provenance names it)."""
    why_none: str = ""
    """When it does not attest: why, in a few words (`attestations: false`, ...)."""


@dataclass(frozen=True)
class Finding:
    project: str
    version: str
    state: Continuity
    previous: Optional[str] = None
    """The version before this one, when there is one."""
    reason: str = ""


# --- the JSON API's project answer: one boundary -------------------------------------------


class _File(BaseModel):
    model_config = ConfigDict(extra="allow")
    filename: StrictStr
    yanked: StrictBool = False


class _Project(BaseModel):
    model_config = ConfigDict(extra="allow")
    releases: dict[str, list[_File]]


@dataclass(frozen=True)
class Releases:
    """The project's releases (version → file names, yanked files left out), or why not."""

    files: Optional[dict[str, list[str]]]
    """None: could not tell; empty: the project has no release (404)."""
    reason: str = ""


def read_project_answer(status: int, body: bytes) -> Releases:
    """`GET /pypi/<project>/json` as what it means, whatever it holds."""
    if status == 404:
        return Releases({})
    if status != 200:
        return Releases(None, f"HTTP {status}")
    try:
        document = _Project.model_validate_json(body)
    except ValidationError:
        return Releases(None, "not a JSON API project document")
    except PublishError:
        raise  # a signal, not the answer
    except Exception as exc:  # noqa: BLE001 - the boundary: any failure is an outcome
        return Releases(None, f"an unreadable answer ({type(exc).__name__})")
    return Releases(
        {
            version: sorted(f.filename for f in files if not f.yanked)
            for version, files in document.releases.items()
        }
    )


def previous_release(releases: Mapping[str, Sequence[str]], version: str) -> Optional[str]:
    """The highest version below `version` that has a file (versions that don't parse are
    not releases to compare with)."""
    try:
        ours = Version(version)
    except InvalidVersion:
        return None
    earlier = []
    for candidate, files in releases.items():
        try:
            parsed = Version(candidate)
        except InvalidVersion:
            continue
        if parsed < ours and files:
            earlier.append((parsed, candidate))
    return max(earlier)[1] if earlier else None


# --- the check ------------------------------------------------------------------------------


def check_continuity(
    session: requests.Session,
    index: Index,
    releases: Sequence[tuple[str, str]],
    plan: Plan,
    *,
    console: Console,
    request_seconds: float = transport.REQUEST_TIMEOUT,
    bound: float = CONTINUITY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> list[Finding]:
    """One `Finding` per release (name, version) of this run; each loss, change or
    "could not tell" is also said on `console`."""
    deadline = clock() + bound
    findings = []
    for name, version in releases:
        left = min(request_seconds, deadline - clock())
        if left <= 0:
            finding = Finding(name, version, Continuity.UNKNOWN, reason="out of time")
        else:
            finding = _one(
                session,
                index,
                name=name,
                version=version,
                plan=plan,
                left=lambda: deadline - clock(),
            )
        findings.append(finding)
        _tell(console, finding, plan)
    return findings


def _one(
    session: requests.Session,
    index: Index,
    *,
    name: str,
    version: str,
    plan: Plan,
    left: Callable[[], float],
) -> Finding:
    url = f"{index.web_url}/pypi/{quote(canonicalize_name(name))}/json"
    try:
        reply = transport.request(
            session,
            "GET",
            url,
            what="the project's JSON API request",
            cap=transport.LISTING_CAP,
            seconds=max(0.001, left()),
            headers={"Accept": "application/json"},
        )
        known = read_project_answer(reply.status_code, reply.content)
    except transport.RequestFailed as exc:
        known = Releases(None, exc.reason)
    except PublishError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: whatever the answer did
        known = Releases(None, f"an unreadable answer ({type(exc).__name__})")
    if known.files is None:
        return Finding(name, version, Continuity.UNKNOWN, reason=known.reason)
    previous = previous_release(known.files, version)
    if previous is None:
        return Finding(name, version, Continuity.NOTHING)
    filename = known.files[previous][0]
    seconds = left()
    if seconds <= 0:
        return Finding(name, version, Continuity.UNKNOWN, previous, "out of time")
    answer = provenance.fetch(
        session, provenance.provenance_url(index, name, previous, filename), seconds
    )
    if answer.served is Served.NONE:
        return Finding(name, version, Continuity.NOTHING, previous)
    if answer.served is Served.UNREADABLE:
        return Finding(name, version, Continuity.UNKNOWN, previous, answer.reason)
    theirs = [b.publisher for b in answer.bundles]
    described = ", ".join(sorted({p.describe() if p else "an unknown publisher" for p in theirs}))
    if not plan.attests:
        return Finding(name, version, Continuity.LOST, previous, described)
    ours = Publisher.from_fields(plan.publisher) if plan.publisher else None
    if ours is None:
        return Finding(name, version, Continuity.UNKNOWN, previous, "this run's publisher")
    if any(p is not None and p.same_as(ours) for p in theirs):
        return Finding(name, version, Continuity.KEPT, previous, described)
    return Finding(name, version, Continuity.CHANGED, previous, described)


def _tell(console: Console, finding: Finding, plan: Plan) -> None:
    release = f"{finding.project} {finding.version}"
    before = f"{finding.project} {finding.previous}"
    if finding.state is Continuity.LOST:
        console.warning(
            f"{before}, the release before {release}, has provenance (attested by "
            f"{finding.reason}); {release} will have none ({plan.why_none}), so PyPI will "
            "show its provenance as lost. To keep it, publish with trusted publishing and "
            "attestations from that publisher (no `password`, no `attestations: false`).",
            title="trusted-publish: provenance would be lost",
        )
    elif finding.state is Continuity.CHANGED:
        ours = Publisher.from_fields(plan.publisher) if plan.publisher else None
        console.warning(
            f"{before}, the release before {release}, was attested by {finding.reason}; "
            f"{release} will be attested by {ours.describe() if ours else 'this run'}, so "
            "PyPI will show its provenance as changed. If the move is intended, nothing is "
            "wrong; if not, publish from the repository and workflow that published "
            f"{finding.previous}, and check who may publish {finding.project}.",
            title="trusted-publish: provenance would change",
        )
    elif finding.state is Continuity.UNKNOWN:
        previous = f" ({before})" if finding.previous else ""
        console.notice(
            f"Could not tell whether the release before {release}{previous} has provenance "
            f"({finding.reason}), so whether this run keeps it is unknown."
        )
    elif finding.state is Continuity.KEPT:
        console.debug(f"{release} keeps the provenance of {before} ({finding.reason}).")
