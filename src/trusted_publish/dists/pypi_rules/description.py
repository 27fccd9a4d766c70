"""Does the description render as PyPI renders it? (warehouse/forklift/legacy.py `file_upload`,
warehouse/utils/readme.py `render`.)

PyPI renders a description by its Description-Content-Type (reStructuredText when there is
none) with readme_renderer, and refuses the upload when that gives nothing. `refusal` renders
with readme_renderer itself (imported when called: a library the sandbox installs, and the
client only on demand); `failed_to_render` is warehouse's text.
"""

from __future__ import annotations

import importlib
import importlib.util
from email.message import EmailMessage
from typing import Callable, Optional

#: Where warehouse sends the reader of a description refusal.
HELP = "https://pypi.org/help/#description-content-type"

Render = Callable[..., Optional[str]]


def failed_to_render(declared_type: str | None) -> str:
    """legacy.py `file_upload`: the refusal, without its pointer to HELP."""
    if declared_type:
        return f"The description failed to render for '{declared_type}'."
    return "The description failed to render in the default format of reStructuredText."


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
    if media == "text/markdown" and importlib.util.find_spec("cmarkgfm") is not None:
        render = importlib.import_module("readme_renderer.markdown").render
        return render
    if media == "text/markdown":
        # Without cmarkgfm: cmark renders any text that is not blank to something, and
        # readme_renderer answers None only for an empty rendering.
        return lambda text: text if text.strip() else None
    return None  # text/plain and anything else: readme_renderer.txt always renders


def refusal(description: str | None, declared_type: str | None) -> str | None:
    """PyPI's whole answer refusing a description that does not render, or None."""
    if not description:
        return None
    render = _renderer(media_type(declared_type))
    if render is None or render(description) is not None:
        return None
    return f"{failed_to_render(declared_type)} See {HELP} for more information."
