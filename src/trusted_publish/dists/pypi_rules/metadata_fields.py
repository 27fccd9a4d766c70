"""The metadata rules PyPI adds to `packaging`'s (warehouse/forklift/metadata.py).

`packaging.metadata` already refuses what the core-metadata specification forbids (bad
names, versions, requirements, license expressions, dynamic fields); warehouse's
`_validate_metadata` then refuses more: classifiers that are unknown or deprecated, email
addresses, URLs, Project-URL labels, Provides-Dist and Obsoletes-Dist, direct references,
License next to License-Expression. These are those rules, with warehouse's texts.
"""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from packaging.requirements import InvalidRequirement, Requirement

from trusted_publish.dists.pypi_rules import ESCAPE

#: warehouse/forklift/metadata.py: the Project-URL label limit.
MAX_LABEL = 32
#: RFC 3986 appendix B: how any URI reference splits (never fails).
_URI = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_SPEC = "See https://packaging.python.org/specifications/core-metadata for more information."


def problems(
    *,
    classifiers: Sequence[str] = (),
    author_email: str | None = None,
    maintainer_email: str | None = None,
    home_page: str | None = None,
    download_url: str | None = None,
    project_urls: Mapping[str, str] | None = None,
    provides_dist: Sequence[str] = (),
    obsoletes_dist: Sequence[str] = (),
    requires_dist: Sequence[str] = (),
    license: str | None = None,
    license_expression: str | None = None,
) -> list[str]:
    """Every field PyPI would refuse, in warehouse's order; fields as `packaging` parses them."""
    found: list[str] = []
    found += email_problems("Author-email", author_email)
    found += email_problems("Maintainer-email", maintainer_email)
    found += classifier_problems(classifiers)
    for name, url in (("Home-page", home_page), ("Download-URL", download_url)):
        if url is not None and not is_valid_url(url):
            found.append(
                _refused(
                    name,
                    f"{url!r} is not a valid url.",
                    "use an http:// or https:// URL (in pyproject.toml, list links under "
                    "[project.urls])",
                )
            )
    found += project_url_problems(project_urls or {})
    for name, values in (("Provides-Dist", provides_dist), ("Obsoletes-Dist", obsoletes_dist)):
        found += _dist_field_problems(name, values)
    for text in requires_dist:
        requirement = _requirement_or_none(text)
        if requirement is not None and requirement.url is not None:
            found.append(
                _refused(
                    "Requires-Dist",
                    f"Can't have direct dependency: {requirement}",
                    "PyPI takes no dependency on a URL or a path: depend on a released "
                    f"version of {requirement.name} instead (e.g. {requirement.name}>=1.0)",
                )
            )
    if license and license_expression:
        found.append(
            _refused(
                "License",
                "License is deprecated when License-Expression is present. Only "
                "License-Expression should be present.",
                "drop the License field: in pyproject.toml keep `license = "
                f'"{license_expression}"` only, and remove any license text or '
                "`license = {file = ...}` table (the backend then writes License-Expression "
                "alone)",
            )
        )
    return found


def email_problems(field: str, value: str | None) -> list[str]:
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
            _refused(
                field,
                f"{address!r} is not a valid email address: {exc}",
                "fix the address in pyproject.toml (project.authors / project.maintainers "
                "take `{name = ..., email = ...}`)",
            )
        ]
    return []


def classifier_problems(classifiers: Sequence[str]) -> list[str]:
    """Unknown and deprecated trove classifiers, against the installed trove-classifiers."""
    known, deprecated = _trove()
    unknown = sorted(set(classifiers) - known)
    old = sorted(set(classifiers) & deprecated.keys())
    if not unknown and not old:
        return []
    data = f"checked against trove-classifiers {_trove_version()}"
    found = [
        _refused(
            "Classifier",
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
        found.append(_refused("Classifier", text, f"{fix} ({data})"))
    return found


@functools.lru_cache(maxsize=1)
def _trove() -> tuple[frozenset[str], Mapping[str, list[str]]]:
    # Imported and turned into a set once per run, not once per file.
    from trove_classifiers import all_classifiers, deprecated_classifiers

    return frozenset(all_classifiers), deprecated_classifiers


def project_url_problems(urls: Mapping[str, str]) -> list[str]:
    found = []
    for label, url in urls.items():
        if not label:
            found.append(
                _refused("Project-URL", "Must have a label", "write it as `Label, https://...`")
            )
        elif len(label) > MAX_LABEL:
            found.append(
                _refused(
                    "Project-URL",
                    f"{label!r} must be {MAX_LABEL} characters or less.",
                    f"shorten the label in [project.urls] to {MAX_LABEL} characters or less",
                )
            )
        elif not url:
            found.append(
                _refused(
                    "Project-URL",
                    "Must have a URL",
                    f'give {label!r} a URL in [project.urls] (`{label} = "https://..."`)',
                )
            )
        elif not is_valid_url(url):
            found.append(
                _refused(
                    "Project-URL",
                    f"{url!r} is not a valid url",
                    f"give {label!r} an http:// or https:// URL in [project.urls]",
                )
            )
    return found


def is_valid_url(url: str) -> bool:
    """What warehouse/utils/http.py `is_valid_uri(url, require_authority=False)` accepts.

    There, rfc3986 percent-encodes the authority, path and query before validating them, so
    what can still fail is the scheme (present, http or https, any case) and the port.
    """
    match = _URI.match(url)
    if match is None:  # pragma: no cover - the RFC 3986 pattern matches every string
        return False
    scheme, authority = match.group(1), match.group(2)
    if not scheme or not _SCHEME.match(scheme) or scheme.lower() not in {"http", "https"}:
        return False
    if authority:
        host_port = authority.rpartition("@")[2]
        if not host_port.startswith("[") or "]:" in host_port:
            _, colon, port = host_port.rpartition(":")
            if colon and not (_PORT.match(port) and int(port) <= 65535):
                return False
    return True


def _dist_field_problems(field: str, values: Sequence[str]) -> list[str]:
    found = []
    for text in values:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            found.append(
                _refused(
                    field,
                    f"{text!r} is invalid: {exc}",
                    f"write {field} as a requirement (`name` or `name (>=1.0)`), or drop it: "
                    "installers ignore it",
                )
            )
            continue
        if requirement.url is not None:
            found.append(
                _refused(
                    field,
                    f"Can't have direct dependency: {text!r}",
                    f"name the distribution without a URL in {field}, or drop the field",
                )
            )
    return found


def _requirement_or_none(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None  # packaging.metadata reports it


def _refused(field: str, text: str, fix: str) -> str:
    # warehouse/forklift/legacy.py `file_upload`: the message ends with a period and a pointer
    # to the specification.
    said = text if text.endswith(".") else text + "."
    return f'metadata field {field}: PyPI refuses it ("{said} {_SPEC}"); {fix}'


def _trove_version() -> str:
    try:
        return installed_version("trove-classifiers")
    except PackageNotFoundError:  # pragma: no cover - a dependency, always installed
        return "(version unknown)"
