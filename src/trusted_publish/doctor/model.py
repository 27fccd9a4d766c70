"""What doctor finds, as plain values: one `JobReport` per publishing job, with the publisher
PyPI needs for it and each `Finding` (a problem that would fail the release, or a warning
that weakens it), each with its fix. The checks build them; `render` shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

Severity = Literal["problem", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    """A stable name for tools (`missing-id-token`, `pull-request-target`...)."""
    message: str
    fix: str
    file: str
    line: int


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass
class JobReport:
    """One publishing job and what PyPI needs to trust it."""

    ci: Literal["github", "gitlab"]
    file: str
    job: str
    line: int
    tool: str
    """How it publishes: `trusted-publish`, `pypa/gh-action-pypi-publish`, `uv publish`..."""
    indexes: tuple[str, ...]
    """`pypi` and/or `testpypi` (or `other`: an index that is neither)."""
    publisher: list[tuple[str, str]] = field(default_factory=list)
    """(field as PyPI's form names it, value), in the form's order; "" = leave empty."""
    publisher_keys: dict[str, Optional[str]] = field(default_factory=dict)
    """The same fields under stable keys, for --json (None: doctor could not tell)."""
    project: Optional[str] = None
    links: list[Link] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def problem(self, code: str, message: str, fix: str, line: int, file: str = "") -> None:
        self.findings.append(Finding("problem", code, message, fix, file or self.file, line))

    def warning(self, code: str, message: str, fix: str, line: int, file: str = "") -> None:
        self.findings.append(Finding("warning", code, message, fix, file or self.file, line))


@dataclass
class Diagnosis:
    """Everything one doctor run found."""

    root: str
    read: list[str] = field(default_factory=list)
    """The CI files read, relative to the repository."""
    jobs: list[JobReport] = field(default_factory=list)
    file_findings: list[Finding] = field(default_factory=list)
    """Findings that belong to no job (a file that does not parse)."""

    @property
    def problems(self) -> list[Finding]:
        found = [f for f in self.file_findings if f.severity == "problem"]
        for job in self.jobs:
            found.extend(f for f in job.findings if f.severity == "problem")
        return found

    @property
    def ok(self) -> bool:
        return bool(self.jobs) and not self.problems
