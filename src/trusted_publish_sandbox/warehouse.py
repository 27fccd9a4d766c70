"""The PyPI side of the sandbox: its state behind one lock, the upload view and its records.

``Warehouse.process_upload`` runs the checks of warehouse's ``file_upload`` view
(``warehouse/forklift/legacy.py``) in the same order, with the same status codes and texts
(see checks.py), so that a client meets here the refusals it would meet on pypi.org. State
changes only once every check passed, as PyPI's database transaction is rolled back on any
refusal. Every request to the upload URL is recorded as an ``UploadAttempt``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.metadata import Metadata
from packaging.utils import canonicalize_name, canonicalize_version

from trusted_publish.dists.pypi_rules import description

from . import pages
from .auth import Authenticated, IssuedToken, authenticate
from .body import ContentPart, Readable, UploadBody, read_upload_body
from .checks import (
    MAX_FILE_SIZE,
    MAX_PROJECT_SIZE,
    check_digests,
    check_file,
    check_file_part,
    check_project_size,
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


@dataclass
class _Prepared:
    """An upload after the checks that need no state; refusals kept for their turn."""

    uploader: Authenticated
    form: UploadForm
    body: UploadBody
    meta: Metadata
    content: ContentPart
    filetype: str
    readme: Optional[Refusal] = None
    file_part: Optional[Refusal] = None
    digests: Optional[Refusal] = None
    archive: Optional[Refusal] = None
    attestations: Optional[Refusal] = None
    file_metadata: Optional[bytes] = None

    def raise_if(self, *checks: str) -> None:
        """Raise the first kept refusal of ``checks``, in the order given."""
        for check in checks:
            refusal: Optional[Refusal] = getattr(self, check)
            if refusal is not None:
                raise refusal


def _refusal_of(check: Callable[..., object], *args: Any, **kwargs: Any) -> Optional[Refusal]:
    try:
        check(*args, **kwargs)
    except Refusal as refusal:
        return refusal
    return None


@dataclass(frozen=True)
class UploadResult:
    status: int
    message: str
    project: Optional[str] = None
    version: Optional[str] = None
    filename: Optional[str] = None
    identity: Optional[str] = None


class Warehouse:
    """All PyPI state of a sandbox; every public method takes the shared lock to read or
    change it (an upload only for its state checks and its commit)."""

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
        """Backdate a release, and its files with it: their upload times are what PyPI's
        JSON API shows of a release's age."""
        with self.lock:
            release = self._storage.release(project, version)
            release.created = time.time() - days * 86400
            release.files[:] = [
                dataclasses.replace(f, upload_time=min(f.upload_time, release.created))
                for f in release.files
            ]

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
        """Answer one upload whose body has been fully received.

        Every check that reads only the request (the form, the metadata, the README, the
        archive, the attestations) runs first, without the lock, so that inflating a big
        archive never holds up another request; the checks that read the index's state and
        the commit then run under the lock, in warehouse's order, so a refusal found
        early is still raised at the point where PyPI would raise it.
        """
        with self.lock:
            uploader = authenticate(authorization, self.tokens, self.users)
        form = UploadForm(body.fields)
        context: dict[str, Optional[str]] = {
            "filename": body.content.filename if body.content else None,
            "project": form.get("name"),
            "version": form.get("version"),
        }
        try:
            prepared = self._prepare(body, form, uploader)
            with self.lock:
                message = self._commit(prepared, context)
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

    def _prepare(
        self, body: UploadBody, form: UploadForm, uploader: Optional[Authenticated]
    ) -> _Prepared:
        """The checks that need no state: raised now when they come before any state check
        in warehouse's order, otherwise kept to be raised in their place."""
        uploader = check_request(body, form, uploader)
        error = form_error(form)
        if error is not None:
            raise bad(error)
        meta = parse_form_metadata(form)
        content = body.content
        if content is None:
            raise bad("Upload payload does not have a file.")
        filetype = form.get("filetype") or ""
        prepared = _Prepared(uploader, form, body, meta, content, filetype)
        readme = description.refusal(meta.description, meta.description_content_type)
        prepared.readme = None if readme is None else bad(readme)
        prepared.file_part = _refusal_of(
            check_file_part, content, form, filetype, meta.name, max_file_size=self.max_file_size
        )
        if prepared.file_part is None:
            prepared.digests = _refusal_of(check_digests, content, form)
        if prepared.file_part is None and prepared.digests is None:
            try:
                prepared.file_metadata = check_file(content, filetype, meta)
            except Refusal as refusal:
                prepared.archive = refusal
        attestations = form.get("attestations")
        if attestations is not None and prepared.archive is None:
            prepared.attestations = _refusal_of(
                check_upload_attestations, attestations, uploader, content
            )
        return prepared

    def _commit(self, prepared: _Prepared, context: dict[str, Optional[str]]) -> str:
        """Under the lock: the checks that read the index's state, then the commit."""
        meta, content, uploader = prepared.meta, prepared.content, prepared.uploader
        project, is_new_project = resolve_project(self._storage, meta, uploader)
        context["project"] = meta.name
        if uploader.token is not None:
            check_token(uploader.token, project)
        canonical = canonicalize_version(meta.version)
        release = project.releases.get(canonical)
        context["version"] = str(meta.version)
        prepared.raise_if("readme", "file_part")
        check_project_size(content, project, meta.name, max_project_size=self.max_project_size)
        prepared.raise_if("digests")
        if is_duplicate(self._storage, content):
            return ""  # the same file again: PyPI answers 200 and changes nothing
        check_release_rules(self._storage, content.filename, prepared.filetype, release)
        prepared.raise_if("archive", "attestations")
        form = prepared.form
        self._storage.commit(
            project=project,
            is_new_project=is_new_project,
            display_name=meta.name,
            release=release,
            version=str(meta.version),
            canonical=canonical,
            release_metadata=list(form.pairs),
            fields=list(prepared.body.fields),
            content=content,
            packagetype=prepared.filetype,
            python_version=form.get("pyversion") or "source",
            requires_python=str(meta.requires_python) if meta.requires_python else None,
            file_metadata=prepared.file_metadata if content.filename.endswith(".whl") else None,
            attestations=form.get("attestations"),
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
