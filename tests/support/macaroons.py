"""PyPI API tokens as warehouse makes them: `pypi-` + a pymacaroons v2 binary macaroon,
base64url without padding, with JSON caveats (warehouse/macaroons/caveats/). The signature is
random: only PyPI's key could make a real one, and nothing offline checks it."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from typing import Any


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(kind: int, data: bytes) -> bytes:
    return _varint(kind) + _varint(len(data)) + data


def token(*caveats: Any, location: str = "pypi.org", raw: Sequence[bytes] = ()) -> str:
    """A token with these caveats (each JSON-encoded as warehouse does, or `raw` bytes)."""
    predicates = [
        json.dumps(c, sort_keys=True, separators=(",", ":")).encode() for c in caveats
    ] + list(raw)
    body = b"\x02" + _field(1, location.encode()) + _field(2, os.urandom(16).hex().encode())
    body += b"\x00"
    for predicate in predicates:
        body += _field(2, predicate) + b"\x00"
    body += b"\x00" + _field(6, os.urandom(32))
    return "pypi-" + base64.urlsafe_b64encode(body).decode().rstrip("=")
