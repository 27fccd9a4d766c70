"""PyPI's own refusals, as pypi/warehouse (main) applies them, as pure functions.

Each function takes plain values (bytes, a file object, metadata fields) and returns a list
of problems: PyPI's own words, quoted so that a search for the refusal finds our line, then
what to do. Where a refusal rests on a list that can be older than PyPI's (trove classifiers,
platform tags, metadata versions), the problem names the list and its version, and the
escape (`verify-metadata: false`) for when PyPI has moved on.
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
