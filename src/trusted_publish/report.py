"""What a run did, file by file, written where people look: the log, the job summary page and
the step's outputs. Written on failure too, so the summary shows what landed and why it
stopped: per file its result, whether the index was seen serving it (verified) and its
provenance; per release its page and the `pip install` line; and how long each stage took.
The conductor (`publish`) alone fills it in, from what each stage returns or announces.

The summary is Markdown, and file names, versions and the error's text are untrusted: each
value sits in a code span or code block fenced by more backticks than it holds, with its
control characters escaped and `|` escaped in table cells, so no value can end its cell, its
block or the table, or become a heading, a link or an image.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from trusted_publish.console import untrusted
from trusted_publish.dists.discover import Distribution, human_size
from trusted_publish.errors import Interrupted, VerificationError
from trusted_publish.index.provenance import ProvenanceCheck

# The results the stages produce, each defined by its stage: the report only reads them.
from trusted_publish.index.scheduler import Status
from trusted_publish.index.verify import Verified

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.errors import PublishError
    from trusted_publish.index.target import Index


#: The stages whose durations the summary shows, in the order they run.
STAGES = ("checks", "exchange", "look-up", "signing", "uploads", "verification")


@dataclass
class Report:
    """Every file of the run and what became of it; safe to update from upload threads."""

    index: Index
    dry_run: bool = False
    dists: list[Distribution] = field(default_factory=list)
    status: dict[str, Status] = field(default_factory=dict)
    error: Optional[PublishError] = None
    verified: dict[str, Verified] = field(default_factory=dict)
    provenance: dict[str, ProvenanceCheck] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took (`STAGES`), for the stages that ran."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _final: bool = field(default=False, repr=False)

    def planned(self, dists: list[Distribution]) -> None:
        self.dists = list(dists)
        self.status = {d.filename: Status.PENDING for d in dists}

    def mark(self, dist: Distribution, status: Status) -> None:
        with self._lock:
            if not self._final:
                self.status[dist.filename] = status

    def verify_result(self, dist: Distribution, verified: Verified) -> None:
        with self._lock:
            self.verified[dist.filename] = verified

    def provenance_result(self, dist: Distribution, check: ProvenanceCheck) -> None:
        with self._lock:
            self.provenance[dist.filename] = check

    def timed(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def files_verified(self, verified: Verified) -> list[Distribution]:
        with self._lock:
            return [
                d
                for d in self.dists
                if self.verified.get(d.filename, Verified.NOT_CHECKED) is verified
            ]

    def stopped(self) -> None:
        """The run stops now: a file still in flight may or may not land, so it is unknown.

        Upload threads that finish later can't change the report any more: it says what was
        known when it was written, never more.
        """
        with self._lock:
            for name, status in self.status.items():
                if status is Status.IN_FLIGHT:
                    self.status[name] = Status.UNKNOWN
            self._final = True

    def progress_lines(self) -> list[str]:
        """Which files landed, which may have, which never started: for an error's details."""
        with self._lock:
            by_status = {s: [n for n, v in self.status.items() if v is s] for s in Status}
        landed = by_status[Status.UPLOADED] + by_status[Status.SKIPPED]
        lines = []
        if landed:
            lines.append("Already on the index: " + ", ".join(sorted(landed)))
        unknown = by_status[Status.UNKNOWN] + by_status[Status.IN_FLIGHT]
        if unknown:
            lines.append(
                "In flight when the run stopped (unknown: a re-run with `skip-existing` "
                "settles it): " + ", ".join(unknown)
            )
        if by_status[Status.REFUSED]:
            lines.append("Refused by the index: " + ", ".join(by_status[Status.REFUSED]))
        if by_status[Status.PENDING] and (landed or unknown):
            lines.append("Not started: " + ", ".join(by_status[Status.PENDING]))
        return lines

    def files(self, *statuses: Status) -> list[Distribution]:
        with self._lock:
            return [d for d in self.dists if self.status.get(d.filename) in statuses]

    @property
    def uploaded(self) -> list[Distribution]:
        return self.files(Status.UPLOADED)

    @property
    def skipped(self) -> list[Distribution]:
        return self.files(Status.SKIPPED)

    def release_urls(self) -> list[str]:
        """The release pages of the published versions, for PyPI and TestPyPI."""
        seen: dict[str, None] = {}
        for dist in self.files(Status.UPLOADED, Status.SKIPPED):
            url = self.index.release_url(dist.name, dist.version)
            if url:
                seen.setdefault(url)
        return list(seen)

    # --- writing it out --------------------------------------------------------------------
    def headline(self) -> str:
        uploaded, skipped = len(self.uploaded), len(self.skipped)
        if isinstance(self.error, VerificationError):
            wrong = len(self.files_verified(Verified.NO))
            return (
                f"Uploaded, but the index does not serve {wrong} {_files(wrong)} as sent "
                f"({uploaded} uploaded, {skipped} already there, "
                f"{len(self.files_verified(Verified.YES))} verified)."
            )
        if self.error is not None:
            unknown = len(self.files(Status.UNKNOWN, Status.IN_FLIGHT))
            not_started = len(self.files(Status.PENDING))
            what = "Interrupted" if isinstance(self.error, Interrupted) else "Publishing failed"
            return (
                f"{what} ({uploaded} uploaded, {skipped} already there, {unknown} unknown, "
                f"{not_started} not started)."
            )
        if self.dry_run:
            would = len(self.files(Status.WOULD_UPLOAD))
            return f"Dry run: {would} {_files(would)} would be uploaded, {skipped} already there."
        verified = len(self.files_verified(Verified.YES))
        return (
            f"Done: {uploaded} {_files(uploaded)} uploaded"
            + (f", {skipped} already there" if skipped else "")
            + (f", {verified} verified on the index." if verified else ".")
        )

    def write(self, console: Console) -> None:
        """The closing line, the step outputs and the job summary."""
        if self.error is None:
            console.info(self.headline())
        for name, version in self._releases():
            # The summary's line, on the terminal too (shell-quoted by `Index.pip_install`).
            console.info(f"Install {name} {version}: {self.index.pip_install(name, version)}")
        console.set_output("uploaded", json.dumps([d.filename for d in self.uploaded]))
        console.set_output("skipped", json.dumps([d.filename for d in self.skipped]))
        unknown = self.files(Status.UNKNOWN, Status.IN_FLIGHT)
        console.set_output("unknown", json.dumps([d.filename for d in unknown]))
        pending = self.files(Status.PENDING)
        console.set_output("not-started", json.dumps([d.filename for d in pending]))
        console.set_output("project-urls", json.dumps(self.release_urls()))
        verified = self.files_verified(Verified.YES)
        console.set_output("verified", json.dumps([d.filename for d in verified]))
        console.summary(self.markdown())

    def markdown(self) -> str:
        icon = "❌" if self.error is not None else ("🧪" if self.dry_run else "✅")
        lines = [f"## {icon} trusted-publish", "", self.headline(), ""]
        if self.dists:
            lines += [
                "| file | size | sha256 | result | verified | provenance |",
                "| --- | ---: | --- | --- | --- | --- |",
            ]
            for dist in self.dists:
                status = self.status.get(dist.filename, Status.PENDING)
                verified = self.verified.get(dist.filename, Verified.NOT_CHECKED)
                lines.append(
                    f"| {_cell(dist.filename)} | {human_size(dist.size)} | "
                    f"{_cell(dist.sha256)} | {status.value} | {verified.value} | "
                    f"{self._provenance_cell(dist)} |"
                )
            lines.append("")
        lines += self._releases_markdown()
        if self.seconds:
            spent = " · ".join(
                f"{stage} {self.seconds[stage]:.1f} s" for stage in STAGES if stage in self.seconds
            )
            lines += [f"Time: {spent}", ""]
        if self.error is not None:
            lines += [f"### What went wrong ({self.error.stage})", ""]
            lines += [_code_block(self.error.render(), "text"), ""]
        return "\n".join(lines)

    def _provenance_cell(self, dist: Distribution) -> str:
        check = self.provenance.get(dist.filename)
        if check is None:
            return "not checked"
        # Our own URL (index, canonical name, checked version and file name, quoted).
        return f"[{check.state.value}](<{check.url}>)"

    def _releases_markdown(self) -> list[str]:
        """Per published release: its page and the line that installs it."""
        releases = self._releases()
        if not releases:
            return []
        lines = ["### Releases", ""]
        for name, version in releases:
            page = self.index.release_url(name, version)
            lines.append(
                f"{_code_span(name)} {_code_span(version)}" + (f": {_link(page)}" if page else "")
            )
            lines += ["", _code_block(self.index.pip_install(name, version), "sh"), ""]
            note = self.index.pip_install_note
            if note:
                lines += [note, ""]
        return lines

    def _releases(self) -> list[tuple[str, str]]:
        """The releases this run published (or found already there), in file order."""
        if self.dry_run:
            return []
        seen: dict[tuple[str, str], None] = {}
        for dist in self.files(Status.UPLOADED, Status.SKIPPED):
            seen.setdefault((dist.name, dist.version))
        return list(seen)


def _files(n: int) -> str:
    return "file" if n == 1 else "files"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code_span(text: str) -> str:
    """`text` as inline code: one line, fenced by more backticks than any run inside."""
    text = untrusted(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    # A space each side keeps a leading or trailing backtick from joining the fence;
    # Markdown strips one space from each side again.
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    # A table cell ends at any unescaped `|`, even inside a code span (GitHub's tables).
    return _code_span(text).replace("|", "\\|")


def _code_block(text: str, info: str) -> str:
    """`text` as a fenced block no line of it can close: the fence is longer than any run
    of backticks inside."""
    text = untrusted(text, keep="\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")


def _link(url: str) -> str:
    # A release page's path holds the project's name and version, from the files' metadata.
    return f"<{url}>" if _PLAIN_URL.fullmatch(url) else _code_span(url)
