"""Trusted publishers and the token exchange (``POST /_/oidc/mint-token``).

The flow and every text follow warehouse: ``oidc/views.py`` (``mint_token_from_oidc``,
``mint_token``), ``oidc/services.py`` (JWT verification: RS256, iss/iat/exp/aud required,
``strict_aud``, 30 s leeway) and ``oidc/utils.py`` (the token's issuer picks the publisher
kind). Each kind's lookup and claim checks live in its own module: ``github``, ``gitlab``,
``google``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Union

import jwt
from packaging.utils import canonicalize_name
from pydantic import BaseModel, StrictStr, ValidationError

from . import github, gitlab, google
from .auth import IssuedToken
from .claims import InvalidPublisherError, Registration, ReusedTokenError
from .github import RegisteredPublisher
from .gitlab import GitLabPublisher
from .google import GooglePublisher
from .oidc import SigningKey
from .warehouse import Warehouse

__all__ = [
    "AnyPublisher",
    "GitLabPublisher",
    "GooglePublisher",
    "Issuer",
    "MintRecord",
    "RegisteredPublisher",
    "TrustedPublishing",
]

#: A trusted publisher of any kind, as a test registers it.
AnyPublisher = Union[RegisteredPublisher, GitLabPublisher, GooglePublisher]

_FINDERS: dict[
    str,
    Callable[[Sequence[Registration], Mapping[str, Any], Mapping[str, int]], Registration],
] = {"github": github.find, "gitlab": gitlab.find, "google": google.find}

# Verification leeway PyPI allows on iat/nbf/exp (services.py).
JWT_LEEWAY = 30


@dataclass(frozen=True)
class Issuer:
    """An OIDC issuer PyPI knows: its URL, the publisher kind it is for, its signing key."""

    url: str
    service: str  # "github", "gitlab" or "google": warehouse's service names
    key: SigningKey


class TokenPayload(BaseModel):
    # Same model (and name) as warehouse's, so invalid-payload descriptions read the same.
    token: StrictStr


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
        self.issuers: dict[str, Issuer] = {}
        """Issuer URL → issuer: warehouse's OIDC_ISSUER_SERVICE_NAMES, plus the
        organizations' custom issuers (a self-managed GitLab)."""
        self.mode = "on"
        self.disabled_services: set[str] = set()
        """Services whose admin flag is on (``disallow-gitlab-oidc``...): ``not-enabled``."""
        self.mint_requests: list[MintRecord] = []
        self.minted_tokens: list[str] = []
        self.burned_tokens: list[str] = []
        self._registered: list[Registration] = []
        self._used_jti: dict[str, int] = {}

    @property
    def issuer(self) -> str:
        """GitHub's issuer URL (the first one registered for the ``github`` service)."""
        return self.issuer_for("github")

    def issuer_for(self, service: str) -> str:
        return next((i.url for i in self.issuers.values() if i.service == service), "")

    # -- publishers ------------------------------------------------------------------

    def set_publishers(
        self, publishers: Iterable[AnyPublisher], default_owner_id: str, owner_login: str = ""
    ) -> None:
        """Register `publishers`. `owner_login`: the GitHub login the sandbox's GitHub knows
        (its identity's owner), as GitHub spells it."""
        registered = []
        publishers = [_as_github_spells_it(spec, owner_login) for spec in publishers]
        for spec in publishers:
            names = spec.project_names
            reg = Registration(
                spec=spec,
                projects=None if names is None else {canonicalize_name(n) for n in names},
                pending=spec.pending,
                issuer=getattr(spec, "issuer_url", None) or "",
            )
            if isinstance(spec, RegisteredPublisher):
                reg.owner_id = spec.repository_owner_id or default_owner_id
                # GitHub's form stores the environment lower-cased.
                reg.environment = (spec.environment or "").lower()
            elif isinstance(spec, GitLabPublisher):
                reg.environment = spec.environment or ""
            registered.append(reg)
        with self.lock:
            self._registered = registered
            for spec in publishers:
                # A publisher on PyPI is attached to existing projects; give the sandbox
                # those projects so uploads through the publisher have somewhere to go.
                if not spec.pending and spec.project_names is not None:
                    for project in spec.project_names:
                        self.warehouse.ensure_project(project)

    def publishers(self) -> list[AnyPublisher]:
        """The active publishers; a reified pending one shows as a normal one."""
        with self.lock:
            shown: list[AnyPublisher] = []
            for r in self._registered:
                if not r.active:
                    continue
                projects = None if r.projects is None else frozenset(r.projects)
                if isinstance(r.spec, RegisteredPublisher):
                    shown.append(
                        replace(
                            r.spec,
                            pending=r.pending,
                            projects=projects,
                            repository_owner_id=r.owner_id,
                        )
                    )
                else:
                    shown.append(replace(r.spec, pending=r.pending, projects=projects))
            return shown

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
        issuer = self.issuers.get(unverified_issuer) if isinstance(unverified_issuer, str) else None
        if issuer is None:
            return _invalid("invalid-payload", "unknown trusted publishing issuer")
        if self.mode == "disabled" or issuer.service in self.disabled_services:
            # Warehouse's service names are lower-case ("github"), hence the text.
            return _invalid(
                "not-enabled", f"{issuer.service} trusted publishing functionality not enabled"
            )

        claims = self._verify(unverified_jwt, issuer)
        if claims is None:
            return _invalid("invalid-token", "malformed or invalid token")

        try:
            pending = self._find(issuer, claims, pending=True)
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
            publisher = self._find(issuer, claims, pending=False)
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
        """``POST /_/oidc/burn-token``: revoke a minted token, as PyPI does since warehouse
        PR #20197 ("Allow burning of TP tokens": the ``oidc.burn_token`` view in
        warehouse/oidc/views.py, a ``BurnPayload`` of one ``token`` string). PyPI answers 202
        whether or not anything was revoked, so the answer tells no one which tokens exist;
        a revoked token is unknown from then on, so an upload with it is refused as PyPI
        refuses an unknown token. A sandbox started with ``burn_token=False`` stands for an
        index without the endpoint (404).
        """
        try:
            token = TokenPayload.model_validate_json(body).token
        except ValidationError:
            return 202
        with self.lock:
            if self.warehouse.revoke_token(token):
                self.burned_tokens.append(token)
        return 202

    def _verify(self, token: str, issuer: Issuer) -> Optional[dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("kid") != issuer.key.kid:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=issuer.key.public_key(),
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
                issuer=issuer.url,
                audience=self.audience,
                leeway=JWT_LEEWAY,
            )
        except (jwt.PyJWTError, TypeError, ValueError):
            return None
        return claims

    def _find(self, issuer: Issuer, claims: Mapping[str, Any], *, pending: bool) -> Registration:
        candidates = []
        for r in self._registered:
            if r.active and r.pending == pending and r.spec.service == issuer.service:
                # Registered before the sandbox knew its own URLs: its own issuer.
                r.issuer = r.issuer or self.issuer_for(issuer.service)
                candidates.append(r)
        return _FINDERS[issuer.service](candidates, claims, self._used_jti)


def _as_github_spells_it(spec: AnyPublisher, login: str) -> AnyPublisher:
    """A GitHub publisher's owner as GitHub spells the login: warehouse's form asks GitHub's
    API for the owner typed (`/users/<owner>`, which ignores case) and stores the login it
    answers (warehouse/oidc/forms/github.py, `GitHubPublisherBase.validate_owner`:
    `self.normalized_owner = owner_info["login"]`), so a publisher typed `Octo-Org` for the
    login `octo-org` matches. The sandbox's GitHub knows one login: its identity's owner.
    The repository name is kept as typed (GitHub's API is not asked about it)."""
    if not isinstance(spec, RegisteredPublisher) or not login:
        return spec
    owner, _, name = spec.repository.partition("/")
    if owner != login and owner.lower() == login.lower():
        return replace(spec, repository=f"{login}/{name}")
    return spec
