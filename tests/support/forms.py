"""Upload forms as the index received them, grouped by file and by field name."""

from __future__ import annotations

from support.capture import CapturedRequest
from support.multipart import FormField


def forms_by_file(requests: list[CapturedRequest]) -> dict[str, list[FormField]]:
    forms: dict[str, list[FormField]] = {}
    for request in requests:
        form = request.form()
        content = dict(form)["content"]
        assert isinstance(content, tuple)
        forms[content[0]] = form
    return forms


def by_name(form: list[FormField]) -> dict[str, list[object]]:
    grouped: dict[str, list[object]] = {}
    for name, value in form:
        grouped.setdefault(name, []).append(value)
    return grouped
