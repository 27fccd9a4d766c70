"""A wheel's WHEEL file against its file name (pending upstream: pypi/warehouse PR #19411).

The PR (`_validate_wheel_file` in warehouse/forklift/legacy.py, as of its commit 6bbc855c)
refuses a wheel whose WHEEL file is not UTF-8, holds a compressed tag set
(`py2.py3-none-any` where each tag must have its own `Tag:` line), or whose tags differ from
the file name's. Installers read the tags from WHEEL, so such a wheel is broken whatever PyPI
decides: until the PR is merged, these reasons are warnings, in the PR's words.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable

from trusted_publish.dists.pypi_rules import invalid_distribution

#: The PR, named in the warning.
PENDING = "pypi/warehouse PR #19411"


def refusal(contents: bytes, filename_tags: Iterable[str]) -> str | None:
    """PR #19411 `_validate_wheel_file`: its reason, or None when WHEEL matches the name.

    `filename_tags` are the file name's expanded tags (`str(tag)` of packaging's tags).
    """
    from_name = set(filename_tags)
    try:
        content = contents.decode("utf-8")
    except UnicodeDecodeError:
        return "WHEEL file is not UTF-8 encoded"
    data = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(content)
    in_wheel = set()
    for key, value in data.items():
        if key != "Tag":
            continue
        if "." in value:
            return f"Tags in WHEEL file must be expanded, not compressed: '{value}'"
        in_wheel.add(value)
    if not in_wheel & from_name:
        return (
            "Wheel filename and WHEEL file tags mismatch: "
            f"'{_listed(from_name)}' vs. '{_listed(in_wheel)}'"
        )
    if in_wheel - from_name:
        return f"WHEEL file has tags not in wheel filename: '{_listed(in_wheel - from_name)}'"
    if from_name - in_wheel:
        return f"Wheel filename has tags not in WHEEL file: '{_listed(from_name - in_wheel)}'"
    return None


def warnings(member: str, contents: bytes, filename_tags: Iterable[str]) -> list[str]:
    """`refusal`, as a warning with what to do."""
    reason = refusal(contents, filename_tags)
    if reason is None:
        return []
    return [
        f"{member}: {reason}. Installers (pip, uv) read a wheel's tags from WHEEL, so they "
        f"may install it where it does not run or refuse it; PyPI will refuse it once "
        f'{PENDING} is merged ("{invalid_distribution(reason)}"). Rebuild the wheel '
        "with its build backend; never rename a wheel (the name must say what WHEEL says)"
    ]


def _listed(tags: Iterable[str]) -> str:
    return "', '".join(sorted(tags))
