"""PyPI's own metadata rules, layered on packaging's (and its README rendering).

``metadata_errors`` is warehouse's ``_validate_metadata`` (``warehouse/forklift/metadata.py``):
what ``packaging.metadata`` accepts but PyPI refuses, each error on its field, in
warehouse's order and words. ``readme_refusal`` is the description rendering of
``file_upload`` (``warehouse/forklift/legacy.py``, ``warehouse/utils/readme.py``).
"""

from __future__ import annotations

import email.utils
import functools
import importlib
import importlib.util
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Callable, Optional

from packaging.metadata import InvalidMetadata, Metadata
from packaging.requirements import InvalidRequirement, Requirement

from .refusal import help_url

__all__ = ["SUPPORTED_METADATA_VERSIONS", "is_valid_uri", "metadata_errors", "readme_refusal"]

# Upload metadata versions warehouse implements; packaging knows newer ones, PyPI refuses them.
SUPPORTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
# warehouse/forklift/metadata.py DYNAMIC_FIELDS, lower-cased as it compares them.
DYNAMIC_FIELDS = frozenset(
    name.lower()
    for name in (
        "Platform", "Supported-Platform", "Summary", "Description",
        "Description-Content-Type", "Keywords", "Home-Page", "Download-Url", "Author",
        "Author-Email", "Maintainer", "Maintainer-Email", "License", "License-Expression",
        "License-File", "Classifier", "Requires-Dist", "Requires-Python", "Requires-External",
        "Project-Url", "Provides-Extra", "Provides-Dist", "Obsoletes-Dist", "Requires",
        "Provides", "Obsoletes", "Import-Name", "Import-Namespace",
    )
)  # fmt: skip
_LENGTH_LIMITS = {"summary": 512}
_EMAIL_FIELDS = {"author_email": "author-email", "maintainer_email": "maintainer-email"}
_URL_FIELDS = {"home_page": "home-page", "download_url": "download-url"}
_DIST_FIELDS = {"provides_dist": "provides-dist", "obsoletes_dist": "obsoletes-dist"}


def is_valid_uri(uri: str) -> bool:
    """warehouse/utils/http.py ``is_valid_uri(uri, require_authority=False)``, with rfc3986."""
    from rfc3986 import exceptions, uri_reference, validators

    reference = uri_reference(uri).normalize()
    validator = validators.Validator().allow_schemes("http", "https")
    validator.require_presence_of("scheme")
    validator.check_validity_of("scheme", "host", "port", "path", "query")
    try:
        validator.validate(reference)
    except exceptions.ValidationError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _trove() -> tuple[frozenset[str], Mapping[str, list[str]]]:
    from trove_classifiers import all_classifiers, deprecated_classifiers

    return frozenset(all_classifiers), deprecated_classifiers


def _email_errors(meta: Metadata) -> list[InvalidMetadata]:
    import email_validator

    errors = []
    for attribute, field in _EMAIL_FIELDS.items():
        value: Optional[str] = getattr(meta, attribute)
        if value is None:
            continue
        _, address = email.utils.parseaddr(value)
        if not address:
            continue
        try:
            email_validator.validate_email(address, check_deliverability=False)
        except email_validator.EmailNotValidError as exc:
            errors.append(
                InvalidMetadata(field, f"{address!r} is not a valid email address: {exc}")
            )
    return errors


def _classifier_errors(meta: Metadata) -> list[InvalidMetadata]:
    known, deprecated = _trove()
    classifiers = set(meta.classifiers or [])
    errors = [
        InvalidMetadata("classifier", f"{c!r} is not a valid classifier.")
        for c in sorted(classifiers - known)
    ]
    for classifier in sorted(classifiers & deprecated.keys()):
        deprecated_by = deprecated[classifier]
        if deprecated_by:
            text = (
                f"The classifier {classifier!r} has been deprecated, "
                f"use one of {deprecated_by} instead."
            )
        else:
            text = f"The classifier {classifier!r} has been deprecated."
        errors.append(InvalidMetadata("classifier", text))
    return errors


def _url_errors(meta: Metadata) -> list[InvalidMetadata]:
    errors = [
        InvalidMetadata(field, f"{url!r} is not a valid url.")
        for attribute, field in _URL_FIELDS.items()
        if (url := getattr(meta, attribute)) is not None and not is_valid_uri(url)
    ]
    for label, url in (meta.project_urls or {}).items():
        if not label:
            errors.append(InvalidMetadata("project-url", "Must have a label"))
        elif len(label) > 32:
            errors.append(
                InvalidMetadata("project-url", f"{label!r} must be 32 characters or less.")
            )
        elif not url:
            errors.append(InvalidMetadata("project-url", "Must have a URL"))
        elif not is_valid_uri(url):
            errors.append(InvalidMetadata("project-url", f"{url!r} is not a valid url"))
    return errors


def _requirement_errors(meta: Metadata) -> list[InvalidMetadata]:
    errors = []
    for attribute, field in _DIST_FIELDS.items():
        for text in getattr(meta, attribute) or []:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                errors.append(InvalidMetadata(field, f"{text!r} is invalid: {exc}"))
                continue
            if requirement.url is not None:
                errors.append(InvalidMetadata(field, f"Can't have direct dependency: {text!r}"))
    errors.extend(
        InvalidMetadata("requires-dist", f"Can't have direct dependency: {requirement}")
        for requirement in meta.requires_dist or []
        if requirement.url is not None
    )
    errors.extend(
        InvalidMetadata("dynamic", f"Dynamic field {key!r} is not a valid dynamic field.")
        for key in meta.dynamic or []
        if key not in DYNAMIC_FIELDS
    )
    return errors


def metadata_errors(meta: Metadata) -> list[InvalidMetadata]:
    """warehouse/forklift/metadata.py ``_validate_metadata`` (not a backfill)."""
    errors: list[InvalidMetadata] = []
    if meta.metadata_version not in SUPPORTED_METADATA_VERSIONS:
        errors.append(
            InvalidMetadata(
                "metadata-version", f"{meta.metadata_version!r} is not a valid metadata version"
            )
        )
    if meta.version.local:
        errors.append(
            InvalidMetadata(
                "version", f"The use of local versions in '{meta.version}' is not allowed."
            )
        )
    for attribute, limit in _LENGTH_LIMITS.items():
        value = getattr(meta, attribute)
        if isinstance(value, str) and len(value) > limit:
            text = f"{attribute!r} field must be {limit} characters or less."
            errors.append(InvalidMetadata(attribute, text))
    errors += _email_errors(meta)
    errors += _classifier_errors(meta)
    errors += _url_errors(meta)
    errors += _requirement_errors(meta)
    if meta.license and meta.license_expression:
        errors.append(
            InvalidMetadata(
                "license",
                "License is deprecated when License-Expression is present. "
                "Only License-Expression should be present.",
            )
        )
    return errors


Render = Callable[..., Optional[str]]


def _renderer(media_type: Optional[str]) -> Optional[Render]:
    """warehouse/utils/readme.py ``_RENDERERS``; None: renders whatever it is given."""
    if media_type in (None, "", "text/x-rst"):
        render: Render = importlib.import_module("readme_renderer.rst").render
        return render
    if media_type == "text/markdown" and importlib.util.find_spec("cmarkgfm") is not None:
        render = importlib.import_module("readme_renderer.markdown").render
        return render
    if media_type == "text/markdown":
        # Without cmarkgfm: cmark renders any text that is not blank to something, and
        # readme_renderer answers None only for an empty rendering.
        return lambda text: text if text.strip() else None
    return None  # text/plain and anything else: readme_renderer.txt always renders


def readme_refusal(description: Optional[str], declared_type: Optional[str]) -> Optional[str]:
    """PyPI's text refusing a description that does not render, or None."""
    if not description:
        return None
    media_type: Optional[str] = None
    if declared_type:
        # readme.py: EmailMessage's get_content_type drops parameters and lower-cases.
        message = EmailMessage()
        message["content-type"] = declared_type
        media_type = message.get_content_type()
    render = _renderer(media_type)
    if render is None or render(description) is not None:
        return None
    if declared_type:
        said = f"The description failed to render for '{declared_type}'."
    else:
        said = "The description failed to render in the default format of reStructuredText."
    return f"{said} See {help_url('description-content-type')} for more information."
