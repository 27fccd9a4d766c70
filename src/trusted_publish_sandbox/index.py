"""The PyPI side: projects, releases, files, API tokens and the legacy upload checks.

``Index.process_upload`` walks the checks of warehouse's ``file_upload`` view in the same
order, with the same status codes and texts (``warehouse/forklift/legacy.py``,
``forms.py`` and ``metadata.py``), so that a client meets here the refusals it would
meet on pypi.org. State changes happen only once every check passed, as PyPI's database
transaction is rolled back on any refusal.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import html
import json
import re
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, Optional, cast

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from . import dists
from .attestations import AttestationRefusal, check_attestations
from .body import ContentPart, UploadBody

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_PROJECT_SIZE",
    "Index",
    "MintedToken",
    "StoredFile",
    "UploadAttempt",
    "UploadResult",
]

ONE_MIB = 1024 * 1024
ONE_GIB = 1024 * ONE_MIB
MAX_FILE_SIZE = 100 * ONE_MIB
MAX_PROJECT_SIZE = 10 * ONE_GIB
# PyPI refuses new files for releases created more than this long ago.
RELEASE_UPLOAD_WINDOW = 14 * 24 * 3600

HELP_URL = "https://pypi.org/help/"
CORE_METADATA_URL = "https://packaging.python.org/specifications/core-metadata"
STORAGE_LIMITS_URL = "https://docs.pypi.org/project-management/storage-limits"

# Upload metadata versions warehouse implements (forklift/metadata.py); packaging knows
# newer ones, PyPI still refuses them.
SUPPORTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
_ERROR_MESSAGE_ORDER = ("metadata-version", "name", "version")
_PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_DIGEST_RE = re.compile(r"^[A-F0-9]{64}$", re.IGNORECASE)

_NOT_FOUND_TEXT = "The resource could not be found."

# Form keys (what twine and uv send) -> packaging RawMetadata keys.
_SINGLE_FIELDS = {
    "metadata_version": "metadata_version",
    "name": "name",
    "version": "version",
    "summary": "summary",
    "description": "description",
    "description_content_type": "description_content_type",
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "license_expression": "license_expression",
    "home_page": "home_page",
    "download_url": "download_url",
    "requires_python": "requires_python",
}
_MULTI_FIELDS = {
    "classifiers": "classifiers",
    "requires_dist": "requires_dist",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "requires_external": "requires_external",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "license_file": "license_files",
    "license_files": "license_files",
    "import_names": "import_names",
    "import_namespaces": "import_namespaces",
}


def _help(anchor: str) -> str:
    return f"{HELP_URL}#{anchor}"


@dataclass(frozen=True)
class StoredFile:
    """One distribution file as the index keeps it."""

    project: str  # normalized project name
    filename: str
    version: str
    packagetype: str
    python_version: str
    size: int
    md5: str
    sha256: str
    blake2_256: str
    form: list[tuple[str, str]]  # every non-file form field, in the order received
    path: Path
    url_path: str  # "/packages/<b2>/<b2>/<rest>/<filename>"
    upload_time: float
    requires_python: Optional[str] = None
    metadata_sha256: Optional[str] = None
    metadata_blake2_256: Optional[str] = None
    attestations: Optional[str] = None  # the form's JSON array of PEP 740 attestations


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
class MintedToken:
    """A short-lived API token minted from an OIDC token."""

    token: str
    publisher: str
    projects: Optional[frozenset[str]]  # normalized names; None = any project (sandbox)
    not_before: int
    expires_at: int


@dataclass(frozen=True)
class UploadResult:
    status: int
    message: str
    project: Optional[str] = None
    version: Optional[str] = None
    filename: Optional[str] = None
    identity: Optional[str] = None


@dataclass
class _Release:
    version: str
    canonical: str
    created: float
    metadata: list[tuple[str, str]]
    files: list[StoredFile] = field(default_factory=list)


@dataclass
class _Project:
    name: str
    normalized: str
    created: float
    releases: dict[str, _Release] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for r in self.releases.values() for f in r.files)


@dataclass(frozen=True)
class _Uploader:
    kind: str  # "token" or "user"
    name: str
    token: Optional[MintedToken] = None

    @property
    def label(self) -> str:
        return "token" if self.kind == "token" else f"user:{self.name}"


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> _Refusal:
    return _Refusal(400, message)


class _Form:
    """The form fields as a multi-dict, cleaned the way warehouse cleans them."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        cleaned: list[tuple[str, str]] = []
        for key, value in pairs:
            # distutils sent "UNKNOWN" for missing required values; PyPI drops them.
            if value.strip() == "UNKNOWN":
                continue
            cleaned.append((key, value.replace("\x00", "\\x00")))
        self.pairs = cleaned

    def get(self, key: str) -> Optional[str]:
        for name, value in self.pairs:
            if name == key:
                return value
        return None

    def getall(self, key: str) -> list[str]:
        return [value for name, value in self.pairs if name == key]

    def __contains__(self, key: str) -> bool:
        return any(name == key for name, _ in self.pairs)


def _field_errors(form: _Form) -> dict[str, str]:
    """Per-field errors of warehouse's ``UploadForm`` (wtforms validators)."""
    errors: dict[str, str] = {}
    name = form.get("name")
    if not name:
        errors["name"] = "This field is required."
    elif not _PROJECT_NAME_RE.match(name):
        errors["name"] = (
            "Start and end with a letter or numeral containing only ASCII numeric "
            "and '.', '_' and '-'."
        )
    filetype = form.get("filetype")
    if not filetype:
        errors["filetype"] = "This field is required."
    elif filetype not in dists.FILETYPE_EXTENSIONS:
        errors["filetype"] = "Use a known file type."
    for key, label in (("sha256_digest", "SHA256"), ("blake2_256_digest", "BLAKE2")):
        value = form.get(key)
        if value and value.strip() and not _DIGEST_RE.match(value):
            errors[key] = f"Use a valid, hex-encoded, {label} message digest."
    return errors


def _form_error(form: _Form) -> Optional[str]:
    """The message of warehouse's ``UploadForm`` validation, or None when valid."""
    errors = _field_errors(form)
    if errors:
        field_name = next((f for f in _ERROR_MESSAGE_ORDER if f in errors), sorted(errors)[0])
        if field_name != "name":
            return f"Invalid value for {field_name}. Error: {errors[field_name]}"
        # Only "name" carries a description in UploadForm, hence its longer text.
        data = form.get("name") or ""
        shown = data[:30] + "..." + data[-30:] if len(data) > 60 else data
        return (
            f"{shown!r} is an invalid value for Name. Error: {errors['name']} "
            f"See {CORE_METADATA_URL} for more information."
        )

    # UploadForm.full_validate, which runs only once every field is valid.
    filetype = form.get("filetype")
    pyversion = form.get("pyversion")
    if filetype != "sdist" and not pyversion:
        return "Error: Python version is required for binary distribution uploads."
    if filetype == "sdist" and pyversion and pyversion != "source":
        return "Error: Use 'source' as Python version for an sdist."
    if not (form.get("md5_digest") or form.get("sha256_digest") or form.get("blake2_256_digest")):
        return "Error: Include at least one message digest."
    return None


def _raw_metadata(form: _Form) -> tuple[RawMetadata, list[InvalidMetadata]]:
    raw: dict[str, Any] = {}
    problems: list[InvalidMetadata] = []
    for key, value in form.pairs:
        if key in _SINGLE_FIELDS:
            raw.setdefault(_SINGLE_FIELDS[key], value)
        elif key in _MULTI_FIELDS:
            raw.setdefault(_MULTI_FIELDS[key], []).append(value)
        elif key == "keywords":
            raw.setdefault("keywords", []).extend(
                word.strip() for word in value.split(",") if word.strip()
            )
        elif key == "project_urls":
            label, _, url = (part.strip() for part in value.partition(","))
            urls = raw.setdefault("project_urls", {})
            if label in urls:
                problems.append(InvalidMetadata("project-url", "'project-url' has invalid data"))
            urls[label] = url
    return cast(RawMetadata, raw), problems


def parse_form_metadata(form: _Form) -> Metadata:
    """The form's core metadata, validated as warehouse validates it."""
    raw, problems = _raw_metadata(form)
    errors: list[InvalidMetadata] = list(problems)
    meta: Optional[Metadata] = None
    try:
        meta = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        errors.extend(exc for exc in group.exceptions if isinstance(exc, InvalidMetadata))
    if meta is not None and not errors:
        if meta.metadata_version not in SUPPORTED_METADATA_VERSIONS:
            errors.append(
                InvalidMetadata(
                    "metadata-version",
                    f"{meta.metadata_version!r} is not a valid metadata version",
                )
            )
        if meta.version.local:
            errors.append(
                InvalidMetadata(
                    "version", f"The use of local versions in '{meta.version}' is not allowed."
                )
            )
        if meta.summary is not None and len(meta.summary) > 512:
            errors.append(
                InvalidMetadata("summary", "'summary' field must be 512 characters or less.")
            )
    if errors or meta is None:
        by_field: dict[str, list[InvalidMetadata]] = {}
        for error in errors:
            by_field.setdefault(error.field, []).append(error)
        for field_name in _ERROR_MESSAGE_ORDER:
            if field_name in by_field:
                break
        else:
            field_name = sorted(by_field)[0] if by_field else ""
        message = str(by_field[field_name][0]) if by_field else "invalid metadata"
        if not message.endswith("."):
            message += "."
        raise _bad(f"{message} See {CORE_METADATA_URL} for more information.")
    return meta


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Index:
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
        self.storage_dir: Optional[Path] = None
        self.tokens: dict[str, MintedToken] = {}
        self.upload_attempts: list[UploadAttempt] = []
        self._projects: dict[str, _Project] = {}
        self._used_filenames: set[str] = set()
        self.serial = 0

    # -- storage ---------------------------------------------------------------------

    def attach_storage(self, storage_dir: Path) -> None:
        with self.lock:
            self.storage_dir = storage_dir
            (storage_dir / "incoming").mkdir(parents=True, exist_ok=True)
            (storage_dir / "packages").mkdir(parents=True, exist_ok=True)

    @property
    def incoming_dir(self) -> Path:
        if self.storage_dir is None:
            raise RuntimeError("the sandbox is not started")
        return self.storage_dir / "incoming"

    # -- projects --------------------------------------------------------------------

    def has_project(self, name: str) -> bool:
        with self.lock:
            return canonicalize_name(name) in self._projects

    def ensure_project(self, name: str) -> None:
        """Register an (empty) project, as a maintainer creating it on PyPI would."""
        with self.lock:
            normalized = canonicalize_name(name)
            if normalized not in self._projects:
                self._projects[normalized] = _Project(name, normalized, time.time())

    def project_names(self) -> list[str]:
        with self.lock:
            return sorted(p.name for p in self._projects.values())

    def files(self, project: str) -> list[StoredFile]:
        with self.lock:
            found = self._projects.get(canonicalize_name(project))
            if found is None:
                return []
            return [
                _copy_file(f)
                for release in found.releases.values()
                for f in sorted(release.files, key=lambda f: f.upload_time)
            ]

    def set_release_age(self, project: str, version: str, days: float) -> None:
        with self.lock:
            release = self._release(project, version)
            release.created = time.time() - days * 86400

    def delete_file(self, filename: str) -> None:
        """Delete a file; its name stays burnt, as on PyPI."""
        with self.lock:
            for proj in self._projects.values():
                for release in proj.releases.values():
                    for stored in release.files:
                        if stored.filename == filename:
                            release.files.remove(stored)
                            stored.path.unlink(missing_ok=True)
                            return
            raise KeyError(filename)

    def _release(self, project: str, version: str) -> _Release:
        proj = self._projects.get(canonicalize_name(project))
        if proj is None:
            raise KeyError(project)
        release = proj.releases.get(canonicalize_version(version))
        if release is None:
            raise KeyError(f"{project} {version}")
        return release

    # -- auth ------------------------------------------------------------------------

    def _authenticate(self, authorization: Optional[str]) -> Optional[_Uploader]:
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        scheme = scheme.lower()
        if scheme in ("token", "bearer"):
            token = self.tokens.get(value)
            return _Uploader("token", "__token__", token) if token else None
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
            token = self.tokens.get(password)
            return _Uploader("token", username, token) if token else None
        expected = self.users.get(username)
        if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
            return _Uploader("user", username)
        return None

    # -- upload ----------------------------------------------------------------------

    def record_attempt(self, attempt: UploadAttempt) -> None:
        with self.lock:
            self.upload_attempts.append(attempt)

    def process_upload(self, body: UploadBody, authorization: Optional[str]) -> UploadResult:
        """Answer one upload whose body has been fully received."""
        with self.lock:
            uploader = self._authenticate(authorization)
            form = _Form(body.fields)
            context: dict[str, Optional[str]] = {
                "filename": body.content.filename if body.content else None,
                "project": form.get("name"),
                "version": form.get("version"),
            }
            try:
                message = self._upload(body, form, uploader, context)
                status = 200
            except _Refusal as refusal:
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
        form: _Form,
        uploader: Optional[_Uploader],
        context: dict[str, Optional[str]],
    ) -> str:
        uploader = self._check_request(body, form, uploader)
        form_error = _form_error(form)
        if form_error is not None:
            raise _bad(form_error)
        meta = parse_form_metadata(form)
        content = body.content
        if content is None:
            raise _bad("Upload payload does not have a file.")

        project, is_new_project = self._resolve_project(meta, uploader)
        context["project"] = meta.name
        if uploader.token is not None:
            self._check_token(uploader.token, project)
        canonical = canonicalize_version(meta.version)
        release = project.releases.get(canonical)
        context["version"] = str(meta.version)

        filetype = form.get("filetype") or ""
        self._check_content(content, form, filetype, project, meta.name)
        if self._is_duplicate(content):
            return ""  # the same file again: PyPI answers 200 and changes nothing
        self._check_release_rules(content.filename, filetype, release)
        file_metadata = self._check_archive(content, filetype, meta, project, meta.name)

        attestations = form.get("attestations")
        if attestations is not None:
            self._check_attestations(attestations, uploader, content)

        self._commit(
            project=project,
            is_new_project=is_new_project,
            display_name=meta.name,
            release=release,
            version=str(meta.version),
            canonical=canonical,
            form=form,
            body=body,
            meta=meta,
            file_metadata=file_metadata if content.filename.endswith(".whl") else None,
            attestations=attestations,
        )
        return ""

    def _check_request(
        self, body: UploadBody, form: _Form, uploader: Optional[_Uploader]
    ) -> _Uploader:
        """Routing, authentication and the protocol fields, before any metadata."""
        if body.error is not None:
            raise _bad(f"Invalid multipart/form-data body: {body.error}")
        # Warehouse routes on ":action" before its view runs: other actions are gone,
        # a missing one matches no route at all.
        action = form.get(":action")
        if action in ("submit", "submit_pkg_info"):
            raise _Refusal(
                410,
                "Project pre-registration is no longer required or supported, "
                "upload your files instead.",
            )
        if action == "doc_upload":
            raise _Refusal(
                410,
                "Uploading documentation is no longer supported, we recommend using "
                "https://readthedocs.org/.",
            )
        if action != "file_upload":
            raise _Refusal(404, _NOT_FOUND_TEXT)
        if uploader is None:
            raise _Refusal(
                403,
                "Invalid or non-existent authentication information. "
                f"See {_help('invalid-auth')} for more information.",
            )
        if form.get("protocol_version") not in (None, "1"):
            raise _bad("Unknown protocol version.")
        for name in sorted(set(body.file_field_names) - {"content", "gpg_signature"}):
            raise _bad(f"{name}: Should not be a tuple.")
        return uploader

    def _resolve_project(self, meta: Metadata, uploader: _Uploader) -> tuple[_Project, bool]:
        normalized = canonicalize_name(meta.name)
        project = self._projects.get(normalized)
        if project is not None:
            return project, False
        token = uploader.token
        if token is not None and token.projects is not None:
            raise _bad(
                "Non-user identities cannot create new projects. "
                "This was probably caused by successfully using a pending "
                "publisher but specifying the project name incorrectly (either "
                "in the publisher or in your project's metadata). Please ensure "
                "that both match. "
                "See: https://docs.pypi.org/trusted-publishers/troubleshooting/"
            )
        # Users (and unscoped sandbox tokens) create the project with the upload; it
        # only persists if the upload succeeds.
        return _Project(meta.name, normalized, time.time()), True

    def _check_content(
        self, content: ContentPart, form: _Form, filetype: str, project: _Project, name: str
    ) -> None:
        """File name, content type, size limits and the supplied digests."""
        reason = dists.validate_filename(content.filename, filetype)
        if reason is not None:
            raise _bad(reason)
        # A part without Content-Type counts as text/plain (cgi.FieldStorage's default,
        # which PyPI's form parsing uses): uv sends none and PyPI accepts it.
        content_type = "text/plain" if content.content_type is None else content.content_type
        if not content_type or content_type.startswith("image/"):
            raise _bad("Invalid distribution file.")
        if content.size > self.max_file_size or not content.complete:
            raise _bad(
                "File too large. "
                f"Limit for project {name!r} is {self.max_file_size // ONE_MIB} MB. "
                f"See {STORAGE_LIMITS_URL}#requesting-a-file-size-limit-increase "
                "for more information."
            )
        if content.size + project.total_size > self.max_project_size:
            raise _bad(
                "Project size too large. Limit for "
                f"project {name!r} total size is {self.max_project_size // ONE_GIB} GB. "
                f"See {STORAGE_LIMITS_URL}#requesting-a-project-size-limit-increase"
            )
        computed = {"md5": content.md5, "sha256": content.sha256, "blake2_256": content.blake2_256}
        for digest_name, digest_value in computed.items():
            supplied = form.get(f"{digest_name}_digest")
            if supplied and not hmac.compare_digest(supplied.lower(), digest_value):
                raise _bad(
                    "The digest supplied does not match a digest calculated from the uploaded file."
                )

    def _is_duplicate(self, content: ContentPart) -> bool:
        """True for the very same file again; refuses a name or content clash."""
        existing = self._find_existing(content.filename, content.blake2_256)
        if existing is None:
            return False
        if (
            existing.filename == content.filename
            and existing.sha256 == content.sha256
            and existing.blake2_256 == content.blake2_256
        ):
            return True
        raise _bad(
            f"File already exists ({content.filename!r}, with blake2_256 hash "
            f"{content.blake2_256!r}). See {_help('file-name-reuse')} for more information."
        )

    def _check_release_rules(
        self, filename: str, filetype: str, release: Optional[_Release]
    ) -> None:
        if filename in self._used_filenames:
            raise _bad(
                "This filename was previously used by a file that has since been "
                f"deleted. Use a different version. See {_help('file-name-reuse')} "
                "for more information."
            )
        if release is None:
            return
        if time.time() - release.created > RELEASE_UPLOAD_WINDOW:
            raise _bad("Uploading new files to releases older than 14 days is not allowed.")
        if filetype == "sdist" and any(f.packagetype == "sdist" for f in release.files):
            raise _bad("Only one sdist may be uploaded per release.")

    def _check_archive(
        self, content: ContentPart, filetype: str, meta: Metadata, project: _Project, name: str
    ) -> Optional[bytes]:
        """The archive's structure and name; returns its METADATA/PKG-INFO."""
        filename = content.filename
        valid, why = dists.is_valid_dist_file(content.path, filename)
        if not valid:
            raise _bad(f"Invalid distribution file. {why}")
        file_metadata: Optional[bytes] = None
        if filetype == "sdist":
            self._check_sdist_name(filename, meta, project, name)
            self._check_sdist_license_files(content.path, filename, meta)
            file_metadata = dists.read_sdist_pkg_info(content.path)
        if filename.endswith(".whl"):
            file_metadata = self._check_wheel(content.path, filename, meta, project, name)
        self._check_file_metadata(filename, file_metadata, meta)
        return file_metadata

    def _check_token(self, token: MintedToken, project: _Project) -> None:
        if token.projects is not None and project.normalized not in token.projects:
            # What pypi.org answers when an OIDC token's caveats name other projects.
            raise _Refusal(
                403,
                "Invalid API Token: OIDC scoped token is not valid for project "
                f"{project.name!r}, project-scoped token is not valid for project: "
                f"{project.name!r}",
            )
        now = int(time.time())
        if now < token.not_before or now >= token.expires_at:
            raise _Refusal(403, "Invalid API Token: token is expired")

    def _find_existing(self, filename: str, blake2_256: str) -> Optional[StoredFile]:
        for proj in self._projects.values():
            for release in proj.releases.values():
                for stored in release.files:
                    if stored.filename == filename or stored.blake2_256 == blake2_256:
                        return stored
        return None

    def _check_sdist_name(
        self, filename: str, meta: Metadata, project: _Project, display_name: str
    ) -> None:
        try:
            name_from_filename, _version = parse_sdist_filename(filename)
        except InvalidSdistFilename:
            raise _bad(f"Invalid source distribution filename: {filename}") from None
        name_text: str = name_from_filename
        # A post-release may carry a hyphen in the file name ("1.0-1"); split once more.
        if (
            meta.version.is_postrelease
            and name_text != canonicalize_name(meta.name)
            and filename.count("-") >= 2
        ):
            candidate = filename.rpartition("-")[0].rpartition("-")[0]
            try:
                Version(filename[len(candidate) + 1 : -len(".tar.gz")])
                name_text = candidate
            except InvalidVersion:
                pass
        expected_prefix = project.normalized.replace("-", "_")
        if canonicalize_name(name_text) != project.normalized:
            raise _bad(f"Start filename for {display_name!r} with {expected_prefix!r}.")
        expected = f"{expected_prefix}-{meta.version}.tar.gz"
        if filename != expected:
            raise _bad(f"Filename {filename!r} is invalid, should be {expected!r}.")

    def _check_sdist_license_files(self, path: Path, filename: str, meta: Metadata) -> None:
        if not meta.license_files:
            return
        top_level = dists.sdist_top_level(path)
        for license_file in meta.license_files:
            target = f"{top_level.rstrip('/')}/{license_file}"
            if not dists.tar_has_member(path, target):
                raise _bad(
                    f"License-File {license_file} does not exist in "
                    f"distribution file {filename} at {target}"
                )

    def _check_wheel(
        self, path: Path, filename: str, meta: Metadata, project: _Project, display_name: str
    ) -> bytes:
        try:
            wheel_name, wheel_version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise _bad(str(exc)) from None
        for tag in tags:
            if not dists.valid_platform_tag(tag.platform):
                raise _bad(
                    f"Binary wheel '{filename}' has an unsupported platform tag '{tag.platform}'."
                )
        canonical_name = canonicalize_name(meta.name)
        if canonical_name != wheel_name:
            raise _bad(
                f"Start filename for {display_name!r} with {canonical_name.replace('-', '_')!r}."
            )
        name_from_filename = filename.split("-", 1)[0]
        normalized_name = project.normalized.replace("-", "_")
        if name_from_filename != normalized_name:
            raise _bad(
                f"Filename {filename!r} should contain the normalized project name "
                f"{normalized_name!r}, not {name_from_filename!r}."
            )
        if meta.version != wheel_version:
            raise _bad(
                f"Version in filename should be {str(meta.version)!r} not {str(wheel_version)!r}."
            )
        name, version, _ = filename.split("-", 2)
        dist_info = f"{name}-{version}.dist-info"
        if meta.license_files:
            for license_file in meta.license_files:
                member = f"{dist_info}/licenses/{license_file}"
                if dists.read_wheel_member(path, member) is None:
                    raise _bad(
                        f"License-File {license_file} does not exist in "
                        f"distribution file {filename} at {member}"
                    )
        if dists.read_wheel_member(path, f"{dist_info}/RECORD") is None:
            raise _bad(
                f"Wheel '{filename}' does not contain the required RECORD file: {dist_info}/RECORD"
            )
        metadata = dists.read_wheel_member(path, f"{dist_info}/METADATA")
        if metadata is None:
            raise _bad(
                f"Wheel '{filename}' does not contain the required METADATA file: "
                f"{dist_info}/METADATA"
            )
        return metadata

    def _check_file_metadata(
        self, filename: str, file_metadata: Optional[bytes], meta: Metadata
    ) -> None:
        """Sandbox check: the file's own METADATA/PKG-INFO must describe the form's release.

        PyPI stores the form's metadata and does not compare; a client that sends a form
        disagreeing with the file it uploads has a bug this makes visible.
        """
        if file_metadata is None:
            return
        headers = HeaderParser().parsestr(file_metadata.decode("utf-8", "replace"))
        file_name = headers.get("Name")
        file_version = headers.get("Version")
        same_name = file_name is not None and canonicalize_name(file_name) == canonicalize_name(
            meta.name
        )
        try:
            same_version = file_version is not None and Version(file_version) == meta.version
        except InvalidVersion:
            same_version = False
        if not (same_name and same_version):
            raise _bad(
                f"The metadata in {filename!r} (name {file_name!r}, version "
                f"{file_version!r}) does not match the upload form (name {meta.name!r}, "
                f"version {str(meta.version)!r})."
            )

    def _check_attestations(
        self, attestations: str, uploader: _Uploader, content: ContentPart
    ) -> None:
        """PyPI's checks of the ``attestations`` field (see ``attestations.py``)."""
        try:
            check_attestations(
                attestations,
                trusted_publishing=uploader.kind == "token",
                filename=content.filename,
                sha256=content.sha256,
            )
        except AttestationRefusal as refusal:
            raise _bad(refusal.message) from None

    def _commit(
        self,
        *,
        project: _Project,
        is_new_project: bool,
        display_name: str,
        release: Optional[_Release],
        version: str,
        canonical: str,
        form: _Form,
        body: UploadBody,
        meta: Metadata,
        file_metadata: Optional[bytes],
        attestations: Optional[str],
    ) -> None:
        content = body.content
        if content is None or self.storage_dir is None:
            raise RuntimeError("commit without a file or storage")
        now = time.time()
        if is_new_project:
            self._projects[project.normalized] = project
        project.name = display_name
        if release is None:
            release = _Release(version, canonical, now, list(form.pairs))
            project.releases[canonical] = release

        b2 = content.blake2_256
        relative = f"{b2[:2]}/{b2[2:4]}/{b2[4:]}/{content.filename}"
        target = self.storage_dir / "packages" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(content.path), str(target))

        metadata_sha256 = metadata_blake2 = None
        if file_metadata is not None:
            Path(f"{target}.metadata").write_bytes(file_metadata)
            metadata_sha256 = hashlib.sha256(file_metadata).hexdigest()
            metadata_blake2 = hashlib.blake2b(file_metadata, digest_size=32).hexdigest()

        stored = StoredFile(
            project=project.normalized,
            filename=content.filename,
            version=version,
            packagetype=form.get("filetype") or "",
            python_version=form.get("pyversion") or "source",
            size=content.size,
            md5=content.md5,
            sha256=content.sha256,
            blake2_256=b2,
            form=list(body.fields),
            path=target,
            url_path=f"/packages/{relative}",
            upload_time=now,
            requires_python=str(meta.requires_python) if meta.requires_python else None,
            metadata_sha256=metadata_sha256,
            metadata_blake2_256=metadata_blake2,
            attestations=attestations,
        )
        release.files.append(stored)
        self._used_filenames.add(content.filename)
        self.serial += 1

    # -- reading ---------------------------------------------------------------------

    def find_package(self, url_path: str) -> Optional[Path]:
        """The file on disk behind a ``/packages/...`` path (``.metadata`` included)."""
        with self.lock:
            for proj in self._projects.values():
                for release in proj.releases.values():
                    for stored in release.files:
                        if url_path == stored.url_path:
                            return stored.path
                        if url_path == f"{stored.url_path}.metadata" and stored.metadata_sha256:
                            return Path(f"{stored.path}.metadata")
            return None

    def simple_index(self, json_format: bool) -> tuple[str, str]:
        with self.lock:
            names = sorted(self._projects.values(), key=lambda p: p.normalized)
            if json_format:
                payload = {
                    "meta": {"api-version": "1.1", "_last-serial": self.serial},
                    "projects": [{"name": p.name, "_last-serial": self.serial} for p in names],
                }
                return json.dumps(payload), "application/vnd.pypi.simple.v1+json"
            links = "\n".join(
                f'    <a href="/simple/{p.normalized}/">{html.escape(p.name)}</a><br />'
                for p in names
            )
            page = (
                "<!DOCTYPE html>\n<html>\n  <head>\n"
                '    <meta name="pypi:repository-version" content="1.1">\n'
                "    <title>Simple index</title>\n  </head>\n  <body>\n"
                f"{links}\n  </body>\n</html>\n"
            )
            return page, "text/html; charset=utf-8"

    def canonical_project(self, name: str) -> Optional[str]:
        with self.lock:
            normalized = canonicalize_name(name)
            return normalized if normalized in self._projects else None

    def simple_project(self, name: str, base_url: str, json_format: bool) -> tuple[str, str]:
        with self.lock:
            proj = self._projects[canonicalize_name(name)]
            files = sorted(
                (f for r in proj.releases.values() for f in r.files),
                key=lambda f: (Version(f.version), f.filename),
            )
            if json_format:
                payload = {
                    "meta": {"api-version": "1.1", "_last-serial": self.serial},
                    "name": proj.normalized,
                    "versions": sorted(
                        {r.version for r in proj.releases.values() if r.files}, key=Version
                    ),
                    "files": [
                        {
                            "filename": f.filename,
                            "url": f"{base_url}{f.url_path}",
                            "hashes": {"sha256": f.sha256},
                            "requires-python": f.requires_python,
                            "core-metadata": (
                                {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
                            ),
                            # PEP 714: pip 23.0 crashes on a dict under the PEP 691
                            # name "dist-info-metadata"; PyPI serves this one instead.
                            "data-dist-info-metadata": (
                                {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
                            ),
                            "size": f.size,
                            "upload-time": _iso(f.upload_time),
                            "yanked": False,
                        }
                        for f in files
                    ],
                }
                return json.dumps(payload), "application/vnd.pypi.simple.v1+json"
            lines = []
            for f in files:
                attributes = ""
                if f.requires_python:
                    attributes += f' data-requires-python="{html.escape(f.requires_python)}"'
                if f.metadata_sha256:
                    attributes += (
                        f' data-dist-info-metadata="sha256={f.metadata_sha256}"'
                        f' data-core-metadata="sha256={f.metadata_sha256}"'
                    )
                href = html.escape(f"{base_url}{f.url_path}#sha256={f.sha256}")
                lines.append(
                    f'    <a href="{href}"{attributes}>{html.escape(f.filename)}</a><br />'
                )
            title = html.escape(proj.normalized)
            page = (
                "<!DOCTYPE html>\n<html>\n  <head>\n"
                '    <meta name="pypi:repository-version" content="1.1">\n'
                f"    <title>Links for {title}</title>\n  </head>\n  <body>\n"
                f"    <h1>Links for {title}</h1>\n" + "\n".join(lines) + "\n  </body>\n</html>\n"
            )
            return page, "text/html; charset=utf-8"

    def project_json(
        self, name: str, base_url: str, version: Optional[str] = None
    ) -> Optional[dict[str, Any]]:
        """The ``/pypi/<project>[/<version>]/json`` document, or None (404)."""
        with self.lock:
            proj = self._projects.get(canonicalize_name(name))
            if proj is None:
                return None
            releases = {k: r for k, r in proj.releases.items() if r.files}
            if not releases:
                return None
            if version is None:
                chosen = _latest(list(releases.values()))
            else:
                try:
                    chosen_or_none = releases.get(canonicalize_version(version))
                except InvalidVersion:
                    chosen_or_none = None
                if chosen_or_none is None:
                    return None
                chosen = chosen_or_none
            document: dict[str, Any] = {
                "info": _release_info(proj, chosen, base_url),
                "last_serial": self.serial,
                "urls": [_file_json(f, base_url) for f in chosen.files],
                "vulnerabilities": [],
            }
            if version is None:
                document["releases"] = {
                    r.version: [_file_json(f, base_url) for f in r.files]
                    for r in sorted(releases.values(), key=lambda r: Version(r.version))
                }
            return document


def _copy_file(stored: StoredFile) -> StoredFile:
    # Callers get their own form list: the index's records stay as received.
    return dataclasses.replace(stored, form=list(stored.form))


def _latest(releases: list[_Release]) -> _Release:
    stable = [r for r in releases if not Version(r.version).is_prerelease]
    return max(stable or releases, key=lambda r: Version(r.version))


def _file_json(f: StoredFile, base_url: str) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": {"blake2b_256": f.blake2_256, "md5": f.md5, "sha256": f.sha256},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "size": f.size,
        "upload_time": datetime.fromtimestamp(f.upload_time, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S"
        ),
        "upload_time_iso_8601": _iso(f.upload_time),
        "url": f"{base_url}{f.url_path}",
        "yanked": False,
        "yanked_reason": None,
    }


def _release_info(proj: _Project, release: _Release, base_url: str) -> dict[str, Any]:
    form = _Form(release.metadata)

    def listed(key: str) -> Optional[list[str]]:
        values = form.getall(key)
        return values or None

    project_urls: dict[str, str] = {}
    for value in form.getall("project_urls"):
        label, _, url = (part.strip() for part in value.partition(","))
        project_urls[label] = url
    return {
        "author": form.get("author") or "",
        "author_email": form.get("author_email") or "",
        "bugtrack_url": None,
        "classifiers": form.getall("classifiers"),
        "description": form.get("description") or "",
        "description_content_type": form.get("description_content_type"),
        "docs_url": None,
        "download_url": form.get("download_url") or "",
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": listed("dynamic"),
        "home_page": form.get("home_page") or "",
        "keywords": form.get("keywords") or "",
        "license": form.get("license") or "",
        "license_expression": form.get("license_expression"),
        "license_files": listed("license_file") or listed("license_files"),
        "maintainer": form.get("maintainer") or "",
        "maintainer_email": form.get("maintainer_email") or "",
        "name": proj.name,
        "package_url": f"{base_url}/project/{proj.normalized}/",
        "platform": form.get("platform"),
        "project_url": f"{base_url}/project/{proj.normalized}/",
        "project_urls": project_urls or None,
        "provides_extra": listed("provides_extra"),
        "release_url": f"{base_url}/project/{proj.normalized}/{release.version}/",
        "requires_dist": listed("requires_dist"),
        "requires_python": form.get("requires_python") or "",
        "summary": form.get("summary") or "",
        "version": release.version,
        "yanked": False,
        "yanked_reason": None,
    }
