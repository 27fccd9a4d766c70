"""Google Cloud: the metadata server's identity token, and Google trusted publishers.

On Google Cloud a workload asks the metadata server (``GET /computeMetadata/v1/instance/
service-accounts/default/identity?audience=...``, header ``Metadata-Flavor: Google``) for an
ID token of its service account. The sandbox serves that path under a secret prefix (its
bearer: ``Sandbox.metadata_secret``), so only a client pointed at it with
``GCE_METADATA_HOST=127.0.0.1:PORT/<secret>`` gets a token signed by the sandbox's Google
issuer (``{base_url}/_google``); the same path without the secret answers 403.

Matching follows ``warehouse/oidc/models/google.py``: looked up by ``email`` (exactly); a
publisher bound to the token's ``sub`` wins over one for any subject; ``email_verified``
must be JSON ``true``. Google's tokens carry no ``jti``: nothing stops their reuse.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union

from .claims import (
    InvalidPublisherError,
    Registration,
    ScopedToProjects,
    freeze_projects,
    require_claims,
    text,
)

__all__ = ["GoogleIdentity", "GooglePublisher", "find", "is_metadata_path", "metadata_secret_of"]

METADATA_IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"


def is_metadata_path(path: str) -> bool:
    """A metadata server's path, with or without a (right or wrong) secret prefix."""
    return path.startswith("/computeMetadata/") or path.split("/", 2)[-1].startswith(
        "computeMetadata/"
    )


def metadata_secret_of(path: str) -> Optional[str]:
    """The secret prefix of a request for the identity path; None for another path."""
    prefix, found, _ = path.partition(METADATA_IDENTITY_PATH)
    if not found or not path.endswith(METADATA_IDENTITY_PATH):
        return None
    return prefix.removeprefix("/")


@dataclass(frozen=True)
class GoogleIdentity:
    """The claims of a service account's ID token from the metadata server (``format=full``)."""

    email: str = "publisher@demo-project.iam.gserviceaccount.com"
    sub: str = "117838797398470216432"
    email_verified: Any = True
    project_id: str = "demo-project"
    issued_at_offset: int = 0
    lifetime: int = 3600
    extra_claims: Mapping[str, Any] = field(default_factory=dict)

    def claims(self, *, issuer: str, audience: str, now: Optional[int] = None) -> dict[str, Any]:
        iat = (int(time.time()) if now is None else now) + self.issued_at_offset
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "azp": self.sub,
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "iat": iat,
            "exp": iat + self.lifetime,
            "google": {
                "compute_engine": {
                    "project_id": self.project_id,
                    "project_number": 123456789012,
                    "zone": "us-central1-a",
                    "instance_id": "4242424242424242424",
                    "instance_name": "builder-1",
                    "instance_creation_timestamp": iat - 3600,
                }
            },
        }
        claims.update(self.extra_claims)
        return {key: value for key, value in claims.items() if value is not None}


@dataclass(frozen=True)
class GooglePublisher(ScopedToProjects):
    """A Google trusted publisher: a service account's email, maybe its subject (``sub``)."""

    service: ClassVar[str] = "google"

    email: str
    sub: Optional[str] = None
    projects: Optional[Union[str, Iterable[str]]] = None
    pending: bool = False

    def __post_init__(self) -> None:
        if "@" not in self.email:
            raise ValueError(f"email must be a service account's email, not {self.email!r}")
        freeze_projects(self)
        if not self.sub:
            object.__setattr__(self, "sub", None)

    @property
    def label(self) -> str:
        return f"google:{self.email}" + (f":{self.sub}" if self.sub else "")


def find(
    registered: Sequence[Registration], claims: Mapping[str, Any], used_jti: Mapping[str, int]
) -> Registration:
    """The publisher this Google token matches, or warehouse's reason why none does."""
    require_claims(claims, ("email", "email_verified"))
    email = claims["email"]
    candidates = [r for r in registered if r.spec.email == email]
    sub = text(claims.get("sub"))
    chosen = next((r for r in candidates if sub and r.spec.sub == sub), None)
    if chosen is None:
        chosen = next((r for r in candidates if not r.spec.sub), None)
    if chosen is None:
        raise InvalidPublisherError("Publisher with matching claims was not found")
    if claims.get("email_verified") is not True:
        raise InvalidPublisherError("Check failed for required claim 'email_verified'")
    if chosen.spec.sub and sub != chosen.spec.sub:
        raise InvalidPublisherError("Check failed for optional claim 'sub'")
    return chosen
