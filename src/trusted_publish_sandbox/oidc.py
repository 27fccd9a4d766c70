"""The GitHub side: the workflow identity, its RS256 key pair, JWKS and ID tokens.

GitHub's token service (``token.actions.githubusercontent.com``) signs a JWT whose claims
describe the workflow run; PyPI verifies it against the issuer's JWKS. The sandbox plays
that issuer under its own URL (``{base_url}/_github``) with a key pair made per sandbox.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = ["DEFAULT_OWNER_ID", "Identity", "SigningKey"]

# Defaults shaped like real GitHub values (numeric ids as strings, a 40-hex sha) so that
# code under test meets the same formats as in a real run.
DEFAULT_OWNER_ID = "1342004"
DEFAULT_REPOSITORY_ID = "582394051"
DEFAULT_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


@dataclass(frozen=True)
class Identity:
    """The claims of one workflow job, as GitHub would put them in its ID token.

    ``job_workflow_ref``, ``workflow_ref``, ``ref_type`` and ``workflow_name`` are derived
    when left at None (derived at signing time, so ``dataclasses.replace`` stays coherent).
    A ``ref``/``sha``/``environment`` of None leaves the claim out of the token; an empty
    string sends it empty, as GitHub does for some events. ``extra_claims`` adds or
    overrides claims; a value of None there removes the claim.
    ``issued_at_offset`` shifts iat/nbf/exp (negative: an old, expired token).
    """

    repository: str = "octo-org/demo"
    workflow: str = "release.yml"
    ref: Optional[str] = "refs/tags/v1.0.0"
    environment: Optional[str] = "pypi"
    event_name: str = "push"
    repository_owner_id: str = DEFAULT_OWNER_ID
    repository_id: str = DEFAULT_REPOSITORY_ID
    sha: Optional[str] = DEFAULT_SHA
    job_workflow_ref: Optional[str] = None
    workflow_ref: Optional[str] = None
    actor: str = "octocat"
    actor_id: str = "583231"
    run_id: str = "11223344556"
    run_number: str = "42"
    run_attempt: str = "1"
    runner_environment: str = "github-hosted"
    ref_type: Optional[str] = None
    repository_visibility: str = "public"
    workflow_name: Optional[str] = None
    issued_at_offset: int = 0
    lifetime: int = 300
    extra_claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def repository_owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def resolved_workflow_ref(self) -> str:
        if self.workflow_ref is not None:
            return self.workflow_ref
        return f"{self.repository}/.github/workflows/{self.workflow}@{self.ref or self.sha or ''}"

    @property
    def resolved_job_workflow_ref(self) -> str:
        if self.job_workflow_ref is not None:
            return self.job_workflow_ref
        return self.resolved_workflow_ref

    @property
    def resolved_ref_type(self) -> str:
        if self.ref_type is not None:
            return self.ref_type
        ref = self.ref or ""
        if ref.startswith("refs/tags/"):
            return "tag"
        if ref.startswith("refs/heads/"):
            return "branch"
        return ""

    @property
    def subject(self) -> str:
        """GitHub's default ``sub``: environment first, then pull request, then ref."""
        if self.environment:
            return f"repo:{self.repository}:environment:{self.environment}"
        if self.event_name in ("pull_request", "pull_request_target"):
            return f"repo:{self.repository}:pull_request"
        return f"repo:{self.repository}:ref:{self.ref or ''}"

    def claims(self, *, issuer: str, audience: str, now: Optional[int] = None) -> dict[str, Any]:
        """The claim set of a fresh token (new ``jti`` each call)."""
        iat = (int(time.time()) if now is None else now) + self.issued_at_offset
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": self.subject,
            "aud": audience,
            "ref": self.ref,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": self.repository_owner,
            "repository_owner_id": self.repository_owner_id,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "run_attempt": self.run_attempt,
            "repository_visibility": self.repository_visibility,
            "repository_id": self.repository_id,
            "actor_id": self.actor_id,
            "actor": self.actor,
            "workflow": self.workflow_name or f".github/workflows/{self.workflow}",
            "head_ref": "",
            "base_ref": "",
            "event_name": self.event_name,
            "ref_protected": "false",
            "ref_type": self.resolved_ref_type,
            "workflow_ref": self.resolved_workflow_ref,
            "workflow_sha": self.sha,
            "job_workflow_ref": self.resolved_job_workflow_ref,
            "job_workflow_sha": self.sha,
            "runner_environment": self.runner_environment,
            "environment": self.environment,
            "iss": issuer,
            "nbf": iat,
            "exp": iat + self.lifetime,
            "iat": iat,
        }
        claims.update(self.extra_claims)
        # None means "GitHub did not send this claim" (e.g. no environment on the job).
        return {key: value for key, value in claims.items() if value is not None}


class SigningKey:
    """An RSA key pair with a key id: signs tokens and publishes itself as a JWKS."""

    def __init__(self) -> None:
        # 2048 bits is what GitHub uses and keeps generation well under a second.
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(16)

    def jwk(self) -> dict[str, Any]:
        key: dict[str, Any] = RSAAlgorithm.to_jwk(self._private.public_key(), as_dict=True)
        key.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            dict(claims),
            self._private,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": "JWT"},
        )

    def public_key(self) -> rsa.RSAPublicKey:
        return self._private.public_key()


def openid_configuration(issuer: str) -> dict[str, Any]:
    """The discovery document PyPI reads to find the JWKS (same shape as GitHub's)."""
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks",
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": [
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "ref",
            "sha",
            "repository",
            "repository_id",
            "repository_owner",
            "repository_owner_id",
            "run_id",
            "run_number",
            "run_attempt",
            "actor",
            "actor_id",
            "workflow",
            "workflow_ref",
            "workflow_sha",
            "head_ref",
            "base_ref",
            "event_name",
            "ref_type",
            "environment",
            "job_workflow_ref",
            "job_workflow_sha",
            "runner_environment",
        ],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    }
