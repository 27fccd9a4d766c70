"""A PyPI API token read offline: what it is scoped to, and until when, before it is sent.

PyPI's API tokens are `pypi-` followed by a macaroon in pymacaroons' version 2 binary
format, base64url without padding (warehouse/macaroons/services.py, `create_macaroon`). Its
caveats are JSON, as warehouse/macaroons/caveats/ reads them: `[tag, ...fields]` with tag 0
`Expiration(expires_at, not_before)`, 1 `ProjectName(normalized_names)`, 2
`ProjectID(project_ids)`, 3 `RequestUser(user_id)`, 4 `OIDCProvider(oidc_provider_id)`, or a
legacy object (`_legacy.adapt`): `{"version": 1, "permissions": "user" | {"projects": [...]}}`,
`{"exp", "nbf"}`, `{"project_ids"}`.

The signature can't be checked without PyPI's key: a token that reads well may still be
refused. `read` is the one boundary: any string, however malformed, becomes a `Reading`
(bounded: the token, the caveats and their number are capped), never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

from packaging.utils import canonicalize_name

from trusted_publish.errors import CredentialError

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

PREFIX = "pypi-"
#: Far above any real token (a few hundred bytes): a bigger one is not read at all.
MAX_TOKEN = 64 * 1024
MAX_CAVEATS = 64

# pymacaroons' v2 binary format: a field is a type, a length and the bytes; EOS ends a
# section (the header, each caveat, the caveat list).
_EOS, _LOCATION, _IDENTIFIER, _VID, _SIGNATURE = 0, 1, 2, 4, 6


class Kind(Enum):
    NOT_PYPI = "not a PyPI API token (no pypi- prefix)"
    UNREADABLE = "a pypi- token this tool can't read"
    READ = "read"


@dataclass(frozen=True)
class Reading:
    """What a token says of itself (nothing here is a secret: the signature is not kept)."""

    kind: Kind
    why: str = ""
    """For UNREADABLE: what could not be read."""
    location: str = ""
    projects: Optional[frozenset[str]] = None
    """Normalized names it is scoped to (None: not scoped by name)."""
    project_ids: bool = False
    """Scoped by project ID, which only PyPI can map to names."""
    expires_at: Optional[int] = None
    not_before: Optional[int] = None
    user_scoped: bool = False
    other: tuple[str, ...] = field(default_factory=tuple)
    """Caveats this tool reads but can't check offline (OIDC provider...)."""


class _Bad(Exception):
    """The token's bytes are not a macaroon as warehouse writes them."""


def read(token: str) -> Reading:
    """The token, read without a network; every input gives a `Reading`."""
    try:
        return _read(token)
    except _Bad as exc:
        return Reading(Kind.UNREADABLE, why=str(exc))
    except (ValueError, TypeError, RecursionError, UnicodeError, OverflowError):
        return Reading(Kind.UNREADABLE, why="its caveats are not what PyPI writes")


def _read(token: str) -> Reading:
    token = token.strip()
    if not token.startswith(PREFIX):
        return Reading(Kind.NOT_PYPI)
    if len(token) > MAX_TOKEN:
        raise _Bad("it is far longer than any PyPI token")
    body = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise _Bad("it is not base64") from None
    location, caveats = _macaroon(raw)
    reading: dict[str, Any] = {"location": location}
    other: list[str] = []
    for predicate in caveats:
        _caveat(predicate, reading, other)
    return Reading(Kind.READ, other=tuple(other), **reading)


def _macaroon(raw: bytes) -> tuple[str, list[bytes]]:
    """(location, first-party caveat predicates) of a v2 binary macaroon."""
    if raw[:1] != b"\x02":
        raise _Bad("it is not a version 2 macaroon")
    pos = 1
    header, pos = _section(raw, pos)
    if _IDENTIFIER not in header:
        raise _Bad("it has no identifier")
    caveats: list[bytes] = []
    while True:
        if pos >= len(raw):
            raise _Bad("it ends inside its caveats")
        if raw[pos] == _EOS:
            pos += 1
            break
        if len(caveats) >= MAX_CAVEATS:
            raise _Bad(f"it has more than {MAX_CAVEATS} caveats")
        section, pos = _section(raw, pos)
        if _IDENTIFIER not in section:
            raise _Bad("a caveat has no predicate")
        if _VID not in section:  # a third-party caveat: PyPI makes none
            caveats.append(section[_IDENTIFIER])
    kind, pos = _varint(raw, pos)
    length, pos = _varint(raw, pos)
    if kind != _SIGNATURE or length != 32 or pos + length != len(raw):
        raise _Bad("its signature is not where a macaroon has it")
    try:
        location = header.get(_LOCATION, b"").decode("utf-8")
    except UnicodeDecodeError:
        raise _Bad("its location is not text") from None
    return location, caveats


def _section(raw: bytes, pos: int) -> tuple[dict[int, bytes], int]:
    fields: dict[int, bytes] = {}
    while True:
        kind, pos = _varint(raw, pos)
        if kind == _EOS:
            return fields, pos
        if kind in fields or kind not in (_LOCATION, _IDENTIFIER, _VID):
            raise _Bad("a field is repeated or unknown")
        length, pos = _varint(raw, pos)
        if pos + length > len(raw):
            raise _Bad("a field runs past its end")
        fields[kind] = raw[pos : pos + length]
        pos += length


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(5):  # lengths here fit in 4 bytes; more is not a token
        if pos >= len(raw):
            raise _Bad("it ends inside a field")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise _Bad("a field length is too long")


def _caveat(predicate: bytes, reading: dict[str, Any], other: list[str]) -> None:
    """One caveat into `reading`, as warehouse's `deserialize_obj` reads it."""
    data = json.loads(predicate.decode("utf-8"))
    if isinstance(data, dict):
        data = _legacy(data)
    if not isinstance(data, list) or not data or not isinstance(data[0], int):
        raise _Bad("a caveat is not one PyPI writes")
    tag, fields = data[0], data[1:]
    if tag == 0 and len(fields) >= 2 and all(_is_int(f) for f in fields[:2]):
        reading["expires_at"], reading["not_before"] = fields[0], fields[1]
    elif tag == 1 and fields and _strings(fields[0]):
        names = frozenset(canonicalize_name(n) for n in fields[0])
        known = reading.get("projects")
        reading["projects"] = names if known is None else known & names
    elif tag == 2 and fields and _strings(fields[0]):
        reading["project_ids"] = True
    elif tag == 3 and fields and isinstance(fields[0], str):
        reading["user_scoped"] = True
    elif tag == 4 and fields and isinstance(fields[0], str):
        other.append("an OIDC publisher")
    else:
        raise _Bad(f"a caveat has an unknown tag or fields ({tag})")


def _legacy(data: dict[str, Any]) -> Any:
    """warehouse/macaroons/caveats/_legacy.py `adapt`: old caveats as new ones."""
    if data.get("version") == 1:
        permissions = data.get("permissions")
        if permissions == "user":
            return [3, "the token's user"]
        if isinstance(permissions, dict) and "projects" in permissions:
            return [1, permissions["projects"]]
        return None
    if "exp" in data and "nbf" in data:
        return [0, data["exp"], data["nbf"]]
    if "project_ids" in data:
        return [2, data["project_ids"]]
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def problems(reading: Reading, projects: Sequence[str], index: Index, now: float) -> list[str]:
    """Why PyPI would refuse this token for these projects, as far as it can be told offline
    (warehouse's texts where it has them)."""
    found: list[str] = []
    if reading.expires_at is not None and now >= reading.expires_at:
        found.append(f"token is expired (since {_when(reading.expires_at)})")
    if reading.not_before is not None and now < reading.not_before:
        found.append(f"token is not valid yet (from {_when(reading.not_before)})")
    if reading.projects is not None:
        for project in projects:
            if canonicalize_name(project) not in reading.projects:
                found.append(f"project-scoped token is not valid for project: {project!r}")
    host = index.web_url.split("://", 1)[-1]
    if index.pypi_deployment and reading.location and reading.location != host:
        found.append(f"the token was made by {reading.location}, and this run uploads to {host}")
    return found


def _when(epoch: int) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return str(epoch)


def check_before_sending(
    password: str,
    *,
    index: Index,
    projects: Sequence[str],
    console: Console,
    dry_run: bool,
) -> None:
    """Refuse, before anything is sent, a PyPI API token that can't upload these projects;
    say plainly what was not checked. `CredentialError` names the problems."""
    reading = read(password)
    if reading.kind is Kind.NOT_PYPI:
        if dry_run:
            console.notice(
                f"The password for {index.name} was not checked: only PyPI API tokens "
                "(pypi-...) can be read offline, and a dry run sends nothing to upload."
            )
        return
    if reading.kind is Kind.UNREADABLE:
        console.notice(
            f"The API token could not be read offline ({reading.why}): it is unchecked "
            "until the index answers the first upload."
        )
        return
    found = problems(reading, projects, index, time.time())
    if found:
        raise CredentialError(
            "Nothing was uploaded: the API token can't upload this release, as it reads offline:",
            details=found,
            fix="Make a token on the index (Account settings, API tokens) scoped to these "
            "projects (or the whole account) and unexpired, and pass it as the password; or "
            "remove the password to publish with trusted publishing.",
        )
    if dry_run:
        scope = (
            "projects " + ", ".join(sorted(reading.projects))
            if reading.projects is not None
            else "projects by ID (not checked offline)"
            if reading.project_ids
            else "the whole account"
        )
        until = f", until {_when(reading.expires_at)}" if reading.expires_at else ""
        console.info(
            f"The API token reads as scoped to {scope}{until}: it fits this release "
            "(checked offline; only the index can check its signature)."
        )
