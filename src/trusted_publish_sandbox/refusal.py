"""A refused upload: the status code and the text PyPI answers with, and its help links.

The upload checks raise ``Refusal``; the warehouse turns it into the answer. PyPI's
database transaction is rolled back on any refusal, so nothing changes after one.
"""

from __future__ import annotations

__all__ = ["CORE_METADATA_URL", "STORAGE_LIMITS_URL", "Refusal", "bad", "help_url"]

HELP_URL = "https://pypi.org/help/"
CORE_METADATA_URL = "https://packaging.python.org/specifications/core-metadata"
STORAGE_LIMITS_URL = "https://docs.pypi.org/project-management/storage-limits"


class Refusal(Exception):
    """The upload is refused with ``status`` and PyPI's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> Refusal:
    """A 400 refusal, the most common one (warehouse's ``_exc_with_message(HTTPBadRequest)``)."""
    return Refusal(400, message)


def help_url(anchor: str) -> str:
    return f"{HELP_URL}#{anchor}"
