"""A wheel's entry_points.txt as PyPI checks it (warehouse/utils/wheel.py `validate_entrypoints`).

PyPI refuses a wheel whose entry_points.txt is not UTF-8, not an INI file as the entry points
specification defines it (`=` as the only delimiter, case kept), or names a console or GUI
script with anything but letters, digits, `_`, `.` and `-` (a `/` would put the script
outside the scripts folder).
"""

from __future__ import annotations

import configparser
import re

#: warehouse/utils/wheel.py `_ENTRY_POINT_NAME_RE` (the entry points specification's names).
_NAME = re.compile(r"[\w.-]+")
_SCRIPT_SECTIONS = ("console_scripts", "gui_scripts")


class _CaseKeeping(configparser.ConfigParser):
    # The specification's names are case-sensitive; ConfigParser lowers them by default.
    def optionxform(self, optionstr: str) -> str:
        return optionstr


def problems(filename: str, member: str, data: bytes) -> list[str]:
    """The problem PyPI would report for `member` (the wheel's entry_points.txt), if any."""
    reason = refusal(data)
    if reason is None:
        return []
    # configparser's reasons span lines ("file: ..., line: 1"): one line in our list.
    reason = " ".join(reason.split())
    return [
        f'{member}: {reason}, so PyPI refuses the wheel ("{invalid(filename)}"): fix '
        "[project.scripts] / [project.entry-points] in pyproject.toml and rebuild"
    ]


def invalid(filename: str) -> str:
    """warehouse/forklift/legacy.py `file_upload`: its text when `refusal` gives a reason."""
    return f"Wheel '{filename}' has invalid entry points defined in the entry_points.txt file"


def refusal(data: bytes) -> str | None:
    """warehouse/utils/wheel.py `_validate_entrypoints`: why it refuses `data`, or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        return "entry_points.txt is not decodable as UTF-8"
    parser = _CaseKeeping(delimiters=("=",))
    try:
        parser.read_string(text)
    except configparser.Error as error:
        return f"entry_points.txt is not a valid INI file: {error!r}"
    for section in _SCRIPT_SECTIONS:
        if section not in parser:
            continue
        for name in parser[section]:
            if _NAME.fullmatch(name) is None:
                return f"Invalid entry point name {name!r} in {section!r}"
    return None
