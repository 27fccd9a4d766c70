"""The upload form: its fields cleaned as warehouse cleans them, validated, read as metadata.

``form_error`` is warehouse's ``UploadForm`` validation (``warehouse/forklift/forms.py``);
``parse_form_metadata`` is its core-metadata parsing (``warehouse/forklift/metadata.py``),
with PyPI's own rules (``trusted_publish.dists.pypi_rules.metadata_fields``) and their texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Optional, cast

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata

from trusted_publish.dists.pypi_rules import dist_files, form_data, metadata_fields

from .refusal import CORE_METADATA_URL, bad

__all__ = ["LOCAL_VERSION_URL", "UploadForm", "form_error", "parse_form_metadata"]

# legacy.py `file_upload`: a local version's refusal points here instead.
LOCAL_VERSION_URL = (
    "https://packaging.python.org/en/latest/specifications/"
    "version-specifiers/#local-version-identifiers"
)
_ERROR_MESSAGE_ORDER = ("metadata-version", "name", "version")
_PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_DIGEST_RE = re.compile(r"^[A-F0-9]{64}$", re.IGNORECASE)

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


class UploadForm:
    """The form fields as a multi-dict, cleaned the way warehouse cleans them."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        # warehouse/forklift/decorators.py `sanitize`: UNKNOWN fields dropped, NULs escaped.
        self.pairs = form_data.sanitize(pairs)

    def get(self, key: str) -> Optional[str]:
        for name, value in self.pairs:
            if name == key:
                return value
        return None

    def getall(self, key: str) -> list[str]:
        return [value for name, value in self.pairs if name == key]

    def __contains__(self, key: str) -> bool:
        return any(name == key for name, _ in self.pairs)


def _field_errors(form: UploadForm) -> dict[str, str]:
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
    elif filetype not in dist_files.FILETYPE_EXTENSIONS:
        errors["filetype"] = "Use a known file type."
    for key, label in (("sha256_digest", "SHA256"), ("blake2_256_digest", "BLAKE2")):
        value = form.get(key)
        if value and value.strip() and not _DIGEST_RE.match(value):
            errors[key] = f"Use a valid, hex-encoded, {label} message digest."
    return errors


def form_error(form: UploadForm) -> Optional[str]:
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


def _raw_metadata(form: UploadForm) -> tuple[RawMetadata, list[InvalidMetadata]]:
    """warehouse/forklift/metadata.py `parse_form_metadata`: the form as RawMetadata, and
    the fields it cannot read (a single field sent twice, a Project-URL label sent twice)."""
    raw: dict[str, Any] = {}
    unparsed: list[str] = []
    for key in dict.fromkeys(name for name, _ in form.pairs):
        values = form.getall(key)
        if values == [""]:
            continue  # an empty value is taken as not sent
        if key in _SINGLE_FIELDS and len(values) == 1:
            raw[_SINGLE_FIELDS[key]] = values[0]
        elif key in _MULTI_FIELDS:
            raw.setdefault(_MULTI_FIELDS[key], []).extend(values)
        elif key == "keywords" and len(values) == 1:
            raw["keywords"] = [word.strip() for word in values[0].split(",") if word.strip()]
        elif key == "project_urls":
            urls: dict[str, str] = {}
            for value in values:
                label, _, url = (part.strip() for part in value.partition(","))
                if label in urls:
                    unparsed.append(key)
                    break
                urls[label] = url
            else:
                raw["project_urls"] = urls
        elif key in _SINGLE_FIELDS or key == "keywords":
            unparsed.append(key)
    problems = [InvalidMetadata(key, f"{key!r} has invalid data") for key in unparsed]
    return cast(RawMetadata, raw), problems


def parse_form_metadata(form: UploadForm) -> Metadata:
    """The form's core metadata, validated as warehouse validates it."""
    raw, problems = _raw_metadata(form)
    errors: list[InvalidMetadata] = list(problems)
    meta: Optional[Metadata] = None
    try:
        meta = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        errors.extend(exc for exc in group.exceptions if isinstance(exc, InvalidMetadata))
    if meta is not None and not errors:
        errors.extend(_warehouse_errors(meta))
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
        see = CORE_METADATA_URL
        if field_name == "version" and any(
            "use of local versions" in str(e) for e in by_field["version"]
        ):
            see = LOCAL_VERSION_URL
        raise bad(f"{message} See {see} for more information.")
    return meta


def _warehouse_errors(meta: Metadata) -> list[InvalidMetadata]:
    """warehouse/forklift/metadata.py `_validate_metadata`, on what packaging accepted."""
    return [
        InvalidMetadata(refused.field, refused.text)
        for refused in metadata_fields.validate(
            metadata_version=meta.metadata_version,
            version=meta.version,
            summary=meta.summary,
            classifiers=meta.classifiers or [],
            author_email=meta.author_email,
            maintainer_email=meta.maintainer_email,
            home_page=meta.home_page,
            download_url=meta.download_url,
            project_urls=meta.project_urls,
            provides_dist=meta.provides_dist or [],
            obsoletes_dist=meta.obsoletes_dist or [],
            requires_dist=[str(r) for r in meta.requires_dist or []],
            dynamic=meta.dynamic or [],
            license=meta.license,
            license_expression=meta.license_expression,
        )
    ]
