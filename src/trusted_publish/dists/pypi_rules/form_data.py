"""What warehouse does to the upload form before it reads metadata from it.

warehouse/forklift/decorators.py `sanitize` runs before the upload view: it deletes every
field whose value is `UNKNOWN` (distutils' placeholder for a missing "required" value) and
escapes NUL characters. warehouse/forklift/metadata.py `parse_form_metadata` then treats a
field whose only value is empty as not sent. The metadata PyPI validates is what is left:
an `UNKNOWN` or empty Home-page, Author-email, Download-URL... is no refusal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: decorators.py `sanitize`: the value distutils wrote for what it did not know.
UNKNOWN = "UNKNOWN"


def is_unknown(value: str) -> bool:
    """decorators.py `sanitize`: `value.strip() == "UNKNOWN"` deletes the field."""
    return value.strip() == UNKNOWN


def sanitize(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """decorators.py `sanitize` on the form's text fields, as webob's MultiDict does it.

    For each key, `request.POST.get(key)` is the key's LAST value: when that is `UNKNOWN`,
    `del` drops every value of the key; when it holds a NUL, assigning the escaped value
    replaces every value of the key with that one, now last in the form.
    """
    items = list(pairs)
    for key, _ in list(items):
        values = [value for name, value in items if name == key]
        if not values:
            continue  # deleted at an earlier turn of the same key
        value = values[-1]
        if is_unknown(value):
            items = [(name, v) for name, v in items if name != key]
        if "\x00" in value:
            items = [(name, v) for name, v in items if name != key]
            items.append((key, value.replace("\x00", "\\x00")))
    return items


def as_sent(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `raw` (packaging's RawMetadata) that warehouse reads once they are sent
    in the upload form as twine sends them (a list field one value per entry, keywords
    joined with ", ", each Project-URL as "label, url"): `sanitize` drops a field whose
    last value is UNKNOWN, `parse_form_metadata` one whose only value is empty."""
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "project_urls" and isinstance(value, Mapping):
            sent = [f"{label}, {url}" for label, url in value.items()]
        elif key == "keywords" and isinstance(value, list):
            sent = [", ".join(value)]
        elif isinstance(value, list):
            sent = [str(item) for item in value]
        else:
            sent = [str(value)]
        if sent and (is_unknown(sent[-1]) or sent == [""]):
            continue
        kept[key] = value
    return kept
