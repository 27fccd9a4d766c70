"""Receiving an upload body: form fields in memory, the file streamed to disk and hashed.

PyPI reads the whole request before it answers (an auth or size refusal only arrives
after the last byte), so the sandbox does too; but it never holds the file in memory,
and it stops writing it to disk once it is past the size limit (it keeps counting).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Optional, Protocol

from .multipart import MultipartError, MultipartParser, PartHeaders, PartSink

__all__ = ["ContentPart", "Readable", "UploadBody", "read_upload_body"]

CHUNK = 64 * 1024
# Form fields are metadata: a long README is a few hundred KiB; 32 MiB in all is far
# beyond any real upload and bounds what a hostile body can make the server hold.
MAX_FIELDS_BYTES = 32 * 1024 * 1024


@dataclass
class ContentPart:
    """The ``content`` file part as received."""

    filename: str
    content_type: Optional[str]
    path: Path
    size: int = 0
    complete: bool = True  # False when the write stopped at the size limit
    md5: str = ""
    sha256: str = ""
    blake2_256: str = ""


@dataclass
class UploadBody:
    fields: list[tuple[str, str]] = field(default_factory=list)
    file_field_names: list[str] = field(default_factory=list)
    content: Optional[ContentPart] = None
    bytes_received: int = 0
    error: Optional[str] = None  # set when the body is not valid multipart
    disconnected: bool = False  # the client went away before Content-Length bytes

    def discard(self) -> None:
        if self.content is not None:
            self.content.path.unlink(missing_ok=True)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _FieldSink:
    def __init__(self, body: UploadBody, name: str, budget: list[int]) -> None:
        self._body = body
        self._name = name
        self._budget = budget
        self._data = bytearray()

    def write(self, data: bytes) -> None:
        self._budget[0] -= len(data)
        if self._budget[0] < 0:
            raise MultipartError("form fields too large")
        self._data += data

    def close(self) -> None:
        self._body.fields.append((self._name, self._data.decode("utf-8", "replace")))


class _NullSink:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _ContentSink:
    def __init__(self, part: ContentPart, write_limit: int) -> None:
        self._part = part
        self._limit = write_limit
        self._handle: Optional[BinaryIO] = part.path.open("wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._blake2 = hashlib.blake2b(digest_size=32)

    def write(self, data: bytes) -> None:
        part = self._part
        part.size += len(data)
        if self._handle is None:
            return
        if part.size > self._limit:
            # Past the limit the file is refused anyway; stop spending disk on it.
            self._handle.close()
            self._handle = None
            part.complete = False
            part.path.unlink(missing_ok=True)
            return
        self._handle.write(data)
        self._md5.update(data)
        self._sha256.update(data)
        self._blake2.update(data)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._part.complete:
            self._part.md5 = self._md5.hexdigest()
            self._part.sha256 = self._sha256.hexdigest()
            self._part.blake2_256 = self._blake2.hexdigest()


def read_upload_body(
    rfile: Readable,
    content_length: int,
    boundary: Optional[bytes],
    incoming_dir: Path,
    write_limit: int,
) -> UploadBody:
    """Read exactly ``content_length`` bytes, parsing them as multipart when possible.

    ``boundary`` None (not multipart) still drains the body so that the connection
    stays usable and the client gets its answer, as PyPI's would.
    """
    body = UploadBody()
    budget = [MAX_FIELDS_BYTES]

    def open_part(headers: PartHeaders) -> PartSink:
        if headers.filename is None:
            return _FieldSink(body, headers.name, budget)
        if headers.name == "content" and body.content is None:
            body.content = ContentPart(
                filename=headers.filename,
                content_type=headers.content_type,
                path=incoming_dir / uuid.uuid4().hex,
            )
            return _ContentSink(body.content, write_limit)
        # A second file part is only noted: PyPI refuses it by name ("Should not be a
        # tuple") and nothing of it is kept.
        body.file_field_names.append(headers.name)
        return _NullSink()

    parser = MultipartParser(boundary, open_part) if boundary is not None else None
    if boundary is None:
        body.error = "Content-Type must be multipart/form-data"
    remaining = content_length
    while remaining > 0:
        try:
            chunk = rfile.read(min(CHUNK, remaining))
        except OSError:
            chunk = b""
        if not chunk:
            body.disconnected = True
            break
        remaining -= len(chunk)
        body.bytes_received += len(chunk)
        if parser is not None and body.error is None:
            try:
                parser.feed(chunk)
            except MultipartError as exc:
                body.error = str(exc)
                parser.abort()
    if parser is not None and body.disconnected:
        parser.abort()
    if parser is not None and body.error is None and not body.disconnected:
        try:
            parser.close()
        except MultipartError as exc:
            body.error = str(exc)
    return body
