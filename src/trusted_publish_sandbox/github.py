"""GitHub trusted publishers, matched to a token's claims as warehouse does today.

``warehouse/oidc/models/github.py``: the publisher is looked up by the owner and repository
name (the two halves of the ``repository`` claim), the owner's id and the workflow file
name, all compared exactly, case included (plain SQL ``=``); PyPI does not look at ``sub``
or ``workflow_ref`` at all, so an organization's customized subject template is fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Union

from .claims import (
    InvalidPublisherError,
    Registration,
    ReusedTokenError,
    ScopedToProjects,
    for_environment,
    freeze_projects,
    require_claims,
    text,
)

__all__ = ["RegisteredPublisher", "find"]

# Warehouse's lookahead pattern: the workflow file name is what precedes "@" in
# job_workflow_ref; file names and refs may both contain "/" and "@".
_WORKFLOW_FILENAME_RE = re.compile(r"([^/]+\.(yml|yaml))(?=@)")

# Required verifiable claims, then the required unverifiable ones: the order in which the
# first missing one is reported.
_REQUIRED_CLAIMS = (
    "repository",
    "repository_owner",
    "repository_owner_id",
    "job_workflow_ref",
    "jti",
    "event_name",
    "ref",
    "sha",
)


@dataclass(frozen=True)
class RegisteredPublisher(ScopedToProjects):
    """A GitHub trusted publisher as registered on PyPI.

    ``projects`` None is a sandbox convenience: tokens minted through it may upload to
    (and create) any project. A ``pending`` publisher names exactly one project, which
    the first successful mint creates. ``repository_owner_id`` None takes the owner id of
    the sandbox's identity at the moment the publisher is given to the sandbox.
    ``repository`` is kept as typed: PyPI compares it exactly.
    """

    service: ClassVar[str] = "github"

    repository: str
    workflow: str
    environment: Optional[str] = None
    projects: Optional[Union[str, Iterable[str]]] = None
    pending: bool = False
    repository_owner_id: Optional[str] = None

    def __post_init__(self) -> None:
        owner, sep, name = self.repository.partition("/")
        if not (owner and sep and name) or "/" in name:
            raise ValueError(f"repository must be OWNER/REPO, not {self.repository!r}")
        if not self.workflow or "/" in self.workflow:
            raise ValueError(f"workflow must be a file name like release.yml: {self.workflow!r}")
        freeze_projects(self)
        if self.environment == "":
            object.__setattr__(self, "environment", None)

    @property
    def label(self) -> str:
        env = f":{self.environment.lower()}" if self.environment else ""
        return f"{self.repository}:{self.workflow}{env}"


def find(
    registered: Sequence[Registration], claims: Mapping[str, Any], used_jti: Mapping[str, int]
) -> Registration:
    """The publisher this GitHub token matches, or warehouse's reason why none does."""
    require_claims(claims, _REQUIRED_CLAIMS)
    repository = text(claims["repository"]) or ""
    owner, _, repo_name = repository.partition("/")
    job_workflow_ref = text(claims["job_workflow_ref"]) or ""
    match = _WORKFLOW_FILENAME_RE.search(job_workflow_ref)
    if match is None:
        raise InvalidPublisherError("Could not job extract workflow filename from OIDC claims")
    workflow = match.group(1)
    candidates = [
        r
        for r in registered
        if r.spec.repository == f"{owner}/{repo_name}"
        and r.owner_id == str(claims["repository_owner_id"])
        and r.spec.workflow == workflow
    ]
    chosen = for_environment(candidates, text(claims.get("environment")), fold_case=True)
    _verify(chosen, claims, used_jti)
    return chosen


def _verify(
    publisher: Registration, claims: Mapping[str, Any], used_jti: Mapping[str, int]
) -> None:
    def failed(name: str) -> InvalidPublisherError:
        return InvalidPublisherError(f"Check failed for required claim {name!r}")

    configured: str = publisher.spec.repository
    owner = configured.split("/", 1)[0]
    repository = text(claims.get("repository")) or ""
    if not repository or repository.lower() != configured.lower():
        raise failed("repository")
    if text(claims.get("repository_owner")) != owner:
        raise failed("repository_owner")
    if str(claims.get("repository_owner_id")) != publisher.owner_id:
        raise failed("repository_owner_id")

    job_workflow_ref = text(claims.get("job_workflow_ref"))
    if not job_workflow_ref:
        raise InvalidPublisherError("The job_workflow_ref claim is empty")
    ref = text(claims.get("ref"))
    sha = text(claims.get("sha"))
    if not (ref or sha):
        raise InvalidPublisherError("The ref and sha claims are empty")
    ground_truth = f"{configured}/.github/workflows/{publisher.spec.workflow}"
    expected = {f"{ground_truth}@{r}" for r in (ref, sha) if r}
    if job_workflow_ref not in expected:
        raise InvalidPublisherError(
            "The job_workflow_ref claim does not match, expecting one of "
            f"{sorted(expected)!r}, got {job_workflow_ref!r}"
        )

    if text(claims.get("jti")) in used_jti:
        raise ReusedTokenError()
    if claims.get("event_name") == "pull_request_target":
        raise InvalidPublisherError(
            "Publishing from a workflow invoked via 'pull_request_target' is not supported."
        )

    environment = text(claims.get("environment"))
    if publisher.environment and (not environment or environment.lower() != publisher.environment):
        raise InvalidPublisherError("Check failed for optional claim 'environment'")
