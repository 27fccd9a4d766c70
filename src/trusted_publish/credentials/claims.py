"""Reading a CI's OIDC token (a JWT) for diagnostics: its claims, which kind of trusted
publisher PyPI matches them against, and the publisher it would need, shown the same way for
every kind (each CI's module says which claims and fields are its own). The index verifies
the token; we only read it to tell the user what the index saw, and never print the token
itself.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from trusted_publish.index.target import Index


#: A compact JWS (RFC 7515, 7.1): three base64url segments, the signature maybe empty.
_JWT = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*")


def is_jwt(text: str) -> bool:
    """Whether `text` has a JWT's shape: what a token service's answer must hold."""
    return _JWT.fullmatch(text) is not None


def unverified_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, decoded without checking the signature: for diagnostics only.
    Whatever the token holds, a dict (empty when there is no payload to read)."""
    from trusted_publish.http.answers import ProtocolError, decode_json

    try:
        payload = token.split(".")[1]
        padded = payload + "=" * (-len(payload) % 4)
        claims = decode_json(base64.urlsafe_b64decode(padded), what="the token")
    except (IndexError, ValueError, ProtocolError):  # binascii.Error is a ValueError
        return {}
    return claims if isinstance(claims, dict) else {}


def publisher_kind(claims: Mapping[str, Any]) -> str:
    """Which kind of publisher PyPI matches these claims against: `github`, `gitlab` or
    `google`, told by the claims each CI's tokens carry (a self-managed GitLab has its own
    issuer URL, so the issuer alone can't tell)."""
    if "project_path" in claims or "ci_config_ref_uri" in claims:
        return "gitlab"
    if "email" in claims and "repository" not in claims:
        return "google"
    return "github"


def publisher_lines(
    token: str,
    fields: Sequence[tuple[str, str]],
    index: Index,
    projects: Sequence[str],
    form_url: Callable[[str], str],
) -> list[str]:
    """What a refused exchange shows of the publisher PyPI would need, for every kind: the
    table of its fields (read off `token`'s claims), a link per project to PyPI's form
    filled in (`form_url(form)`), and where a pending publisher is made."""
    width = max(len(name) for name, _ in fields) + 2
    lines = [f"What the index's trusted publisher must say (from this {token}):"]
    lines.extend(f"    {name:<{width}}{value}" for name, value in fields)
    for project in projects:
        form = index.publisher_form_url(project)
        if form:
            lines.append(f"Add it for {project}: {form_url(form)}")
    if index.pending_publisher_url:
        lines.append(
            "(A project that does not exist yet needs a pending publisher: "
            f"{index.pending_publisher_url})"
        )
    return lines
