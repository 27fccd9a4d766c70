"""The legacy upload API: the form, the streamed multipart body, and what the answer means.

The form is field for field what twine sends for the same file (a test compares them): the
index stores the *form's* metadata, so any difference would change what users see on PyPI.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import TYPE_CHECKING, Callable
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, StrictStr

from trusted_publish.errors import UploadError
from trusted_publish.http import transport
from trusted_publish.http.answers import ProtocolError, read_json
from trusted_publish.http.policy import sanitize_url
from trusted_publish.http.transport import (
    GaveUp,
    Reply,
    Retryable,
    RetryPolicy,
    announce,
    raise_for_retry,
    with_retries,
)
from trusted_publish.index.refusals import upload_refusal_fix

if TYPE_CHECKING:
    import requests

    from trusted_publish.dists.discover import Distribution

#: Core-metadata keys (packaging's RawMetadata names) → upload form field names. As
#: warehouse's forklift reads them; three are singular where the metadata key is plural.
_FORM_NAMES = {
    "metadata_version": "metadata_version",
    "name": "name",
    "version": "version",
    "platforms": "platform",
    "summary": "summary",
    "description": "description",
    "keywords": "keywords",
    "home_page": "home_page",
    "author": "author",
    "author_email": "author_email",
    "license": "license",
    "supported_platforms": "supported_platform",
    "download_url": "download_url",
    "classifiers": "classifiers",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_python": "requires_python",
    "requires_external": "requires_external",
    "project_urls": "project_urls",
    "description_content_type": "description_content_type",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_expression": "license_expression",
    "license_files": "license_file",
}

_CHUNK = 1024 * 1024


def safe_name(name: str) -> str:
    """The project name as twine (after pkg_resources) sends it: runs of odd characters → '-'."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name)


def form_fields(dist: Distribution, attestations: str | None = None) -> list[tuple[str, str]]:
    """The upload form's text fields for `dist`, in twine's order, without the file.

    `attestations` is the `attestations` field's value: the JSON array of the file's PEP 740
    attestation objects (see `attest.form_value`), or None to send no such field.
    """
    # In the order of the core-metadata spec, not the parser's: packaging's parse_email
    # walks a frozenset, so its order (and hence twine's) changes from run to run.
    raw: dict[str, object] = dict(dist.metadata)
    data: dict[str, object] = {
        form_name: raw[key] for key, form_name in _FORM_NAMES.items() if key in raw
    }
    data["name"] = safe_name(dist.name)
    data["pyversion"] = dist.pyversion
    data["filetype"] = dist.filetype
    data["sha256_digest"] = dist.sha256
    if attestations is not None:
        data["attestations"] = attestations  # where twine puts it: between the two digests
    data["blake2_256_digest"] = dist.blake2_256
    fields: list[tuple[str, str]] = []
    for key, value in data.items():
        if key == "project_urls" and isinstance(value, dict):
            fields.extend((key, f"{label}, {url}") for label, url in value.items())
        elif key == "keywords" and isinstance(value, list):
            fields.append((key, ", ".join(value)))
        elif isinstance(value, (list, tuple)):
            fields.extend((key, str(item)) for item in value)
        else:
            fields.append((key, str(value)))
    fields.append((":action", "file_upload"))
    fields.append(("protocol_version", "1"))
    return fields


Progress = Callable[[int], None]


class MultipartBody:
    """A multipart/form-data body produced as the socket takes it, with a known length.

    requests sends an object that has `__len__` and `__iter__` with a Content-Length and
    without buffering, so memory stays flat whatever the file's size. Iterating again starts
    over (re-opening the file), which is what a retry needs.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        dist: Distribution,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        self._dist = dist
        self._progress = progress
        head = b"".join(
            self._part_header(name) + value.encode() + b"\r\n" for name, value in fields
        )
        head += self._part_header(
            "content",
            f'; filename="{_quote(dist.filename)}"',
            "Content-Type: application/octet-stream\r\n",
        )
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._dist.size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        sent = 0
        try:
            fh = self._dist.path.open("rb")
        except OSError as exc:
            # Not an OSError any more: urllib3 would call that a broken connection, and a
            # retry can't bring the file back.
            raise UploadError(
                f"{self._dist.filename} vanished after it was checked ({exc.strerror or exc})",
                fix="Another step removed or replaced the file while this one ran: keep "
                "the packages folder unchanged until the publish step ends, then re-run it.",
            ) from None
        with fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                sent += len(chunk)
                if sent > self._dist.size:
                    # The file grew since it was hashed: what we would send is not what was
                    # checked, and the Content-Length would lie.
                    raise UploadError(f"{self._dist.filename} changed while it was uploaded")
                yield chunk
                if self._progress:
                    self._progress(sent)
        if sent != self._dist.size:
            raise UploadError(f"{self._dist.filename} changed while it was uploaded")
        yield self._tail

    def _part_header(self, name: str, extra: str = "", headers: str = "") -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_quote(name)}"{extra}\r\n'
            f"{headers}\r\n"
        ).encode()


def _quote(value: str) -> str:
    # Form field names are ours and dist file names are ASCII; escape quotes all the same.
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Outcome(Enum):
    UPLOADED = "uploaded"
    EXISTS = "exists"
    """The index already has a file of that name (maybe other bytes: the caller decides)."""


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int
    message: str


def send(
    session: requests.Session,
    url: str,
    dist: Distribution,
    current_auth: Callable[[], tuple[str, str]],
    *,
    policy: RetryPolicy | None = None,
    progress: Progress | None = None,
    on_retry: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    attestations: str | None = None,
) -> Answer:
    """Upload one file, retrying what may succeed on another try.

    Connection failures, timeouts, 5xx and 429 are retried with back-off (a retried upload
    is safe: PyPI accepts an identical file again with 200); any other answer is final.
    `current_auth` is called before every attempt for the (user, password) to send, so a
    retry never uses an expired token.
    `attestations`, when given, goes with every attempt as the form's `attestations` field.
    """
    policy = policy or RetryPolicy()

    def attempt(seconds_left: float) -> Answer:
        return _attempt(
            session,
            url,
            dist,
            current_auth(),
            progress,
            # The wait for the answer ends with the file's time (`retry-timeout`), but is
            # never shorter than one request's deadline: a file always gets a fair answer.
            answer_seconds=max(seconds_left, policy.request_seconds),
            attestations=attestations,
        )

    try:
        return with_retries(
            policy,
            attempt,
            on_retry=announce(on_retry, dist.filename, policy),
            clock=clock,
            sleep=sleep,
        )
    except GaveUp as exc:
        if exc.never_opened is not None:
            raise not_sent(dist, url, exc.never_opened, exc) from None
        error = UploadError(
            f"Uploading {dist.filename} to {sanitize_url(url)} failed after {exc.tries} "
            f"in {exc.seconds:.0f} s: {exc.reason}.",
            fix="The index is unreachable or overloaded: re-run the job later "
            "(files already uploaded are recognised by their hash and skipped).",
        )
        # The body may have reached the index with the answer lost: not known to be absent.
        error.maybe_landed = True
        raise error from None


def not_sent(
    dist: Distribution, url: str, why: transport.NotOpened, gave_up: GaveUp
) -> UploadError:
    """No connection ever opened for `dist`: nothing was sent, and the fix is the URL (not a
    later re-run: a host that does not resolve now will not resolve then)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    tried = f"{gave_up.tries} in {gave_up.seconds:.0f} s"
    if not why.resolved:
        error = UploadError(
            f"{dist.filename} was not sent: the host {host} in `repository-url` does not "
            f"resolve: check the URL ({tried}).",
            fix=f"Correct the host name in `repository-url` ({sanitize_url(url)}). No "
            "connection was opened, so nothing reached any index.",
        )
    else:
        error = UploadError(
            f"{dist.filename} was not sent: {host} refused the connection to port "
            f"{_port(parts)} ({tried}).",
            fix=f"Check the host and port in `repository-url` ({sanitize_url(url)}), and "
            "that the index runs there. No connection was opened, so nothing reached it.",
        )
    error.never_sent = True
    return error


def _port(parts: SplitResult) -> str:
    try:
        port = parts.port
    except ValueError:
        port = None
    return str(port or (443 if parts.scheme == "https" else 80))


def _attempt(
    session: requests.Session,
    url: str,
    dist: Distribution,
    auth: tuple[str, str],
    progress: Progress | None,
    *,
    answer_seconds: float,
    attestations: str | None = None,
) -> Answer:
    body = MultipartBody(form_fields(dist, attestations), dist, progress=progress)
    try:
        resp = transport.request(
            session,
            "POST",
            url,
            what=f"the upload of {dist.filename}",
            cap=transport.UPLOAD_ANSWER_CAP,
            seconds=answer_seconds,
            from_answer=True,
            data=body,
            headers={"Content-Type": body.content_type},
            auth=auth,
        )
    except transport.TransportFailed as exc:
        # Connection refused, reset mid-body, timed out: nothing final was said.
        raise Retryable.failed(exc) from None
    except transport.RequestFailed as exc:  # too large, or a malformed answer
        error = UploadError(
            f"{sanitize_url(url)}: {exc.reason}; whether {dist.filename} landed is unknown.",
            fix="Look at the index's page for the release; re-run the job to upload what "
            "is missing (files already there are recognised by their hash and skipped).",
        )
        error.maybe_landed = True
        raise error from None
    message = server_message(resp)
    status = resp.status_code
    if status in (200, 201):
        return Answer(Outcome.UPLOADED, status, message)
    raise_for_retry(resp, message)
    if _already_exists(status, message):
        return Answer(Outcome.EXISTS, status, message)
    if 300 <= status < 400:
        where = sanitize_url(resp.headers.get("Location", "")) or "another URL"
        raise UploadError(
            f"{sanitize_url(url)} answered HTTP {status}, a redirect to {where}. "
            "Redirects are not followed on upload: they would carry your credentials along.",
            fix=f"Set `repository-url` to {where} if that is the index's upload URL.",
        )
    raise UploadError(
        f"{sanitize_url(url)} refused {dist.filename}: HTTP {status} {message}".rstrip(),
        fix=upload_refusal_fix(status, message, dist.name),
    )


def _already_exists(status: int, message: str) -> bool:
    # PyPI: 400 "File already exists"; pypiserver: 409 Conflict; devpi: 409 "... already exists".
    if status == 409:
        return True
    return status == 400 and "already exists" in message.lower()


_TAG = re.compile(r"<[^>]+>")


class _UploadAnswer(BaseModel):
    """An index's JSON answer to an upload (warehouse answers a sentence in `message`)."""

    model_config = ConfigDict(extra="ignore")

    message: StrictStr


def server_message(resp: Reply) -> str:
    """The upload answer's one reader: what the index said, as text (its JSON `message`, a
    non-standard reason phrase, or the body's text, tags taken out, 500 characters at most).
    Any body at all gives a text."""
    try:
        return read_json(resp.content, _UploadAnswer, what="the upload").message
    except ProtocolError:
        pass  # not JSON, or no message in it: the reason phrase or the text says it
    reason = (resp.reason or "").strip()
    try:
        standard = HTTPStatus(resp.status_code).phrase
    except ValueError:
        standard = ""
    # PyPI puts its message in the reason phrase (HTTP/1.1); a standard phrase says nothing.
    if reason and reason.lower() != standard.lower():
        return reason
    text = html.unescape(_TAG.sub(" ", resp.text or ""))
    text = " ".join(text.split())
    return text[:500] or reason
