"""What the GitHub Actions runner would do with a step's output: which lines it acts on as
workflow commands.

The runner reads the output line by line (a line ends at `\\n`, `\\r` or `\\r\\n`) and tries
two parsers on each: `::name props::data` at the start of the line after leading white
space, then the legacy `##[name props]data` anywhere in it (actions/runner
ActionCommandManager.TryProcessCommand). After `::stop-commands::<token>` no command acts
until a command named `<token>` comes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

#: The commands the runner registers (its command extensions, plus stop-commands).
REGISTERED = frozenset(
    {
        "set-env",
        "set-output",
        "save-state",
        "add-mask",
        "add-path",
        "add-matcher",
        "remove-matcher",
        "debug",
        "notice",
        "warning",
        "error",
        "group",
        "endgroup",
        "echo",
        "stop-commands",
    }
)

#: What our console itself prints; stop-commands only with a random token.
OURS = frozenset({"add-mask", "debug", "notice", "warning", "error", "group", "endgroup"})


@dataclass(frozen=True)
class Command:
    name: str
    properties: str
    data: str


def _unescape(data: str) -> str:
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _parse(line: str) -> Optional[Command]:
    text = line.lstrip()
    if text.startswith("::"):
        end = text.find("::", 2)
        if end >= 0:
            name, _, props = text[2:end].partition(" ")
            return Command(name, props, _unescape(text[end + 2 :]))
    start = line.find("##[")
    if start >= 0:
        close = line.find("]", start)
        if close >= 0:
            name, _, props = line[start + 3 : close].partition(" ")
            return Command(name, props, _unescape(line[close + 1 :]))
    return None


def commands(log: str) -> list[Command]:
    """The commands the runner would act on, in order (stop-commands and its end included)."""
    acted: list[Command] = []
    stop_token: Optional[str] = None
    for line in re.split(r"\r\n|\r|\n", log):
        command = _parse(line)
        if command is None:
            continue
        if stop_token is not None:
            if command.name.lower() == stop_token.lower():
                stop_token = None
                acted.append(command)
            continue
        if command.name not in REGISTERED:
            continue
        if command.name == "stop-commands":
            stop_token = command.data
        acted.append(command)
    return acted


def foreign_commands(
    log: str, *, masked: frozenset[str] = frozenset(), marker: str = "pwned"
) -> list[Command]:
    """Commands in `log` our console did not mean: a command it never prints, a pause whose
    token is not one of ours (32 random hex digits), an `add-mask` of a value not in
    `masked` (when given), and any command whose text starts with `marker`, the word the
    hostile values put after their own `::error::` or `::warning::`."""
    foreign: list[Command] = []
    for command in commands(log):
        if command.name == "stop-commands":
            if not re.fullmatch(r"[0-9a-f]{32}", command.data):
                foreign.append(command)
        elif re.fullmatch(r"[0-9a-f]{32}", command.name):
            continue  # the end of one of our pauses
        elif (
            command.name not in OURS
            or command.data.startswith(marker)
            or (command.name == "add-mask" and masked and command.data not in masked)
        ):
            foreign.append(command)
    return foreign
