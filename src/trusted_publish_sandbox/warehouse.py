"""The PyPI side of the sandbox: its state behind one lock, the upload view and its records.

``Warehouse.process_upload`` runs the checks of warehouse's ``file_upload`` view
(``warehouse/forklift/legacy.py``) in the same order, with the same status codes and texts
(see checks.py), so that a client meets here the refusals it would meet on pypi.org. State
changes only once every check passed, as PyPI's database transaction is rolled back on any
refusal. Every request to the upload URL is recorded as an ``UploadAttempt``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.utils import canonicalize_name, canonicalize_version

from . import pages
from .auth import Authenticated, IssuedToken, authenticate
from .body import Readable, UploadBody, read_upload_body
from .checks import (
    MAX_FILE_SIZE,
    MAX_PROJECT_SIZE,
    check_archive,
    check_content,
    check_release_rules,
    check_request,
    check_token,
    check_upload_attestations,
    is_duplicate,
    resolve_project,
)
from .form import UploadForm, form_error, parse_form_metadata
from .multipart import MultipartError, boundary_from_content_type
from .refusal import Refusal, bad
from .storage import Storage, StoredFile, listed

__all__ = ["LEGACY_REDIRECT_TEXT", "UploadAttempt", "UploadResult", "Warehouse"]

LEGACY_REDIRECT_TEXT = (
    "An upload was attempted to /legacy but the expected upload URL is "
    "/legacy/ (with a trailing slash)"
)


@dataclass(frozen=True)
class UploadAttempt:
    """One POST to the upload endpoint: what came in and what the index answered.

    ``status`` 0 means the client went away before the body was complete.
    """

    path: str
    status: int
    message: str
    filename: Optional[str]
    project: Optional[str]
    version: Optional[str]
    bytes_received: int
    identity: Optional[str]  # "token", "user:<name>" or None


@dataclass(frozen=True)
class UploadResult:
    status: int
    message: str
    project: Optional[str] = None
    version: Optional[str] = None
    filename: Optional[str] = None
    identity: Optional[str] = None


class Warehouse:
    """All PyPI state of a sandbox; every public method takes the shared lock."""

    def __init__(
        self,
        lock: threading.RLock,
        *,
        users: Optional[Mapping[str, str]] = None,
        max_file_size: int = MAX_FILE_SIZE,
        max_project_size: int = MAX_PROJECT_SIZE,
    ) -> None:
        self.lock = lock
        self.users: dict[str, str] = dict(users or {})
        self.max_file_size = max_file_size
        self.max_project_size = max_project_size
        self.tokens: dict[str, IssuedToken] = {}
        self.upload_attempts: list[UploadAttempt] = []
        self._storage = Storage()

    # -- storage ---------------------------------------------------------------------

    def attach_storage(self, storage_dir: Path) -> None:
        with self.lock:
            self._storage.attach(storage_dir)

    @property
    def incoming_dir(self) -> Path:
        return self._storage.incoming_dir

    # -- projects --------------------------------------------------------------------

    def has_project(self, name: str) -> bool:
        with self.lock:
            return self._storage.project(name) is not None

    def ensure_project(self, name: str) -> None:
        """Register an (empty) project, as a maintainer creating it on PyPI would."""
        with self.lock:
            self._storage.ensure_project(name)

    def project_names(self) -> list[str]:
        with self.lock:
            return sorted(p.name for p in self._storage.projects.values())

    def files(self, project: str) -> list[StoredFile]:
        with self.lock:
            return self._storage.files(project)

    def set_release_age(self, project: str, version: str, days: float) -> None:
        with self.lock:
            self._storage.release(project, version).created = time.time() - days * 86400

    def delete_file(self, filename: str) -> None:
        """Delete a file; its name stays burnt, as on PyPI."""
        with self.lock:
            self._storage.delete_file(filename)

    def alter_file(self, filename: str) -> None:
        """Change a stored file's bytes (the ``alter`` upload fault)."""
        with self.lock:
            self._storage.alter_file(filename)

    # -- tokens ----------------------------------------------------------------------

    def issue_token(self, token: IssuedToken) -> None:
        with self.lock:
            self.tokens[token.token] = token

    def revoke_token(self, token: str) -> bool:
        """Forget a token; True when it was known."""
        with self.lock:
            return self.tokens.pop(token, None) is not None

    # -- receiving uploads -----------------------------------------------------------

    def refuse_unsized_upload(self) -> None:
        """Note an upload without Content-Length (or chunked), which is answered 411."""
        self._record(UploadAttempt("/legacy/", 411, "Length Required", None, None, None, 0, None))

    def note_redirected_upload(self, received: int) -> None:
        """Note an upload to ``/legacy`` (no slash), which is answered 308."""
        self._record(
            UploadAttempt("/legacy", 308, LEGACY_REDIRECT_TEXT, None, None, None, received, None)
        )

    def receive_upload(
        self,
        rfile: Readable,
        length: int,
        content_type: Optional[str],
        authorization: Optional[str],
    ) -> Optional[UploadResult]:
        """Read one upload body and answer it; None when the client went away mid-body."""
        body = self._read_body(rfile, length, content_type, self.max_file_size)
        if body.disconnected:
            body.discard()
            self._record(
                UploadAttempt(
                    path="/legacy/",
                    status=0,
                    message="client disconnected before the end of the body",
                    filename=body.content.filename if body.content else None,
                    project=dict(body.fields).get("name"),
                    version=dict(body.fields).get("version"),
                    bytes_received=body.bytes_received,
                    identity=None,
                )
            )
            return None
        result = self.process_upload(body, authorization)
        self._record(
            UploadAttempt(
                path="/legacy/",
                status=result.status,
                message=result.message if result.status != 200 else "OK",
                filename=result.filename,
                project=result.project,
                version=result.version,
                bytes_received=body.bytes_received,
                identity=result.identity,
            )
        )
        return result

    def receive_failed_upload(
        self, rfile: Readable, length: int, content_type: Optional[str], status: int, reason: str
    ) -> bool:
        """Read an upload that an injected failure answers; True when the client went away.

        The body is parsed only to note what was sent; the file is not kept (limit 0).
        """
        body = self._read_body(rfile, length, content_type, 0)
        body.discard()
        fields = dict(reversed(body.fields))
        self._record(
            UploadAttempt(
                path="/legacy/",
                status=status,
                message=reason,
                filename=body.content.filename if body.content else None,
                project=fields.get("name"),
                version=fields.get("version"),
                bytes_received=body.bytes_received,
                identity=None,
            )
        )
        return body.disconnected

    def _read_body(
        self, rfile: Readable, length: int, content_type: Optional[str], write_limit: int
    ) -> UploadBody:
        # Read without the lock: a slow client must not stall the other requests.
        try:
            boundary: Optional[bytes] = boundary_from_content_type(content_type)
        except MultipartError:
            boundary = None
        return read_upload_body(rfile, length, boundary, self.incoming_dir, write_limit)

    def _record(self, attempt: UploadAttempt) -> None:
        with self.lock:
            self.upload_attempts.append(attempt)

    # -- the upload view -------------------------------------------------------------

    def process_upload(self, body: UploadBody, authorization: Optional[str]) -> UploadResult:
        """Answer one upload whose body has been fully received."""
        with self.lock:
            uploader = authenticate(authorization, self.tokens, self.users)
            form = UploadForm(body.fields)
            context: dict[str, Optional[str]] = {
                "filename": body.content.filename if body.content else None,
                "project": form.get("name"),
                "version": form.get("version"),
            }
            try:
                message = self._upload(body, form, uploader, context)
                status = 200
            except Refusal as refusal:
                status, message = refusal.status, refusal.message
            finally:
                body.discard()
            return UploadResult(
                status=status,
                message=message,
                project=context["project"],
                version=context["version"],
                filename=context["filename"],
                identity=uploader.label if uploader else None,
            )

    def _upload(
        self,
        body: UploadBody,
        form: UploadForm,
        uploader: Optional[Authenticated],
        context: dict[str, Optional[str]],
    ) -> str:
        uploader = check_request(body, form, uploader)
        error = form_error(form)
        if error is not None:
            raise bad(error)
        meta = parse_form_metadata(form)
        content = body.content
        if content is None:
            raise bad("Upload payload does not have a file.")

        project, is_new_project = resolve_project(self._storage, meta, uploader)
        context["project"] = meta.name
        if uploader.token is not None:
            check_token(uploader.token, project)
        canonical = canonicalize_version(meta.version)
        release = project.releases.get(canonical)
        context["version"] = str(meta.version)

        filetype = form.get("filetype") or ""
        check_content(
            content,
            form,
            filetype,
            project,
            meta.name,
            max_file_size=self.max_file_size,
            max_project_size=self.max_project_size,
        )
        if is_duplicate(self._storage, content):
            return ""  # the same file again: PyPI answers 200 and changes nothing
        check_release_rules(self._storage, content.filename, filetype, release)
        file_metadata = check_archive(content, filetype, meta, project, meta.name)

        attestations = form.get("attestations")
        if attestations is not None:
            check_upload_attestations(attestations, uploader, content)

        self._storage.commit(
            project=project,
            is_new_project=is_new_project,
            display_name=meta.name,
            release=release,
            version=str(meta.version),
            canonical=canonical,
            release_metadata=list(form.pairs),
            fields=list(body.fields),
            content=content,
            packagetype=form.get("filetype") or "",
            python_version=form.get("pyversion") or "source",
            requires_python=str(meta.requires_python) if meta.requires_python else None,
            file_metadata=file_metadata if content.filename.endswith(".whl") else None,
            attestations=attestations,
            publisher=uploader.token.identity if uploader.token is not None else None,
        )
        return ""

    # -- reading ---------------------------------------------------------------------

    @property
    def serial(self) -> int:
        return self._storage.serial

    def find_package(self, url_path: str) -> Optional[Path]:
        """The file on disk behind a ``/packages/...`` path (``.metadata`` included)."""
        with self.lock:
            return self._storage.find_package(url_path)

    def canonical_project(self, name: str) -> Optional[str]:
        with self.lock:
            normalized = canonicalize_name(name)
            return normalized if normalized in self._storage.projects else None

    def simple_index(self, json_format: bool) -> tuple[str, str]:
        with self.lock:
            projects = self._storage.projects.values()
            return pages.simple_index(projects, self._storage.serial, json_format)

    def simple_project(
        self, name: str, base_url: str, json_format: bool, lag: float = 0.0
    ) -> tuple[str, str]:
        """``/simple/<name>/``; files newer than ``lag`` seconds are not listed yet."""
        with self.lock:
            project = listed(self._storage.projects[canonicalize_name(name)], lag)
            return pages.simple_project(project, self._storage.serial, base_url, json_format)

    def project_json(
        self, name: str, base_url: str, version: Optional[str] = None, lag: float = 0.0
    ) -> Optional[dict[str, Any]]:
        """The ``/pypi/<project>[/<version>]/json`` document, or None (404)."""
        with self.lock:
            project = self._storage.project(name)
            if project is None:
                return None
            project = listed(project, lag)
            return pages.project_json(project, self._storage.serial, base_url, version)

    def provenance(
        self, name: str, version: str, filename: str, accept: Optional[str], lag: float = 0.0
    ) -> pages.Answer:
        """``/integrity/<name>/<version>/<filename>/provenance`` (see ``pages.provenance``)."""
        with self.lock:
            project = self._storage.project(name)
            return pages.provenance(
                None if project is None else listed(project, lag), version, filename, accept
            )
