"""A small push parser for ``multipart/form-data`` request bodies.

The upload endpoint receives distribution files of up to a gigabyte, so the body is fed in
chunks as it arrives from the socket and each part's bytes are handed to a sink at once:
nothing but one chunk and a boundary's worth of look-behind is ever held in memory. The
``cgi`` module is gone from Python 3.13 and ``email`` buffers whole messages, hence this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Protocol
from urllib.parse import unquote

__all__ = [
    "MultipartError",
    "MultipartParser",
    "PartHeaders",
    "PartSink",
    "boundary_from_content_type",
    "parse_header_params",
]

# A header block larger than this is not a form part any client sends; refusing it bounds
# the memory a hostile body can make the parser hold while it looks for the blank line.
MAX_HEADER_BYTES = 16 * 1024
# RFC 2046 lets a boundary line carry trailing whitespace ("transport padding").
_MAX_PADDING = 1024

_BOUNDARY_RE = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class PartHeaders:
    """What a part says about itself in its headers."""

    name: str
    filename: Optional[str]
    content_type: Optional[str]


class PartSink(Protocol):
    """Receives the bytes of one part, in order, then ``close()``."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``main; key=value; key="quoted \\"value\\""`` into the main value and params.

    Keys are lower-cased. ``key*=charset'lang'percent-encoded`` (RFC 5987/2231) values are
    decoded and win over the plain ``key`` form, as RFC 6266 asks of filename*.
    """
    items: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))

    main = items[0].strip()
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for item in items[1:]:
        key, sep, raw = item.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        raw = raw.strip()
        if key.endswith("*"):
            charset, _, rest = raw.partition("'")
            _lang, _, encoded = rest.partition("'")
            try:
                extended[key[:-1]] = unquote(encoded, encoding=charset or "utf-8")
            except LookupError:
                extended[key[:-1]] = unquote(encoded)
            continue
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key] = raw
    params.update(extended)
    return main, params


def boundary_from_content_type(content_type: Optional[str]) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, or MultipartError."""
    if not content_type:
        raise MultipartError("Content-Type must be multipart/form-data")
    main, params = parse_header_params(content_type)
    if main.lower() != "multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data")
    boundary = params.get("boundary", "")
    if not _BOUNDARY_RE.match(boundary) or boundary.endswith(" "):
        raise MultipartError("multipart/form-data needs a valid boundary parameter")
    return boundary.encode("ascii")


def _parse_part_headers(block: bytes) -> PartHeaders:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        # Old clients send Latin-1 file names; every byte maps, so this cannot fail.
        text = block.decode("latin-1")
    headers: dict[str, str] = {}
    for line in text.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise MultipartError("malformed part header line")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("part without Content-Disposition")
    kind, params = parse_header_params(disposition)
    if kind.lower() != "form-data" or "name" not in params:
        raise MultipartError("part is not form-data with a name")
    return PartHeaders(
        name=params["name"],
        filename=params.get("filename"),
        content_type=headers.get("content-type"),
    )


class MultipartParser:
    """Feed it the body in chunks; it opens a sink per part through ``open_part``."""

    _PREAMBLE = 0
    _AFTER_BOUNDARY = 1
    _HEADERS = 2
    _BODY = 3
    _DONE = 4

    def __init__(self, boundary: bytes, open_part: Callable[[PartHeaders], PartSink]) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._open_part = open_part
        # The first boundary has no CRLF in front of it; adding one lets a single
        # delimiter pattern find every boundary, the first included.
        self._buffer = bytearray(b"\r\n")
        self._state = self._PREAMBLE
        self._sink: Optional[PartSink] = None

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes) -> None:
        if self._state == self._DONE:
            return  # the epilogue is ignored, as RFC 2046 says
        self._buffer += data
        while self._step():
            pass

    def abort(self) -> None:
        """Stop parsing (after an error): close the open part, ignore what follows."""
        self._close_sink()
        self._state = self._DONE
        self._buffer.clear()

    def close(self) -> None:
        """Signal the end of the body; an unfinished body raises MultipartError."""
        if self._state != self._DONE:
            self._close_sink()
            raise MultipartError("the body ended before the closing boundary")

    def _close_sink(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()

    def _step(self) -> bool:
        """Advance the state machine once; False when it needs more bytes."""
        if self._state == self._PREAMBLE:
            return self._step_preamble()
        if self._state == self._AFTER_BOUNDARY:
            return self._step_after_boundary()
        if self._state == self._HEADERS:
            return self._step_headers()
        if self._state == self._BODY:
            return self._step_body()
        return False

    def _step_preamble(self) -> bool:
        buf = self._buffer
        index = buf.find(self._delimiter)
        if index < 0:
            keep = len(self._delimiter) - 1
            if len(buf) > keep:
                del buf[: len(buf) - keep]
            return False
        del buf[: index + len(self._delimiter)]
        self._state = self._AFTER_BOUNDARY
        return True

    def _step_after_boundary(self) -> bool:
        buf = self._buffer
        if len(buf) < 2:
            return False
        if buf[:2] == b"--":
            self._state = self._DONE
            buf.clear()
            return False
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > _MAX_PADDING:
                raise MultipartError("garbage after a boundary")
            return False
        if buf[:end].strip(b" \t"):
            raise MultipartError("garbage after a boundary")
        del buf[: end + 2]
        self._state = self._HEADERS
        return True

    def _step_headers(self) -> bool:
        buf = self._buffer
        if buf[:2] == b"\r\n":
            block = b""
            del buf[:2]
        else:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    raise MultipartError("part headers too large")
                return False
            block = bytes(buf[:end])
            del buf[: end + 4]
        self._sink = self._open_part(_parse_part_headers(block))
        self._state = self._BODY
        return True

    def _step_body(self) -> bool:
        buf = self._buffer
        sink = self._sink
        if sink is None:  # cannot happen: a sink is opened on entering _BODY
            raise MultipartError("no open part")
        index = buf.find(self._delimiter)
        if index >= 0:
            if index:
                sink.write(bytes(buf[:index]))
            del buf[: index + len(self._delimiter)]
            self._close_sink()
            self._state = self._AFTER_BOUNDARY
            return True
        # Hold back what could be the start of a delimiter split across two chunks.
        keep = len(self._delimiter) - 1
        if len(buf) > keep:
            cut = len(buf) - keep
            sink.write(bytes(buf[:cut]))
            del buf[:cut]
        return False
