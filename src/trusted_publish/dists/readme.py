"""Does the README render the way PyPI renders it? PyPI refuses the upload when it doesn't.

PyPI (warehouse `utils/readme.py`) renders the description by its Description-Content-Type,
reStructuredText when there is none, and refuses the upload when rendering gives nothing:

- text/plain always renders (it is escaped and shown as is): nothing to check;
- text/markdown is rendered with comrak, which accepts any text; it renders to nothing for
  blank lines and link reference definitions only, which is what we check (no comrak
  needed: `pypi_rules.description.markdown_renders_to_nothing`);
- text/x-rst (or no content type) fails on any docutils warning. That needs docutils, so
  it is rendered with `readme_renderer`, the library PyPI uses.

`readme_renderer` is not a runtime dependency (the action installs only requests, pydantic
and packaging). When an rST description turns up and it is missing, it is installed from a
second hash-locked lock, requirements/readme.txt, but only into the action's own private
venv (see `ondemand`); anywhere else (a user's venv, a system Python) we never install into
someone else's Python: the check is skipped with a notice.
"""

from __future__ import annotations

import importlib
import io
import re
from typing import TYPE_CHECKING, Callable, Optional

from trusted_publish.dists.pypi_rules import description as rendering
from trusted_publish.runtime import extras

if TYPE_CHECKING:
    from trusted_publish.console import Console

RenderRst = Callable[..., Optional[str]]

_DOCUTILS_REPORT = re.compile(
    r"^<string>:(?P<line>\d*): \((?P<level>[A-Z]+)/\d\) (?P<message>.*)", re.MULTILINE
)
#: How many docutils reports one problem line shows.
_SHOWN_REPORTS = 3


def content_type(value: str | None) -> str:
    """The bare media type, lower case; PyPI's default (rST) when there is none."""
    return (value or "text/x-rst").split(";", 1)[0].strip().lower()


class ReadmeCheck:
    """Renders each distinct description once (a wheel and its sdist share one)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._cache: dict[tuple[str | None, str], tuple[list[str], list[str]]] = {}
        self._render: RenderRst | None = None
        self._looked_for_renderer = False

    def check(
        self, description: str | None, declared_type: str | None, *, can_declare: bool = True
    ) -> tuple[list[str], list[str]]:
        """(problems, warnings) for one description and its declared content type.

        `can_declare` is false for Metadata-Version 1.x, which has no Description-Content-Type:
        there its absence is no one's oversight and gets no warning.
        """
        if not description:
            return [], []  # PyPI renders only a description that is there
        key = (declared_type, description)
        if key not in self._cache:
            self._cache[key] = self._check(description, declared_type)
        problems, warnings = self._cache[key]
        return list(problems), list(warnings) if can_declare else []

    def _check(self, description: str, declared_type: str | None) -> tuple[list[str], list[str]]:
        media_type = content_type(declared_type)
        if media_type == "text/markdown":
            if not rendering.markdown_renders_to_nothing(description):
                return [], []
            blank = not description.strip(" \t\r\n")
            what = "is blank" if blank else "holds only link reference definitions"
            return [
                f"the description (README) {what}: as Markdown it renders to nothing, and PyPI "
                f'refuses the upload ("{rendering.answer(declared_type)}"); write a '
                "README, or leave the description out"
            ], []
        if media_type != "text/x-rst":
            # text/plain always renders; an unknown type is a metadata problem of its own.
            return [], []
        warnings = []
        if declared_type is None:
            warnings.append(
                "no Description-Content-Type: PyPI shows the description as reStructuredText. "
                'If the README is Markdown, say so (pyproject.toml: readme = "README.md", or '
                "Description-Content-Type: text/markdown)"
            )
        render = self._renderer()
        if render is None:
            return [], warnings
        stream = io.StringIO()
        if render(description, stream=stream) is not None:
            return [], warnings
        reports = _docutils_reports(stream.getvalue())
        if declared_type is None:
            said = rendering.failed_to_render(None)
            return [
                "the description (README) has no Description-Content-Type, so PyPI renders it "
                f'as reStructuredText, and it does not render ("{said}"): {reports}. If the '
                "README is Markdown, set Description-Content-Type: text/markdown (pyproject."
                'toml: readme = "README.md"); if it is reStructuredText, fix it '
                f"(see {rendering.HELP})"
            ], []
        return [
            "the description (README) does not render as reStructuredText, so PyPI would "
            f'refuse the upload ("{rendering.failed_to_render(declared_type)}"): '
            f"{reports}. Fix the README (`python -m readme_renderer README.rst` shows the same "
            "errors)"
        ], []

    def _renderer(self) -> RenderRst | None:
        if not self._looked_for_renderer:
            self._looked_for_renderer = True
            self._render = self._find_renderer()
        return self._render

    def _find_renderer(self) -> RenderRst | None:
        extra = extras.README
        found = extras.ensure(extra, self._console)
        if found.ready:
            render: RenderRst = importlib.import_module("readme_renderer.rst").render
            return render
        if not found.attempted:
            self._console.notice(
                f"The reStructuredText README was not checked: that needs {extra.packages}, "
                f"which is not installed ({found.why_not}). Run `{extra.install_elsewhere}` to "
                "check it here; PyPI checks it on upload."
            )
            return None
        self._console.warning(
            f"The reStructuredText README was not checked: installing {extra.packages} failed "
            f"({found.why_not}). PyPI checks it on upload."
        )
        return None


def _docutils_reports(text: str) -> str:
    """docutils' reports as `line N: Level: message`, the way `twine check` shows them."""
    reports = [
        f"line {m['line'] or '?'}: {m['level'].title()}: {m['message'].strip().rstrip('.')}"
        for m in _DOCUTILS_REPORT.finditer(text)
    ]
    if not reports:
        return text.strip() or "docutils gave no reason"
    shown = "; ".join(reports[:_SHOWN_REPORTS])
    more = len(reports) - _SHOWN_REPORTS
    return shown + (f" (and {more} more)" if more > 0 else "")
