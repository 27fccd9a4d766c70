"""Who is uploading: the Authorization header checked against issued tokens and accounts."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

__all__ = ["Authenticated", "IssuedToken", "authenticate"]


@dataclass(frozen=True)
class IssuedToken:
    """A short-lived API token minted from an OIDC token."""

    token: str
    publisher: str
    projects: Optional[frozenset[str]]  # normalized names; None = any project (sandbox)
    not_before: int
    expires_at: int
    # The publisher as PyPI names it in provenance (pypi-attestations' Publisher model:
    # kind, repository, workflow, environment); None for a token minted without one.
    identity: Optional[dict[str, Optional[str]]] = None


@dataclass(frozen=True)
class Authenticated:
    """An uploader whose credential the warehouse accepted."""

    kind: str  # "token" or "user"
    name: str
    token: Optional[IssuedToken] = None

    @property
    def label(self) -> str:
        return "token" if self.kind == "token" else f"user:{self.name}"


def authenticate(
    authorization: Optional[str],
    tokens: Mapping[str, IssuedToken],
    users: Mapping[str, str],
) -> Optional[Authenticated]:
    """The uploader behind an ``Authorization`` header, or None when it proves nobody.

    Tokens come as ``token``/``bearer`` or as Basic ``__token__:<token>``; accounts as
    Basic ``name:password``.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme in ("token", "bearer"):
        token = tokens.get(value)
        return Authenticated("token", "__token__", token) if token else None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    if username == "__token__":
        token = tokens.get(password)
        return Authenticated("token", username, token) if token else None
    expected = users.get(username)
    if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
        return Authenticated("user", username)
    return None
