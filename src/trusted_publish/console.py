"""Everything the user sees: GitHub workflow commands inside Actions, plain text outside.

All output goes through one `Console`, which also holds every secret we have seen and blanks
it out of anything it prints. `::add-mask::` asks the runner to hide a value from the log; the
redaction here is our own second line, so a token can't leak even where masking is not
honoured (outside Actions, in `act`, in a captured test log).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

REDACTED = "***"


def _escape_data(text: str) -> str:
    # The runner's own escaping rules for a command's message (actions/toolkit command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Console:
    """Prints messages, masks secrets and writes outputs; knows whether it runs in Actions."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        verbose: bool = False,
    ) -> None:
        self._env = os.environ if env is None else env
        self._out = out
        self._err = err
        self.verbose = verbose
        self.in_actions = self._env.get("GITHUB_ACTIONS") == "true"
        self._secrets: set[str] = set()
        # Uploads run in threads later; a line must never interleave with another.
        self._lock = threading.Lock()

    # --- secrets -------------------------------------------------------------------------
    def mask(self, secret: str) -> None:
        """Register a secret the moment we hold it: masked by the runner, redacted by us."""
        for part in {secret, *secret.splitlines()}:
            # Very short values would blank out ordinary words; none of our tokens is short.
            if len(part) < 4 or part in self._secrets:
                continue
            self._secrets.add(part)
            if self.in_actions:
                # The one line that carries a secret: the runner consumes it and hides the
                # value everywhere after. It must not be redacted by our own filter.
                self._write(self._stdout, f"::add-mask::{_escape_data(part)}", redact=False)

    def redact(self, text: str) -> str:
        """`text` with every registered secret replaced by `***`, longest first."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    # --- messages ------------------------------------------------------------------------
    def info(self, text: str) -> None:
        self._write(self._stdout, text)

    def debug(self, text: str) -> None:
        if self.verbose:
            self._write(self._stdout, f"::debug::{_escape_data(text)}" if self.in_actions else text)

    def notice(self, text: str, *, title: str | None = None) -> None:
        self._annotation("notice", text, title)

    def warning(self, text: str, *, title: str | None = None) -> None:
        self._annotation("warning", text, title)

    def error(self, text: str, *, title: str | None = None) -> None:
        self._annotation("error", text, title)

    def _annotation(self, level: str, text: str, title: str | None) -> None:
        if self.in_actions:
            props = f" title={_escape_property(self.redact(title))}" if title else ""
            self._write(self._stdout, f"::{level}{props}::{_escape_data(self.redact(text))}")
        else:
            head = f"{level}: {title}: " if title else f"{level}: "
            self._write(self._stderr if level != "notice" else self._stdout, head + text)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible section in the Actions log; a plain heading elsewhere."""
        if self.in_actions:
            self._write(self._stdout, f"::group::{_escape_data(title)}")
            try:
                yield
            finally:
                self._write(self._stdout, "::endgroup::")
        else:
            self._write(self._stdout, f"== {title}")
            yield

    # --- files the runner reads ------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        """Write a step output; multi-line safe through a random heredoc delimiter."""
        path = self._env.get("GITHUB_OUTPUT")
        if not path:
            return
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        value = self.redact(value)
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        """Append to the job summary page, when the runner gave us one."""
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(self.redact(markdown) + "\n")

    # --- plumbing --------------------------------------------------------------------------
    @property
    def _stdout(self) -> TextIO:
        # Looked up late so pytest's capture (which swaps sys.stdout) sees our lines.
        return self._out if self._out is not None else sys.stdout

    @property
    def _stderr(self) -> TextIO:
        # In Actions every line goes to stdout so the order of the log is the order of events.
        if self.in_actions:
            return self._stdout
        return self._err if self._err is not None else sys.stderr

    def _write(self, stream: TextIO, line: str, *, redact: bool = True) -> None:
        with self._lock:
            stream.write((self.redact(line) if redact else line) + "\n")
            stream.flush()
