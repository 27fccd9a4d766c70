"""Trusted publishers and the token exchange (``POST /_/oidc/mint-token``).

The flow and every text follow warehouse: ``oidc/views.py`` (``mint_token_from_oidc``,
``mint_token``), ``oidc/services.py`` (JWT verification: RS256, iss/iat/exp/aud required,
``strict_aud``, 30 s leeway) and ``oidc/models/github.py`` (publisher lookup and claim
checks, in their order).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Union

import jwt
from packaging.utils import canonicalize_name
from pydantic import BaseModel, StrictStr, ValidationError

from .auth import IssuedToken
from .oidc import SigningKey
from .warehouse import Warehouse

__all__ = ["MintRecord", "RegisteredPublisher", "TrustedPublishing"]

# Warehouse's lookahead pattern: the workflow file name is what precedes "@" in
# job_workflow_ref; file names and refs may both contain "/" and "@".
_WORKFLOW_FILENAME_RE = re.compile(r"([^/]+\.(yml|yaml))(?=@)")

# Claims a GitHub publisher requires (required verifiable + unverifiable), in the order
# the sandbox reports the first missing one.
_REQUIRED_CLAIMS = (
    "sub",
    "repository",
    "repository_owner",
    "repository_owner_id",
    "job_workflow_ref",
    "jti",
    "event_name",
    "ref",
    "sha",
)

# Verification leeway PyPI allows on iat/nbf/exp (services.py).
JWT_LEEWAY = 30


class TokenPayload(BaseModel):
    # Same model (and name) as warehouse's, so invalid-payload descriptions read the same.
    token: StrictStr


class InvalidPublisherError(Exception):
    pass


class ReusedTokenError(Exception):
    pass


@dataclass(frozen=True)
class RegisteredPublisher:
    """A trusted publisher as registered on PyPI.

    ``projects`` None is a sandbox convenience: tokens minted through it may upload to
    (and create) any project. A ``pending`` publisher names exactly one project, which
    the first successful mint creates. ``repository_owner_id`` None takes the owner id of
    the sandbox's identity at the moment the publisher is given to the sandbox.
    """

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
        projects = self.projects
        if isinstance(projects, str):
            projects = frozenset({projects})
        elif projects is not None:
            projects = frozenset(projects)
        object.__setattr__(self, "projects", projects)
        if self.environment == "":
            object.__setattr__(self, "environment", None)
        if self.pending and (projects is None or len(projects) != 1):
            raise ValueError("a pending publisher names exactly one project")

    @property
    def project_names(self) -> Optional[frozenset[str]]:
        return None if self.projects is None else frozenset(self.projects)


@dataclass
class _PublisherState:
    """A registered publisher as the exchange matches it: normalized, maybe still pending."""

    spec: RegisteredPublisher
    owner: str
    name: str
    owner_id: str
    workflow: str
    environment: str  # "" = any environment; kept lower-case as warehouse stores it
    projects: Optional[set[str]]  # normalized names
    pending: bool
    active: bool = True

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def label(self) -> str:
        env = f":{self.environment}" if self.environment else ""
        return f"{self.repository}:{self.workflow}{env}"

    @property
    def attestation_identity(self) -> dict[str, Optional[str]]:
        """The publisher in a file's provenance: pypi-attestations' GitHubPublisher, with the
        configured values (warehouse's ``attestation_identity``)."""
        return {
            "environment": self.environment or None,
            "kind": "GitHub",
            "repository": self.repository,
            "workflow": self.workflow,
        }

    def as_publisher(self) -> RegisteredPublisher:
        return replace(
            self.spec,
            pending=self.pending,
            projects=None if self.projects is None else frozenset(self.projects),
            repository_owner_id=self.owner_id,
        )


@dataclass(frozen=True)
class MintRecord:
    """One request to the mint endpoint and its outcome (``code`` None on success)."""

    status: int
    code: Optional[str]
    description: Optional[str]
    publisher: Optional[str] = None


@dataclass
class _Outcome:
    status: int
    body: dict[str, Any]
    publisher: Optional[str] = None
    token: Optional[str] = field(default=None, repr=False)


def _invalid(code: str, description: str) -> _Outcome:
    return _Outcome(
        422,
        {"message": "Token request failed", "errors": [{"code": code, "description": description}]},
    )


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


class TrustedPublishing:
    """Publishers, used JWT ids and the mint endpoint of one sandbox."""

    def __init__(
        self,
        lock: threading.RLock,
        warehouse: Warehouse,
        key: SigningKey,
        *,
        audience: str = "pypi",
        token_lifetime: int = 900,
    ) -> None:
        self.lock = lock
        self.warehouse = warehouse
        self.key = key
        self.audience = audience
        self.token_lifetime = token_lifetime
        self.issuer = ""
        self.mode = "on"
        self.mint_requests: list[MintRecord] = []
        self.minted_tokens: list[str] = []
        self.burned_tokens: list[str] = []
        self._registered: list[_PublisherState] = []
        self._used_jti: dict[str, int] = {}

    # -- publishers ------------------------------------------------------------------

    def set_publishers(
        self, publishers: Iterable[RegisteredPublisher], default_owner_id: str
    ) -> None:
        registered = []
        for spec in publishers:
            owner, _, name = spec.repository.partition("/")
            names = spec.project_names
            registered.append(
                _PublisherState(
                    spec=spec,
                    owner=owner,
                    name=name,
                    owner_id=spec.repository_owner_id or default_owner_id,
                    workflow=spec.workflow,
                    environment=(spec.environment or "").lower(),
                    projects=None if names is None else {canonicalize_name(n) for n in names},
                    pending=spec.pending,
                )
            )
        with self.lock:
            self._registered = registered
            for spec in publishers:
                # A publisher on PyPI is attached to existing projects; give the sandbox
                # those projects so uploads through the publisher have somewhere to go.
                if not spec.pending and spec.project_names is not None:
                    for project in spec.project_names:
                        self.warehouse.ensure_project(project)

    def publishers(self) -> list[RegisteredPublisher]:
        with self.lock:
            return [r.as_publisher() for r in self._registered if r.active]

    # -- the exchange ----------------------------------------------------------------

    def mint(self, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            outcome = self._mint(body)
            errors = outcome.body.get("errors") or [{}]
            self.mint_requests.append(
                MintRecord(
                    status=outcome.status,
                    code=errors[0].get("code") if outcome.status != 200 else None,
                    description=errors[0].get("description") if outcome.status != 200 else None,
                    publisher=outcome.publisher,
                )
            )
            if outcome.token is not None:
                self.minted_tokens.append(outcome.token)
            return outcome.status, outcome.body

    def _mint(self, body: bytes) -> _Outcome:
        try:
            unverified_jwt = TokenPayload.model_validate_json(body).token
        except ValidationError as exc:
            return _invalid("invalid-payload", str(exc))

        try:
            unverified_claims = jwt.decode(unverified_jwt, options={"verify_signature": False})
            unverified_issuer = unverified_claims["iss"]
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return _invalid("invalid-payload", "malformed JWT")
        if unverified_issuer != self.issuer:
            return _invalid("invalid-payload", "unknown trusted publishing issuer")
        if self.mode == "disabled":
            # Warehouse's service names are lower-case ("github"), hence the text.
            return _invalid("not-enabled", "github trusted publishing functionality not enabled")

        claims = self._verify(unverified_jwt)
        if claims is None:
            return _invalid("invalid-token", "malformed or invalid token")

        try:
            pending = self._find(claims, pending=True)
        except InvalidPublisherError:
            pending = None
        except ReusedTokenError:
            # Warehouse lets this escape (a 500); the sandbox answers what it means.
            return _invalid("invalid-reuse-token", "invalid token: already used")
        if pending is not None:
            # A pending publisher names exactly one project (checked by RegisteredPublisher).
            (project,) = tuple(pending.spec.project_names or ())
            if self.warehouse.has_project(project):
                pending.active = False  # warehouse deletes the stale pending publisher
                outcome = _invalid(
                    "invalid-pending-publisher", "valid token, but project already exists"
                )
                outcome.publisher = pending.label
                return outcome
            self.warehouse.ensure_project(project)
            pending.pending = False

        try:
            publisher = self._find(claims, pending=False)
        except ReusedTokenError:
            return _invalid("invalid-reuse-token", "invalid token: already used")
        except InvalidPublisherError as exc:
            return _invalid(
                "invalid-publisher", f"valid token, but no corresponding publisher ({exc})"
            )

        not_before = int(time.time())
        expires_at = not_before + self.token_lifetime
        # PyPI's tokens are macaroons serialized as "pypi-AgE..." (base64); the shape
        # matters to clients that recognise and mask them, not the content.
        token = "pypi-AgE" + secrets.token_urlsafe(96)
        self.warehouse.issue_token(
            IssuedToken(
                token=token,
                publisher=publisher.label,
                projects=None if publisher.projects is None else frozenset(publisher.projects),
                not_before=not_before,
                expires_at=expires_at,
                identity=publisher.attestation_identity,
            )
        )
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            self._used_jti[jti] = int(claims.get("exp", 0))
        return _Outcome(
            200,
            {"success": True, "token": token, "expires": expires_at},
            publisher=publisher.label,
            token=token,
        )

    def burn(self, body: bytes) -> int:
        """``POST /_/oidc/burn-token``: revoke a minted token (uv calls it after upload).

        PyPI has no such endpoint (warehouse/oidc/__init__.py registers only the audience
        and mint-token routes): the server offers this only when the sandbox is started
        with ``burn_token=True``, standing for an index that has it. That index answers
        202 whether or not anything was revoked; a revoked token is unknown from then on,
        so an upload with it is refused as PyPI refuses an unknown token.
        """
        try:
            token = TokenPayload.model_validate_json(body).token
        except ValidationError:
            return 202
        with self.lock:
            if self.warehouse.revoke_token(token):
                self.burned_tokens.append(token)
        return 202

    def _verify(self, token: str) -> Optional[dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("kid") != self.key.kid:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self.key.public_key(),
                algorithms=["RS256"],
                options={
                    "verify_signature": True,
                    "require": ["iss", "iat", "exp", "aud"],
                    "verify_iss": True,
                    "verify_iat": True,
                    "verify_exp": True,
                    "verify_aud": True,
                    "verify_nbf": True,
                    "strict_aud": True,
                },
                issuer=self.issuer,
                audience=self.audience,
                leeway=JWT_LEEWAY,
            )
        except (jwt.PyJWTError, TypeError, ValueError):
            return None
        return claims

    def _find(self, claims: Mapping[str, Any], *, pending: bool) -> _PublisherState:
        for name in _REQUIRED_CLAIMS:
            if claims.get(name) is None:
                raise InvalidPublisherError(f"Missing claim {name!r}")

        repository = _text(claims["repository"]) or ""
        owner, _, repo_name = repository.partition("/")
        job_workflow_ref = _text(claims["job_workflow_ref"]) or ""
        match = _WORKFLOW_FILENAME_RE.search(job_workflow_ref)
        if match is None:
            raise InvalidPublisherError("Could not job extract workflow filename from OIDC claims")
        workflow = match.group(1)

        candidates = [
            r
            for r in self._registered
            if r.active
            and r.pending == pending
            and r.owner.lower() == owner.lower()
            and r.name.lower() == repo_name.lower()
            and r.owner_id == str(claims["repository_owner_id"])
            and r.workflow == workflow
        ]
        chosen = self._for_environment(candidates, _text(claims.get("environment")))
        if chosen is None:
            raise InvalidPublisherError("Publisher with matching claims was not found")
        self._verify_claims(chosen, claims)
        return chosen

    @staticmethod
    def _for_environment(
        candidates: Sequence[_PublisherState], environment: Optional[str]
    ) -> Optional[_PublisherState]:
        # A publisher bound to the job's environment beats one that accepts any.
        if environment:
            for candidate in candidates:
                if candidate.environment == environment.lower():
                    return candidate
        for candidate in candidates:
            if candidate.environment == "":
                return candidate
        return None

    def _verify_claims(self, publisher: _PublisherState, claims: Mapping[str, Any]) -> None:
        def failed(name: str) -> InvalidPublisherError:
            return InvalidPublisherError(f"Check failed for required claim {name!r}")

        sub = _text(claims.get("sub")) or ""
        components = sub.split(":")
        if (
            len(components) < 2
            or not components[0]
            or not components[1]
            or f"{components[0]}:{components[1]}".lower() != f"repo:{publisher.repository}".lower()
        ):
            raise failed("sub")
        repository = _text(claims.get("repository")) or ""
        if repository.lower() != publisher.repository.lower():
            raise failed("repository")
        if (_text(claims.get("repository_owner")) or "").lower() != publisher.owner.lower():
            raise failed("repository_owner")
        if str(claims.get("repository_owner_id")) != publisher.owner_id:
            raise failed("repository_owner_id")

        job_workflow_ref = _text(claims.get("job_workflow_ref"))
        if not job_workflow_ref:
            raise InvalidPublisherError("The job_workflow_ref claim is empty")
        ref = _text(claims.get("ref"))
        sha = _text(claims.get("sha"))
        if not (ref or sha):
            raise InvalidPublisherError("The ref and sha claims are empty")
        # PyPI stores the repository in GitHub's own spelling, which is the claim's.
        ground_truth = f"{repository}/.github/workflows/{publisher.workflow}"
        expected = {f"{ground_truth}@{r}" for r in (ref, sha) if r}
        if job_workflow_ref not in expected:
            raise InvalidPublisherError(
                "The job_workflow_ref claim does not match, expecting one of "
                f"{sorted(expected)!r}, got {job_workflow_ref!r}"
            )

        if _text(claims.get("jti")) in self._used_jti:
            raise ReusedTokenError()
        if claims.get("event_name") == "pull_request_target":
            raise InvalidPublisherError(
                "Publishing from a workflow invoked via 'pull_request_target' is not supported."
            )

        environment = _text(claims.get("environment"))
        if publisher.environment and (
            not environment or environment.lower() != publisher.environment
        ):
            raise InvalidPublisherError("Check failed for optional claim 'environment'")
