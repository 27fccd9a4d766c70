"""GitLab CI/CD: a job's ID token, and GitLab trusted publishers matched as warehouse does.

GitLab puts the ID tokens a job declares under ``id_tokens:`` into variables (no token
endpoint: ``PYPI_ID_TOKEN`` is already in the job's environment). The sandbox plays a
GitLab instance under its own URL (``{base_url}/_gitlab``): for PyPI that is a
self-managed instance, whose publishers are registered with that exact issuer URL.

Matching follows ``warehouse/oidc/models/gitlab.py``: the publisher is looked up by the
namespace and project (halves of ``project_path``, without case), the top-level pipeline
file path taken from ``ci_config_ref_uri`` (exactly) and the issuer URL (exactly); then
``sub`` and ``project_path`` are checked without case, ``ci_config_ref_uri`` exactly
against the *registered* namespace and project, and the environment exactly.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from .oidc import DEFAULT_SHA

__all__ = ["GitLabIdentity", "GitLabPublisher", "find", "instance_path"]

# warehouse's _WORKFLOW_FILEPATH_RE: after the first "//", up to an "@", ending .yml/.yaml.
_WORKFLOW_FILEPATH_RE = re.compile(r"(?<=//)(.*[^/]\.(yml|yaml))(?=@)")

_REQUIRED_CLAIMS = ("sub", "project_path", "ci_config_ref_uri", "jti", "ref_path", "sha")


def instance_path(issuer: str) -> str:
    """The issuer as ``ci_config_ref_uri`` starts: ``gitlab.com`` for ``https://gitlab.com``.

    Warehouse removes ``https://``; the sandbox also removes ``http://``, which only its
    loopback issuer has (warehouse's pattern would otherwise stop at the scheme's ``//``).
    """
    return issuer.split("://", 1)[-1]


@dataclass(frozen=True)
class GitLabIdentity:
    """The claims of one GitLab CI/CD job's ID token (shaped like gitlab.com's).

    ``ci_config_ref_uri`` and ``sub`` are derived when None. ``extra_claims`` adds or
    overrides claims; a value of None there removes the claim. An ``environment`` of None
    is a job without ``environment:``.
    """

    project_path: str = "octo-group/demo"
    ci_config_path: str = ".gitlab-ci.yml"
    ref: str = "v1.0.0"
    ref_type: str = "tag"
    environment: Optional[str] = "pypi"
    sha: str = DEFAULT_SHA
    ci_config_ref_uri: Optional[str] = None
    sub: Optional[str] = None
    pipeline_source: str = "push"
    issued_at_offset: int = 0
    lifetime: int = 300
    extra_claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref_path(self) -> str:
        kind = "tags" if self.ref_type == "tag" else "heads"
        return f"refs/{kind}/{self.ref}"

    def claims(self, *, issuer: str, audience: str, now: Optional[int] = None) -> dict[str, Any]:
        iat = (int(time.time()) if now is None else now) + self.issued_at_offset
        namespace = self.project_path.rsplit("/", 1)[0]
        config_uri = self.ci_config_ref_uri or (
            f"{instance_path(issuer)}/{self.project_path}//{self.ci_config_path}@{self.ref_path}"
        )
        claims: dict[str, Any] = {
            "namespace_id": "72931011",
            "namespace_path": namespace,
            "project_id": "55235664",
            "project_path": self.project_path,
            "user_id": "123",
            "user_login": "alice",
            "user_email": "alice@example.com",
            "user_access_level": "maintainer",
            "pipeline_id": "1987654321",
            "pipeline_source": self.pipeline_source,
            "job_id": "9876543210",
            "ref": self.ref,
            "ref_type": self.ref_type,
            "ref_path": self.ref_path,
            "ref_protected": "true",
            "runner_id": 12270807,
            "runner_environment": "gitlab-hosted",
            "sha": self.sha,
            "project_visibility": "public",
            "ci_config_ref_uri": config_uri,
            "ci_config_sha": self.sha,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "iat": iat,
            "nbf": iat - 5,
            "exp": iat + self.lifetime,
            "sub": self.sub
            or f"project_path:{self.project_path}:ref_type:{self.ref_type}:ref:{self.ref}",
            "aud": audience,
        }
        if self.environment:
            claims.update(
                environment=self.environment,
                environment_protected="true",
                deployment_tier="production",
                environment_action="start",
            )
        claims.update(self.extra_claims)
        return {key: value for key, value in claims.items() if value is not None}


@dataclass(frozen=True)
class GitLabPublisher(ScopedToProjects):
    """A GitLab trusted publisher: ``NAMESPACE/PROJECT``, the top-level pipeline file path,
    maybe an environment. ``issuer_url`` None is the sandbox's own GitLab instance."""

    service: ClassVar[str] = "gitlab"

    project_path: str
    workflow_filepath: str
    environment: Optional[str] = None
    projects: Optional[Union[str, Iterable[str]]] = None
    pending: bool = False
    issuer_url: Optional[str] = None

    def __post_init__(self) -> None:
        namespace, sep, project = self.project_path.rpartition("/")
        if not (namespace and sep and project):
            raise ValueError(f"project must be NAMESPACE/PROJECT, not {self.project_path!r}")
        # warehouse/oidc/forms/gitlab.py
        path = self.workflow_filepath.strip()
        if not path.endswith((".yml", ".yaml")):
            raise ValueError("Top-level pipeline file path must end with .yml or .yaml")
        if path.startswith("/") or path.endswith("/"):
            raise ValueError("Top-level pipeline file path cannot start or end with /")
        object.__setattr__(self, "workflow_filepath", path)
        freeze_projects(self)
        if not (self.environment or "").strip():
            object.__setattr__(self, "environment", None)

    @property
    def namespace(self) -> str:
        return self.project_path.rsplit("/", 1)[0]

    @property
    def project(self) -> str:
        return self.project_path.rsplit("/", 1)[1]

    @property
    def label(self) -> str:
        env = f":{self.environment}" if self.environment else ""
        return f"gitlab:{self.project_path}:{self.workflow_filepath}{env}"


def find(
    registered: Sequence[Registration], claims: Mapping[str, Any], used_jti: Mapping[str, int]
) -> Registration:
    """The publisher this GitLab token matches, or warehouse's reason why none does."""
    require_claims(claims, _REQUIRED_CLAIMS)
    project_path = text(claims["project_path"]) or ""
    namespace, _, project = project_path.rpartition("/")
    match = _WORKFLOW_FILEPATH_RE.search(text(claims["ci_config_ref_uri"]) or "")
    if match is None:
        raise InvalidPublisherError("Could not extract workflow filename from OIDC claims")
    candidates = [
        r
        for r in registered
        if r.spec.namespace.lower() == namespace.lower()
        and r.spec.project.lower() == project.lower()
        and r.spec.workflow_filepath == match.group(1)
        and r.issuer == claims.get("iss")
    ]
    chosen = for_environment(candidates, text(claims.get("environment")), fold_case=False)
    _verify(chosen, claims, used_jti)
    return chosen


def _verify(
    publisher: Registration, claims: Mapping[str, Any], used_jti: Mapping[str, int]
) -> None:
    def failed(name: str) -> InvalidPublisherError:
        return InvalidPublisherError(f"Check failed for required claim {name!r}")

    spec: GitLabPublisher = publisher.spec
    sub = text(claims.get("sub")) or ""
    parts = sub.split(":")
    if (
        len(parts) < 2
        or not parts[0]
        or not parts[1]
        or f"{parts[0]}:{parts[1]}".lower() != f"project_path:{spec.project_path}".lower()
    ):
        raise failed("sub")
    project_path = text(claims.get("project_path")) or ""
    if not project_path or project_path.lower() != spec.project_path.lower():
        raise failed("project_path")

    config_uri = text(claims.get("ci_config_ref_uri"))
    if not config_uri:
        raise InvalidPublisherError("The ci_config_ref_uri claim is empty")
    ref_path = text(claims.get("ref_path"))
    sha = text(claims.get("sha"))
    if not (ref_path and sha):
        raise InvalidPublisherError("The ref_path and sha claims are empty")
    # The registered spelling, not the token's: a casing difference fails here.
    ground_truth = (
        f"{instance_path(publisher.issuer)}/{spec.project_path}//{spec.workflow_filepath}"
    )
    expected = {f"{ground_truth}@{r}" for r in (ref_path, sha) if r}
    if config_uri not in expected:
        raise InvalidPublisherError(
            "The ci_config_ref_uri claim does not match, expecting one of "
            f"{sorted(expected)!r}, got {config_uri!r}"
        )

    if text(claims.get("jti")) in used_jti:
        raise ReusedTokenError()

    environment = text(claims.get("environment"))
    if publisher.environment and environment != publisher.environment:
        raise InvalidPublisherError("Check failed for optional claim 'environment'")
