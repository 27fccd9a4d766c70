"""PyPI's own refusals, as pypi/warehouse (main) applies them, as pure functions.

The one port of warehouse's upload rules, shared by the client's preflight and the sandbox's
upload view (which imports nothing else of the client): each rule once, each of warehouse's
texts once. A rule takes plain values (bytes, a file object, metadata fields) and gives
warehouse's reason or text; the client's `problems` functions quote it, so that a search for
the refusal finds our line, then say what to do. Where a refusal rests on a list that can be
older than PyPI's (trove classifiers, platform tags, metadata versions), the problem names the
list and its version, and the escape (`verify-metadata: false`) for when PyPI has moved on.

This package imports nothing of trusted_publish outside itself (tests/test_layout.py).
"""

from __future__ import annotations

#: The warehouse commit our copies of its lists were taken from (platform tags, metadata
#: versions): named in a refusal that rests on them.
WAREHOUSE_AS_OF = "pypi/warehouse as of 2026-08-21"

#: What to do when our copy of a list is older than PyPI's.
ESCAPE = (
    "if PyPI has added it since, upgrade trusted-publish, or set `verify-metadata: false` "
    "to let PyPI decide"
)

#: Where warehouse sends the reader of an archive refusal.
ARCHIVES_HELP = "See https://docs.pypi.org/archives for more information"

#: Where warehouse sends the reader of a metadata refusal (forklift/legacy.py `file_upload`).
CORE_METADATA_HELP = (
    "See https://packaging.python.org/specifications/core-metadata for more information."
)


#: warehouse/forklift/legacy.py `file_upload`: a file it cannot take (its content type).
INVALID_DISTRIBUTION = "Invalid distribution file."


def invalid_distribution(reason: str | None) -> str:
    """warehouse/forklift/legacy.py `file_upload`: an `_is_valid_dist_file` refusal (reason
    None when the archive could not be read at all)."""
    return f"{INVALID_DISTRIBUTION} {reason}"
