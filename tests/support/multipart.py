"""A strict ``multipart/form-data`` parser for comparing upload requests byte for byte.

Written by hand rather than with the ``email`` package: the email parser is lenient about
line endings and boundaries, and a parity test wants to see exactly what was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.message import Message
from typing import Union

# A file part is (filename, content, content type); the content type is "" when the part
# carried no Content-Type header, so a missing header stays visible.
FilePart = tuple[str, bytes, str]
FormValue = Union[str, FilePart]
FormField = tuple[str, FormValue]
Headers = Union[Mapping[str, str], Iterable[tuple[str, str]]]

_CRLF = b"\r\n"


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


def header_value(headers: Headers, name: str) -> str | None:
    """Case-insensitive lookup of the first header called ``name``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    for key, value in items:
        if key.lower() == wanted:
            return value
    return None


def _params(header_name: str, value: str) -> Message:
    # email.message.Message parses RFC 2045/2231 parameters (quoting, escapes, name*=...).
    message = Message()
    message[header_name] = value
    return message


def boundary_of(content_type: str) -> str:
    """The ``boundary`` parameter of a ``multipart/form-data`` Content-Type."""
    message = _params("Content-Type", content_type)
    if message.get_content_type() != "multipart/form-data":
        raise MultipartError(f"not multipart/form-data: {content_type!r}")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError(f"no boundary in {content_type!r}")
    return boundary


def _part_headers(raw: bytes) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in raw.split(_CRLF):
        if b"\n" in line or b"\r" in line:
            raise MultipartError(f"bare CR or LF in part header {line!r}")
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise MultipartError(f"malformed part header {line!r}")
        headers.append((name.decode("ascii").strip(), value.decode("utf-8").strip()))
    return headers


def _parse_part(raw: bytes) -> FormField:
    head, sep, content = raw.partition(_CRLF + _CRLF)
    if not sep:
        raise MultipartError(f"part without a blank line after its headers: {raw[:200]!r}")
    headers = _part_headers(head)
    disposition = header_value(headers, "Content-Disposition")
    if disposition is None:
        raise MultipartError(f"part without Content-Disposition: {headers}")
    params = _params("Content-Disposition", disposition)
    if params.get_content_disposition() != "form-data":
        raise MultipartError(f"part is not form-data: {disposition!r}")
    name = params.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise MultipartError(f"part without a (plain) name: {disposition!r}")
    content_type = header_value(headers, "Content-Type") or ""
    filename = params.get_filename()
    if filename is not None:
        return name, (filename, content, content_type)
    charset = _params("Content-Type", content_type).get_content_charset() if content_type else None
    return name, content.decode(charset or "utf-8")


def parse_multipart(headers: Headers, body: bytes) -> list[FormField]:
    """Return the fields of a ``multipart/form-data`` body in the order they were sent.

    Repeated names (``classifiers``, ``requires_dist``...) stay separate entries; text fields
    are ``str``; file parts are ``(filename, bytes, content_type)``. Every delimiter must be
    preceded by CRLF and every header line end in CRLF, as RFC 2046/7578 require; the
    content of a part is returned exactly, including any CR or LF inside it.
    """
    content_type = header_value(headers, "Content-Type")
    if content_type is None:
        raise MultipartError("no Content-Type header")
    delimiter = b"--" + boundary_of(content_type).encode("ascii")

    # Prefixing CRLF lets the first delimiter match like all others, while a preamble
    # (allowed, and ignored) still has to end in CRLF.
    chunks = (_CRLF + body).split(_CRLF + delimiter)
    if len(chunks) < 2:
        raise MultipartError("no boundary delimiter in the body")
    fields: list[FormField] = []
    last = len(chunks) - 1
    for position, chunk in enumerate(chunks[1:], start=1):
        if chunk.startswith(b"--"):
            # Close delimiter; only an epilogue after CRLF (or nothing) may follow.
            rest = chunk[2:].lstrip(b" \t")
            if rest and not rest.startswith(_CRLF):
                raise MultipartError(f"garbage after the close delimiter: {rest[:50]!r}")
            if position != last:
                raise MultipartError("parts after the close delimiter")
            return fields
        # RFC 2046 allows linear whitespace ("transport padding") before the CRLF.
        padded = chunk.lstrip(b" \t")
        if not padded.startswith(_CRLF):
            raise MultipartError(f"delimiter not followed by CRLF: {chunk[:50]!r}")
        fields.append(_parse_part(padded[len(_CRLF) :]))
    raise MultipartError("no close delimiter (--boundary--) at the end of the body")
