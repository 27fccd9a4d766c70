"""The metadata rules PyPI adds to `packaging`'s (warehouse/forklift/metadata.py).

`packaging.metadata` already refuses what the core-metadata specification forbids (bad
names, versions, requirements, license expressions, dynamic fields); warehouse's
`_validate_metadata` then refuses more: classifiers that are unknown or deprecated, email
addresses, URLs, Project-URL labels, Provides-Dist and Obsoletes-Dist, direct references,
License next to License-Expression, and metadata versions, local versions, long summaries and
Dynamic entries it does not take. These are those rules (`validate`), with warehouse's texts
and what to do about each.
"""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from trusted_publish.dists.pypi_rules import CORE_METADATA_HELP, ESCAPE, WAREHOUSE_AS_OF

#: warehouse/forklift/metadata.py `SUPPORTED_METADATA_VERSIONS` (packaging knows newer ones).
METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
#: warehouse/forklift/metadata.py `DYNAMIC_FIELDS`, lower-cased as it compares them.
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
#: warehouse/forklift/metadata.py `_LENGTH_LIMITS`.
MAX_SUMMARY = 512
#: warehouse/forklift/metadata.py: the Project-URL label limit.
MAX_LABEL = 32


@dataclass(frozen=True)
class Refused:
    """One of warehouse's metadata errors: the field (as warehouse names it, lower case),
    its text, and what to do about it."""

    field: str
    text: str
    fix: str = ""


def validate(
    *,
    metadata_version: str | None = None,
    version: Version | None = None,
    summary: str | None = None,
    classifiers: Sequence[str] = (),
    author_email: str | None = None,
    maintainer_email: str | None = None,
    home_page: str | None = None,
    download_url: str | None = None,
    project_urls: Mapping[str, str] | None = None,
    provides_dist: Sequence[str] = (),
    obsoletes_dist: Sequence[str] = (),
    requires_dist: Sequence[str] = (),
    dynamic: Sequence[str] = (),
    license: str | None = None,
    license_expression: str | None = None,
) -> list[Refused]:
    """warehouse/forklift/metadata.py `_validate_metadata` (not a backfill), in its order.

    The fields as `packaging` parses them; a field left out (None) is not judged.
    """
    found: list[Refused] = []
    if metadata_version is not None and metadata_version not in METADATA_VERSIONS:
        found.append(
            Refused(
                "metadata-version",
                f"{metadata_version!r} is not a valid metadata version",
                "use a build backend release that writes a version PyPI knows (PyPI's list "
                f"as of {WAREHOUSE_AS_OF}; {ESCAPE})",
            )
        )
    if version is not None and version.local:
        found.append(
            Refused(
                "version",
                f"The use of local versions in '{version}' is not allowed.",
                f"build from a tagged commit, or drop the '+{version.local}' part "
                '(setuptools-scm: local_scheme = "no-local-version")',
            )
        )
    if summary is not None and len(summary) > MAX_SUMMARY:
        found.append(
            Refused("summary", f"'summary' field must be {MAX_SUMMARY} characters or less.")
        )
    found += email_problems("author-email", author_email)
    found += email_problems("maintainer-email", maintainer_email)
    found += classifier_problems(classifiers)
    for name, url in (("home-page", home_page), ("download-url", download_url)):
        if url is not None and not is_valid_url(url):
            found.append(
                Refused(
                    name,
                    f"{url!r} is not a valid url.",
                    "use an http:// or https:// URL (in pyproject.toml, list links under "
                    "[project.urls])",
                )
            )
    found += project_url_problems(project_urls or {})
    for name, values in (("provides-dist", provides_dist), ("obsoletes-dist", obsoletes_dist)):
        found += _dist_field_problems(name, values)
    for text in requires_dist:
        requirement = _requirement_or_none(text)
        if requirement is not None and requirement.url is not None:
            found.append(
                Refused(
                    "requires-dist",
                    f"Can't have direct dependency: {requirement}",
                    "PyPI takes no dependency on a URL or a path: depend on a released "
                    f"version of {requirement.name} instead (e.g. {requirement.name}>=1.0)",
                )
            )
    found.extend(
        Refused(
            "dynamic",
            f"Dynamic field {key!r} is not a valid dynamic field.",
            "list only fields the build backend fills in under Dynamic",
        )
        for key in dynamic
        if key.lower() not in DYNAMIC_FIELDS
    )
    if license and license_expression:
        found.append(
            Refused(
                "license",
                "License is deprecated when License-Expression is present. Only "
                "License-Expression should be present.",
                "drop the License field: in pyproject.toml keep `license = "
                f'"{license_expression}"` only, and remove any license text or '
                "`license = {file = ...}` table (the backend then writes License-Expression "
                "alone)",
            )
        )
    return found


def quoted(refused: Refused) -> str:
    """warehouse/forklift/legacy.py `file_upload`: the text as PyPI answers it (a period, then
    the pointer to the specification)."""
    said = refused.text if refused.text.endswith(".") else refused.text + "."
    return f"{said} {CORE_METADATA_HELP}"


def email_problems(field: str, value: str | None) -> list[Refused]:
    """warehouse checks the address part with email-validator, deliverability not checked."""
    if not value:
        return []
    # warehouse/forklift/metadata.py `_validate_metadata`: parseaddr, then email-validator.
    # The address is one: a list "a@x, b@y" parses to its first address, as there.
    _, address = email.utils.parseaddr(value)
    if not address:
        return []
    import email_validator

    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        return [
            Refused(
                field,
                f"{address!r} is not a valid email address: {exc}",
                "fix the address in pyproject.toml (project.authors / project.maintainers "
                "take `{name = ..., email = ...}`)",
            )
        ]
    return []


def classifier_problems(classifiers: Sequence[str]) -> list[Refused]:
    """Unknown and deprecated trove classifiers, against the installed trove-classifiers."""
    known, deprecated = _trove()
    unknown = sorted(set(classifiers) - known)
    old = sorted(set(classifiers) & deprecated.keys())
    if not unknown and not old:
        return []
    data = f"checked against trove-classifiers {_trove_version()}"
    found = [
        Refused(
            "classifier",
            f"{c!r} is not a valid classifier.",
            f"use one from https://pypi.org/classifiers/ ({data}; {ESCAPE})",
        )
        for c in unknown
    ]
    for c in old:
        replaced_by = deprecated[c]
        if replaced_by:
            text = f"The classifier {c!r} has been deprecated, use one of {replaced_by} instead."
            fix = f"replace it with {' or '.join(repr(r) for r in replaced_by)}"
        else:
            text = f"The classifier {c!r} has been deprecated."
            fix = "remove it"
        found.append(Refused("classifier", text, f"{fix} ({data})"))
    return found


@functools.lru_cache(maxsize=1)
def _trove() -> tuple[frozenset[str], Mapping[str, list[str]]]:
    # Imported and turned into a set once per run, not once per file.
    from trove_classifiers import all_classifiers, deprecated_classifiers

    return frozenset(all_classifiers), deprecated_classifiers


def project_url_problems(urls: Mapping[str, str]) -> list[Refused]:
    found = []
    for label, url in urls.items():
        if not label:
            found.append(
                Refused("project-url", "Must have a label", "write it as `Label, https://...`")
            )
        elif len(label) > MAX_LABEL:
            found.append(
                Refused(
                    "project-url",
                    f"{label!r} must be {MAX_LABEL} characters or less.",
                    f"shorten the label in [project.urls] to {MAX_LABEL} characters or less",
                )
            )
        elif not url:
            found.append(
                Refused(
                    "project-url",
                    "Must have a URL",
                    f'give {label!r} a URL in [project.urls] (`{label} = "https://..."`)',
                )
            )
        elif not is_valid_url(url):
            found.append(
                Refused(
                    "project-url",
                    f"{url!r} is not a valid url",
                    f"give {label!r} an http:// or https:// URL in [project.urls]",
                )
            )
    return found


def is_valid_url(url: str) -> bool:
    """warehouse/utils/http.py `is_valid_uri(url, require_authority=False)`, with rfc3986 as
    there: an http or https scheme, and a valid host, port, path and query once normalized."""
    from rfc3986 import exceptions, uri_reference, validators

    reference = uri_reference(url).normalize()
    validator = validators.Validator().allow_schemes("http", "https")
    validator.require_presence_of("scheme")
    validator.check_validity_of("scheme", "host", "port", "path", "query")
    try:
        validator.validate(reference)
    except exceptions.ValidationError:
        return False
    return True


def _dist_field_problems(field: str, values: Sequence[str]) -> list[Refused]:
    found = []
    for text in values:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            found.append(
                Refused(
                    field,
                    f"{text!r} is invalid: {exc}",
                    f"write {field.title()} as a requirement (`name` or `name (>=1.0)`), or drop "
                    "it: installers ignore it",
                )
            )
            continue
        if requirement.url is not None:
            found.append(
                Refused(
                    field,
                    f"Can't have direct dependency: {text!r}",
                    f"name the distribution without a URL in {field.title()}, or drop the field",
                )
            )
    return found


def _requirement_or_none(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None  # packaging.metadata reports it


def _trove_version() -> str:
    try:
        return installed_version("trove-classifiers")
    except PackageNotFoundError:  # pragma: no cover - a dependency, always installed
        return "(version unknown)"
