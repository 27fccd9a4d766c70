"""Show a `Diagnosis`: for people, one block per publishing job through the console (whose
one gate escapes what came from the repository: job names, environments, remote URLs); for
tools, one JSON document (`--json`) with the stable keys README's "Before your first
release" lists.

The JSON text is safe to print in a workflow log too: `ensure_ascii` leaves no control or
line-separator character, every line starts with white space, `{`, `}` or `]` (never `::`),
and `##[`, which the runner reads as a legacy command anywhere in a line, is written
`#\\u0023[`, the same string to a JSON reader.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from trusted_publish.console import Console, untrusted
from trusted_publish.doctor.model import Diagnosis, Finding, JobReport

JSON_VERSION = 1
_CI = {"github": "GitHub Actions", "gitlab": "GitLab CI/CD"}
_INDEX = {"pypi": "PyPI", "testpypi": "TestPyPI", "other": "another index"}


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "severity": f.severity,
        "code": f.code,
        "message": f.message,
        "fix": f.fix,
        "file": f.file,
        "line": f.line,
    }


def to_json(diagnosis: Diagnosis) -> dict[str, Any]:
    jobs = [
        {
            "ci": job.ci,
            "file": job.file,
            "job": job.job,
            "line": job.line,
            "tool": job.tool,
            "indexes": list(job.indexes),
            "project": job.project,
            "publisher": job.publisher_keys,
            "links": [{"label": link.label, "url": link.url} for link in job.links],
            "notes": job.notes,
            "findings": [_finding_json(f) for f in job.findings],
        }
        for job in diagnosis.jobs
    ]
    everything = [*diagnosis.file_findings, *(f for j in diagnosis.jobs for f in j.findings)]
    return {
        "version": JSON_VERSION,
        "ok": diagnosis.ok,
        "read": diagnosis.read,
        "problems": sum(f.severity == "problem" for f in everything),
        "warnings": sum(f.severity == "warning" for f in everything),
        "jobs": jobs,
        "file_findings": [_finding_json(f) for f in diagnosis.file_findings],
    }


def write_json(diagnosis: Diagnosis, out: TextIO) -> None:
    text = json.dumps(to_json(diagnosis), indent=2, ensure_ascii=True)
    out.write(text.replace("##[", "#\\u0023[") + "\n")
    out.flush()


def _lines(text: str, indent: str) -> list[str]:
    return [indent + line for line in text.split("\n")]


def _finding_lines(f: Finding) -> list[str]:
    mark = "PROBLEM" if f.severity == "problem" else "warning"
    where = f"{f.file}:{f.line}" if f.line else f.file
    lines = [f"  {mark}  {where}: {untrusted(f.message)}"]
    lines.extend(_lines("fix: " + f.fix, "      "))
    return lines


def _job_lines(job: JobReport) -> list[str]:
    targets = " and ".join(_INDEX.get(i, i) for i in job.indexes)
    lines = [
        f"== {_CI[job.ci]} job '{untrusted(job.job)}' ({job.file}, line {job.line}): "
        f"{job.tool} to {targets}",
        "The trusted publisher it needs (as PyPI's form asks):",
    ]
    rows = list(job.publisher)
    rows.insert(0, ("PyPI Project Name", job.project or "(not found in pyproject.toml)"))
    width = max(len(name) for name, _ in rows) + 2
    lines.extend(f"    {name:<{width}}{untrusted(value)}" for name, value in rows)
    for note in job.notes:
        lines.append(f"  note: {untrusted(note)}")
    if job.links:
        lines.append("Add it on the index:")
        lines.extend(f"    {link.label}: {link.url}" for link in job.links)
        lines.append(
            "    (PyPI's pending-publisher form can't be filled in from a link: type the "
            "values above.)"
        )
    for f in job.findings:
        lines.extend(_finding_lines(f))
    problems = sum(f.severity == "problem" for f in job.findings)
    warnings = len(job.findings) - problems
    lines.append(f"   -> {problems} problem(s), {warnings} warning(s)")
    return lines


def show(diagnosis: Diagnosis, console: Console) -> None:
    """The human report: files read, one block per job, findings of files."""
    console.info("Read: " + (", ".join(diagnosis.read) if diagnosis.read else "no CI file"))
    for f in diagnosis.file_findings:
        for line in _finding_lines(f):
            console.info(line)
    for job in diagnosis.jobs:
        console.info("")
        for line in _job_lines(job):
            console.info(line)
