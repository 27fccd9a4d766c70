"""What every publisher kind shares when PyPI matches a token's claims to a publisher.

Warehouse's common machinery (``oidc/models/_core.py``, ``oidc/services.py``): a claim the
publisher requires must be present (``Missing claim 'x'``), the publisher is looked up by
claims, then each check runs in order and the first failure is the reason PyPI gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Union

__all__ = [
    "InvalidPublisherError",
    "PublisherSpec",
    "Registration",
    "ReusedTokenError",
    "for_environment",
    "freeze_projects",
    "require_claims",
    "text",
]


class InvalidPublisherError(Exception):
    """No publisher matches; the text is warehouse's reason, shown in parentheses."""


class ReusedTokenError(Exception):
    """The token's ``jti`` was already used for a successful exchange."""


class PublisherSpec(Protocol):
    """A trusted publisher as a test registers it (GitHub, GitLab or Google)."""

    service: str
    pending: bool

    @property
    def label(self) -> str: ...

    @property
    def project_names(self) -> Optional[frozenset[str]]: ...


@dataclass
class Registration:
    """A registered publisher as the exchange matches it: maybe still pending, maybe gone."""

    spec: Any  # one of the PublisherSpec dataclasses
    projects: Optional[set[str]]  # normalized names; None = any project (sandbox)
    pending: bool
    issuer: str  # the issuer URL the publisher is registered for
    owner_id: str = ""  # GitHub only: the owner's numeric id, as a string
    environment: str = ""  # "" = any environment, otherwise as warehouse stores it
    active: bool = True

    @property
    def label(self) -> str:
        label: str = self.spec.label
        return label

    @property
    def attestation_identity(self) -> dict[str, Optional[str]]:
        """The publisher in a file's provenance, with the configured values (warehouse's
        ``attestation_identity`` of each publisher model; pypi-attestations' publishers)."""
        spec = self.spec
        if spec.service == "github":
            return {
                "environment": self.environment or None,
                "kind": "GitHub",
                "repository": spec.repository,
                "workflow": spec.workflow,
            }
        if spec.service == "gitlab":
            return {
                "environment": self.environment or None,
                "kind": "GitLab",
                "repository": spec.project_path,
                "workflow_filepath": spec.workflow_filepath,
            }
        return {"kind": "Google", "email": spec.email}


class ScopedToProjects:
    """What every publisher kind shares: the projects it may upload to (None: any)."""

    projects: Optional[Union[str, Iterable[str]]]

    @property
    def project_names(self) -> Optional[frozenset[str]]:
        return None if self.projects is None else frozenset(self.projects)


def freeze_projects(spec: Any) -> None:
    """Shared by every publisher kind: ``projects`` as a frozenset; pending names one."""
    projects = spec.projects
    if isinstance(projects, str):
        projects = frozenset({projects})
    elif projects is not None:
        projects = frozenset(projects)
    object.__setattr__(spec, "projects", projects)
    if spec.pending and (projects is None or len(projects) != 1):
        raise ValueError("a pending publisher names exactly one project")


def text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def require_claims(claims: Mapping[str, Any], names: Iterable[str]) -> None:
    """``check_claims_existence``: None (absent) fails; an empty string passes."""
    for name in names:
        if claims.get(name) is None:
            raise InvalidPublisherError(f"Missing claim {name!r}")


def for_environment(
    candidates: Sequence[Registration], environment: Optional[str], *, fold_case: bool
) -> Registration:
    """``_get_publisher_for_environment``: the environment's own publisher, else one for any.

    GitHub's form stores environments lower-cased and compares the claim lower-cased;
    GitLab's compares exactly.
    """
    if environment:
        wanted = environment.lower() if fold_case else environment
        for candidate in candidates:
            if candidate.environment == wanted:
                return candidate
    for candidate in candidates:
        if candidate.environment == "":
            return candidate
    raise InvalidPublisherError("Publisher with matching claims was not found")
