"""Does the description render as PyPI renders it? (warehouse/forklift/legacy.py `file_upload`,
warehouse/utils/readme.py `render`.)

PyPI renders a description by its Description-Content-Type (reStructuredText when there is
none) with readme_renderer, and refuses the upload when that gives nothing (None). `refusal`
renders with readme_renderer itself, as the sandbox does (imported when called; the client
installs it only on demand, for reStructuredText); `failed_to_render` is warehouse's text.

Markdown is rendered by comrak (readme_renderer[md]), which gives nothing for a text of
blank lines and link reference definitions only (`[name]: https://...`): nothing to show,
and PyPI refuses it. `markdown_renders_to_nothing` tells those apart without comrak.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from email.message import EmailMessage
from typing import Callable, Optional

#: Where warehouse sends the reader of a description refusal.
HELP = "https://pypi.org/help/#description-content-type"

Render = Callable[..., Optional[str]]

#: CommonMark: a blank line holds spaces and tabs only (not every Unicode space: a line of
#: U+00A0 is a paragraph).
_BLANK = re.compile(r"[ \t]*")
#: CommonMark's link reference definition, on one line: `[label]: destination "title"`.
_LINK_DEFINITION = re.compile(
    r" {0,3}\[(?!\^)(?![ \t]*\])(?:[^\]\\]|\\.){1,999}\]:[ \t]*[^\s<][^\s]*"
    r"(?:[ \t]+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*"
)


def markdown_renders_to_nothing(text: str) -> bool:
    """Whether comrak renders `text` to nothing, as far as that is sure without comrak:
    blank lines and one-line link reference definitions only. Anything else renders."""
    lines = re.split(r"\r\n|\r|\n", text)
    blank_only = all(_BLANK.fullmatch(line) for line in lines)
    if blank_only:
        return True
    return all(_BLANK.fullmatch(line) or _LINK_DEFINITION.fullmatch(line) for line in lines)


def failed_to_render(declared_type: str | None) -> str:
    """legacy.py `file_upload`: the refusal, without its pointer to HELP."""
    if declared_type:
        return f"The description failed to render for '{declared_type}'."
    return "The description failed to render in the default format of reStructuredText."


def answer(declared_type: str | None) -> str:
    """legacy.py `file_upload`: PyPI's whole answer refusing a description."""
    return f"{failed_to_render(declared_type)} See {HELP} for more information."


def media_type(declared_type: str | None) -> str | None:
    """warehouse/utils/readme.py: EmailMessage's content type (parameters dropped, lower case)."""
    if not declared_type:
        return None
    message = EmailMessage()
    message["content-type"] = declared_type
    return message.get_content_type()


def _renderer(media: str | None) -> Render | None:
    """warehouse/utils/readme.py `_RENDERERS`; None: renders whatever it is given."""
    if media in (None, "", "text/x-rst"):
        render: Render = importlib.import_module("readme_renderer.rst").render
        return render
    if media == "text/markdown" and importlib.util.find_spec("comrak") is not None:
        render = importlib.import_module("readme_renderer.markdown").render
        return render
    if media == "text/markdown":
        # Without comrak (readme_renderer[md]): as far as that is sure without it.
        return lambda text: None if markdown_renders_to_nothing(text) else text
    return None  # text/plain and anything else: readme_renderer.txt always renders


def refusal(description: str | None, declared_type: str | None) -> str | None:
    """PyPI's whole answer refusing a description that does not render, or None."""
    if not description:
        return None
    render = _renderer(media_type(declared_type))
    if render is None or render(description) is not None:
        return None
    return answer(declared_type)
