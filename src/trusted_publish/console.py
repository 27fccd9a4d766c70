"""Everything the user sees: GitHub workflow commands inside Actions, plain text outside.

All output goes through one `Console`, which also holds every secret we have seen and blanks
it out of anything it prints. `::add-mask::` asks the runner to hide a value from the log; the
redaction here is our own second line, so a token can't leak even where masking is not
honoured (outside Actions, in `act`, in a captured test log). A secret's derived forms are
secrets too: every spelling it can take on the wire or in our own output (`_derived_forms`:
the Basic header's base64 in UTF-8 and in Latin-1, which is how requests encodes it; its
percent-, JSON- and repr-escaped spellings; the spelling `untrusted()` shows). Text is
redacted before it is escaped and once more as the last step before it is written, so no
escaping can hide a secret from the filter or spell one out.

It is also the one escaping path for untrusted text (file names, metadata, OIDC claims,
server messages): `untrusted()` shows control characters escaped, so such a value can never
start a line of its own, and every line the console prints passes one gate: a line that the
runner would read as a workflow command (`::name::` at its start, or the legacy `##[name]`
anywhere in it) and is not one of ours is printed between `::stop-commands::<random>` and
`::<random>::`, GitHub's own way to print text that must not act.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import sys
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

REDACTED = "***"

#: Shorter values would blank out ordinary words; none of our tokens is this short.
_MIN_SECRET = 4

#: How the runner recognises a workflow command in a line of output: `::` after leading
#: white space (actions/runner ActionCommand.TryParseV2), or the legacy `##[` anywhere
#: (ActionCommand.TryParse, still consulted when the first form does not match).
_COMMAND_LIKE = re.compile(r"^\s*::|##\[")

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(char: str) -> bool:
    # Cc: C0, DEL and C1 controls (line breaks, ESC for terminal sequences); Cf: invisible
    # format characters, among them the bidi overrides that show text in another order;
    # Zl/Zp: the Unicode line and paragraph separators some viewers break lines at.
    # Cs: a lone surrogate (an undecodable byte of a file name or an environment value, as
    # Python spells it), which no UTF-8 stream or file can take.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def untrusted(value: object, *, keep: str = "") -> str:
    """`value` as text safe to show on one line: control characters escaped, `\\n` for a
    line break, `\\x1b` for ESC, `\\u202e` for a bidi override. `keep` names characters left
    as they are (the console keeps the line breaks of its own multi-line messages)."""
    text = str(value)
    if not any(_is_control(c) and c not in keep for c in text):
        return text
    return "".join(_escaped(c) if _is_control(c) and c not in keep else c for c in text)


def _escape_data(text: str) -> str:
    # The runner's own escaping rules for a command's message (actions/toolkit command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def shell_line(*argv: str) -> str:
    """A command for the user to copy, each word quoted for a POSIX shell: a value in it (a
    folder name, a version) is one word, whatever `;`, `|`, `$(...)` or quotes it holds."""
    return shlex.join(argv)


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
        self._unwritable: set[str] = set()
        # Uploads run in threads later; a line must never interleave with another.
        self._lock = threading.Lock()

    # --- secrets -------------------------------------------------------------------------
    def mask(self, secret: str, *, basic_user: str | None = None) -> None:
        """Register a secret the moment we hold it: masked by the runner, redacted by us.

        Its derived forms are registered with it: a message may carry it percent- or
        JSON-escaped, and for a secret sent as the password of Basic auth (`basic_user`: the
        user it goes with), an index that echoes our request shows the `Authorization:
        Basic` value, base64 of `<user>:<secret>`.
        """
        for part in {secret, *secret.splitlines()}:
            for form in _derived_forms(part, basic_user):
                # Very short values would blank out ordinary words.
                if len(form) < _MIN_SECRET or form in self._secrets:
                    continue
                self._secrets.add(form)
                if self.in_actions:
                    # The one line that carries a secret: the runner consumes it and hides
                    # the value everywhere after. It must not be redacted by our own filter.
                    self._write(self._stdout, f"::add-mask::{_escape_data(form)}", redact=False)

    def mask_url(self, url: str) -> None:
        """Register what a URL may carry as a secret: its query, fragment and password.

        Shown URLs are sanitized (`net.sanitize_url`); this catches the same values when an
        index echoes the request's path back in its answer.
        """
        try:
            parts = urlsplit(url.strip())
            password = parts.password
        except ValueError:
            return
        values = [parts.query, parts.fragment, password or ""]
        values += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
        values += [value for _, value in parse_qsl(parts.fragment, keep_blank_values=True)]
        for value in values:
            if value:
                self.mask(value)

    def redact(self, text: str) -> str:
        """`text` with every registered secret replaced by `***`, longest first.

        Repeated until none is left: a replacement can join the text around it into a
        secret again (`*****` holds `****` once more after one pass). Each pass shortens the
        text (a secret is longer than `***`), so this ends.
        """
        ordered = sorted(self._secrets, key=len, reverse=True)
        while True:
            before = text
            for secret in ordered:
                text = text.replace(secret, REDACTED)
            if text == before:
                return text

    # --- messages ------------------------------------------------------------------------
    def info(self, text: str) -> None:
        """One line of log: a line break in `text` is shown escaped, like any control."""
        self._say(self._stdout, untrusted(self.redact(text)))

    def verbatim(self, text: str) -> None:
        """A block of lines printed as they are (a traceback): inside Actions, always between
        `::stop-commands::` and its end, since any line of it may come from elsewhere."""
        self._say(self._stdout, untrusted(self.redact(text), keep="\n"), fence=True)

    def debug(self, text: str) -> None:
        if self.verbose:
            if self.in_actions:
                self._write(self._stdout, f"::debug::{_escape_data(untrusted(self.redact(text)))}")
            else:
                self._say(self._stdout, untrusted(self.redact(text)))

    def notice(self, text: str, *, title: str | None = None) -> None:
        self._annotation("notice", text, title)

    def warning(self, text: str, *, title: str | None = None) -> None:
        self._annotation("warning", text, title)

    def error(self, text: str, *, title: str | None = None) -> None:
        self._annotation("error", text, title)

    def _annotation(self, level: str, text: str, title: str | None) -> None:
        # An annotation may span lines (an error's details and fix); other controls are
        # shown escaped. Inside Actions the whole message is one command line. A secret is
        # redacted before the escaping, which would otherwise spell it differently.
        text = untrusted(self.redact(text), keep="\n")
        title = untrusted(self.redact(title)) if title else None
        if self.in_actions:
            props = f" title={_escape_property(title)}" if title else ""
            self._write(self._stdout, f"::{level}{props}::{_escape_data(text)}")
        else:
            head = f"{level}: {title}: " if title else f"{level}: "
            self._say(self._stderr if level != "notice" else self._stdout, head + text)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible section in the Actions log; a plain heading elsewhere."""
        title = untrusted(self.redact(title))
        if self.in_actions:
            self._write(self._stdout, f"::group::{_escape_data(title)}")
            try:
                yield
            finally:
                self._write(self._stdout, "::endgroup::")
        else:
            self._say(self._stdout, f"== {title}")
            yield

    # --- files the runner reads ------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        """Write a step output; multi-line safe through a random heredoc delimiter."""
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        value = self.redact(value)
        entry = f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        self._append("GITHUB_OUTPUT", "step outputs", entry)

    def summary(self, markdown: str) -> None:
        """Append to the job summary page, when the runner gave us one."""
        self._append("GITHUB_STEP_SUMMARY", "job summary", self.redact(markdown) + "\n")

    def _append(self, variable: str, what: str, text: str) -> None:
        # A full disk or an unwritable file costs the outputs or the summary, not the run:
        # what happened to the files has already happened, and the run's own result (its
        # error, its exit code) must not be replaced by this one. Warned about once per file.
        path = self._env.get(variable)
        if not path or variable in self._unwritable:
            return
        text = self.redact(_no_surrogates(text))
        try:
            with Path(path).open("a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            self._unwritable.add(variable)
            self.warning(
                f"Could not write the {what} to ${variable} ({untrusted(path)}): "
                f"{exc.strerror or type(exc).__name__}. The run's result stands; the {what} "
                "of this step is missing or incomplete.",
                title="trusted-publish: " + what,
            )

    def messages_to_stderr(self) -> None:
        """From now on every line, errors included, goes to stderr: stdout carries one
        document alone (`doctor --json`)."""
        self._out = self._err if self._err is not None else sys.stderr

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

    def _say(self, stream: TextIO, text: str, *, fence: bool = False) -> None:
        """Lines that are not workflow commands: the one gate every such line passes."""
        text = self.redact(text)
        if self.in_actions and (fence or _commandish(text)):
            # The token is random per block: text inside can't end the pause it can't see.
            token = secrets.token_hex(16)
            text = f"::stop-commands::{token}\n{text}\n::{token}::"
        self._write(stream, text, redact=False)

    def _write(self, stream: TextIO, line: str, *, redact: bool = True) -> None:
        line = _no_surrogates(line)
        with self._lock:
            stream.write((self.redact(line) if redact else line) + "\n")
            stream.flush()


def _no_surrogates(text: str) -> str:
    """`text` with each lone surrogate spelled `\\udcxx`: no UTF-8 stream or file takes one
    (the last step before writing, so an odd value can't cost the report)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _commandish(text: str) -> bool:
    return any(_COMMAND_LIKE.search(line) for line in text.split("\n"))


def _derived_forms(secret: str, basic_user: str | None) -> list[str]:
    """A secret as it may appear in a request, an echo of it, or our own output: itself first."""
    forms = [secret]
    if basic_user is not None:
        # requests encodes a str user and password as Latin-1 (`requests.auth._basic_auth_str`);
        # UTF-8 is what an index or a proxy that re-encodes would show.
        pair = f"{basic_user}:{secret}"
        for encoding in ("latin-1", "utf-8"):
            try:
                forms.append(base64.b64encode(pair.encode(encoding)).decode())
            except UnicodeEncodeError:
                continue
    # Percent-escaped as a URL's path or query carries it, in UTF-8 and in Latin-1 (a value
    # that one of them can't encode, a lone surrogate from the environment among them, has
    # no such spelling in it).
    for encoding in ("utf-8", "latin-1"):
        for escape, safe in ((quote, ""), (quote, "/"), (quote_plus, "")):
            with suppress(UnicodeEncodeError):
                forms.append(escape(secret, safe=safe, encoding=encoding, errors="strict"))
    forms.append(json.dumps(secret)[1:-1])
    forms.append(json.dumps(secret, ensure_ascii=False)[1:-1])
    # A message that shows a value with !r; the spelling our own escaping shows.
    forms.append(repr(secret)[1:-1])
    forms.append(untrusted(secret))
    forms.append(untrusted(secret, keep="\n"))
    return list(dict.fromkeys(forms))
