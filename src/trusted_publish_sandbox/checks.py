"""The checks of an upload, in the order of warehouse's ``file_upload`` view.

Each raises a ``Refusal`` with the status code and text pypi.org answers with
(``warehouse/forklift/legacy.py``, ``warehouse/utils/wheel.py``); the ``Warehouse`` runs them
in order and changes nothing until every one passed.
"""

from __future__ import annotations

import hmac
import time
from email.parser import HeaderParser
from typing import Optional

from packaging.metadata import Metadata
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trusted_publish.dists.pypi_rules import INVALID_DISTRIBUTION, dist_files

from . import archive
from .attestations import AttestationRefusal, check_attestations
from .auth import Authenticated, IssuedToken
from .body import ContentPart, UploadBody
from .form import UploadForm
from .refusal import STORAGE_LIMITS_URL, Refusal, bad, help_url
from .storage import Project, Release, Storage

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_PROJECT_SIZE",
    "check_digests",
    "check_file",
    "check_file_part",
    "check_project_size",
    "check_release_rules",
    "check_request",
    "check_token",
    "check_upload_attestations",
    "is_duplicate",
    "resolve_project",
]

ONE_MIB = 1024 * 1024
ONE_GIB = 1024 * ONE_MIB
MAX_FILE_SIZE = 100 * ONE_MIB
MAX_PROJECT_SIZE = 10 * ONE_GIB
# PyPI refuses new files for releases created more than this long ago.
RELEASE_UPLOAD_WINDOW = 14 * 24 * 3600

NOT_FOUND_TEXT = "The resource could not be found."


def check_request(
    body: UploadBody, form: UploadForm, uploader: Optional[Authenticated]
) -> Authenticated:
    """Routing, authentication and the protocol fields, before any metadata."""
    if body.error is not None:
        raise bad(f"Invalid multipart/form-data body: {body.error}")
    # Warehouse routes on ":action" before its view runs: other actions are gone,
    # a missing one matches no route at all.
    action = form.get(":action")
    if action in ("submit", "submit_pkg_info"):
        raise Refusal(
            410,
            "Project pre-registration is no longer required or supported, "
            "upload your files instead.",
        )
    if action == "doc_upload":
        raise Refusal(
            410,
            "Uploading documentation is no longer supported, we recommend using "
            "https://readthedocs.org/.",
        )
    if action != "file_upload":
        raise Refusal(404, NOT_FOUND_TEXT)
    if uploader is None:
        raise Refusal(
            403,
            "Invalid or non-existent authentication information. "
            f"See {help_url('invalid-auth')} for more information.",
        )
    if form.get("protocol_version") not in (None, "1"):
        raise bad("Unknown protocol version.")
    for name in sorted(set(body.file_field_names) - {"content", "gpg_signature"}):
        raise bad(f"{name}: Should not be a tuple.")
    return uploader


def resolve_project(
    storage: Storage, meta: Metadata, uploader: Authenticated
) -> tuple[Project, bool]:
    """The upload's project, and whether the upload is creating it."""
    normalized = canonicalize_name(meta.name)
    project = storage.projects.get(normalized)
    if project is not None:
        return project, False
    token = uploader.token
    if token is not None and token.projects is not None:
        raise bad(
            "Non-user identities cannot create new projects. "
            "This was probably caused by successfully using a pending "
            "publisher but specifying the project name incorrectly (either "
            "in the publisher or in your project's metadata). Please ensure "
            "that both match. "
            "See: https://docs.pypi.org/trusted-publishers/troubleshooting/"
        )
    # Users (and unscoped sandbox tokens) create the project with the upload; it
    # only persists if the upload succeeds.
    return Project(meta.name, normalized, time.time()), True


def check_file_part(
    content: ContentPart, form: UploadForm, filetype: str, name: str, *, max_file_size: int
) -> None:
    """File name, content type and the file size limit (nothing stored is read)."""
    reason = dist_files.filename_refusal(content.filename, filetype)
    if reason is not None:
        raise bad(reason)
    # A part without Content-Type counts as text/plain (cgi.FieldStorage's default,
    # which PyPI's form parsing uses): uv sends none and PyPI accepts it.
    content_type = "text/plain" if content.content_type is None else content.content_type
    if not content_type or content_type.startswith("image/"):
        raise bad(INVALID_DISTRIBUTION)
    if content.size > max_file_size or not content.complete:
        raise bad(
            "File too large. "
            f"Limit for project {name!r} is {max_file_size // ONE_MIB} MB. "
            f"See {STORAGE_LIMITS_URL}#requesting-a-file-size-limit-increase "
            "for more information."
        )


def check_project_size(
    content: ContentPart, project: Project, name: str, *, max_project_size: int
) -> None:
    if content.size + project.total_size > max_project_size:
        raise bad(
            "Project size too large. Limit for "
            f"project {name!r} total size is {max_project_size // ONE_GIB} GB. "
            f"See {STORAGE_LIMITS_URL}#requesting-a-project-size-limit-increase"
        )


def check_digests(content: ContentPart, form: UploadForm) -> None:
    """The digests the form supplies must be the file's."""
    computed = {"md5": content.md5, "sha256": content.sha256, "blake2_256": content.blake2_256}
    for digest_name, digest_value in computed.items():
        supplied = form.get(f"{digest_name}_digest")
        if supplied and not hmac.compare_digest(supplied.lower(), digest_value):
            raise bad(
                "The digest supplied does not match a digest calculated from the uploaded file."
            )


def is_duplicate(storage: Storage, content: ContentPart) -> bool:
    """True for the very same file again; refuses a name or content clash."""
    existing = storage.find_existing(content.filename, content.blake2_256)
    if existing is None:
        return False
    if (
        existing.filename == content.filename
        and existing.sha256 == content.sha256
        and existing.blake2_256 == content.blake2_256
    ):
        return True
    raise bad(
        f"File already exists ({content.filename!r}, with blake2_256 hash "
        f"{content.blake2_256!r}). See {help_url('file-name-reuse')} for more information."
    )


def check_release_rules(
    storage: Storage, filename: str, filetype: str, release: Optional[Release]
) -> None:
    if filename in storage.used_filenames:
        raise bad(
            "This filename was previously used by a file that has since been "
            f"deleted. Use a different version. See {help_url('file-name-reuse')} "
            "for more information."
        )
    if release is None:
        return
    if time.time() - release.created > RELEASE_UPLOAD_WINDOW:
        raise bad("Uploading new files to releases older than 14 days is not allowed.")
    if filetype == "sdist" and any(f.packagetype == "sdist" for f in release.files):
        raise bad(dist_files.ONE_SDIST)


def check_token(token: IssuedToken, project: Project) -> None:
    if token.projects is not None and project.normalized not in token.projects:
        # What pypi.org answers when an OIDC token's caveats name other projects.
        raise Refusal(
            403,
            "Invalid API Token: OIDC scoped token is not valid for project "
            f"{project.name!r}, project-scoped token is not valid for project: "
            f"{project.name!r}",
        )
    now = int(time.time())
    if now < token.not_before or now >= token.expires_at:
        raise Refusal(403, "Invalid API Token: token is expired")


def check_file(content: ContentPart, filetype: str, meta: Metadata) -> Optional[bytes]:
    """The archive (see ``archive.py``); returns its METADATA/PKG-INFO."""
    file_metadata = archive.check_archive(content.path, content.filename, filetype, meta)
    _check_file_metadata(content.filename, file_metadata, meta)
    return file_metadata


def _check_file_metadata(filename: str, file_metadata: Optional[bytes], meta: Metadata) -> None:
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
        raise bad(
            f"The metadata in {filename!r} (name {file_name!r}, version "
            f"{file_version!r}) does not match the upload form (name {meta.name!r}, "
            f"version {str(meta.version)!r})."
        )


def check_upload_attestations(
    attestations: str, uploader: Authenticated, content: ContentPart
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
        raise bad(refusal.message) from None
