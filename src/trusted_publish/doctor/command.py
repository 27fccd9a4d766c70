"""`trusted-publish doctor`: read a repository's CI files offline, report each publishing
job's publisher, problems and warnings, and end in a `DoctorError` when the release would
fail (or when no publishing job was found). The one function `cli` calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, TextIO

from trusted_publish.console import Console, untrusted
from trusted_publish.doctor import github, gitlab, render, repo, workflows
from trusted_publish.doctor.model import Diagnosis, Finding
from trusted_publish.doctor.yamlfile import BrokenYaml, load
from trusted_publish.errors import DoctorError, InputError

WORKFLOWS_DIR = Path(".github") / "workflows"


def _owner_repo(
    repository: Optional[str], root: Path
) -> tuple[Optional[tuple[str, str]], Optional[tuple[str, str]]]:
    """(GitHub owner/repo, GitLab namespace/project), from --repository or the origin remote."""
    if repository is not None:
        segments = tuple(s for s in repository.strip().strip("/").split("/") if s)
        if len(segments) < 2:
            raise InputError(
                f"--repository {untrusted(repository)!r} is not OWNER/REPO.",
                fix="Give it as GitHub or GitLab shows it: `--repository octo-org/demo`.",
            )
    else:
        url = repo.origin_url(root)
        remote = repo.parse_remote(url) if url else None
        if remote is None:
            return None, None
        segments = remote.path
    gh = (segments[0], segments[1]) if len(segments) == 2 else None
    lab = ("/".join(segments[:-1]), segments[-1])
    return gh, lab


def diagnose(root: Path, repository: Optional[str] = None) -> Diagnosis:
    """Everything doctor finds in the repository at `root` (no network)."""
    if not root.is_dir():
        raise InputError(
            f"{untrusted(str(root))} is not a folder.",
            fix="Run `trusted-publish doctor PATH` with the repository's top folder.",
        )
    diagnosis = Diagnosis(root=str(root))
    project = repo.project_name(root)
    is_self = repo.is_trusted_publish(root, project)
    gh_repo, lab_repo = _owner_repo(repository, root)
    parsed: list[workflows.Workflow] = []
    folder = root / WORKFLOWS_DIR
    files = sorted(p for p in folder.glob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    for path in files:
        shown = (WORKFLOWS_DIR / path.name).as_posix()
        diagnosis.read.append(shown)
        tree = load(path, shown)
        if isinstance(tree, BrokenYaml):
            diagnosis.file_findings.append(_broken(tree))
        else:
            parsed.append(workflows.read(tree, path.name, shown))
    ctx = github.Context(gh_repo, project, is_self)
    diagnosis.jobs.extend(github.check(parsed, ctx))
    pipeline = root / gitlab.PIPELINE_FILE
    if pipeline.is_file():
        diagnosis.read.append(gitlab.PIPELINE_FILE)
        tree = load(pipeline, gitlab.PIPELINE_FILE)
        if isinstance(tree, BrokenYaml):
            diagnosis.file_findings.append(_broken(tree))
        else:
            diagnosis.jobs.extend(gitlab.check(tree, lab_repo, project))
    return diagnosis


def _broken(tree: BrokenYaml) -> Finding:
    return Finding(
        "problem",
        "broken-yaml",
        f"{tree.path}" + (f", line {tree.line}" if tree.line else "") + f": {tree.reason}",
        "Fix the YAML: GitHub/GitLab would refuse this file, and doctor can't check it.",
        tree.path,
        tree.line,
    )


def run(
    path: str,
    repository: Optional[str],
    as_json: bool,
    console: Console,
    out: Optional[TextIO] = None,
) -> int:
    """Report on the repository at `path`; 0 when nothing would fail the release."""
    diagnosis = diagnose(Path(path), repository)
    if as_json:
        render.write_json(diagnosis, out if out is not None else sys.stdout)
    else:
        render.show(diagnosis, console)
    if not diagnosis.jobs:
        read = ", ".join(diagnosis.read) or "nothing: no .github/workflows/*.yml nor .gitlab-ci.yml"
        raise DoctorError(
            f"No publishing job found. Read: {read}.",
            fix="A job publishes with trusted-publish (`uses: <owner>/trusted-publish@…`), "
            "pypa/gh-action-pypi-publish, `uv publish`, `twine upload` or the trusted-publish "
            "command; run doctor in the repository's top folder.",
        )
    problems = diagnosis.problems
    if problems:
        raise DoctorError(
            f"{len(problems)} problem(s) would fail the release.",
            fix="Fix each problem shown above, then run `trusted-publish doctor` again.",
            details=[f"{p.file}:{p.line}: {p.code}" for p in problems],
        )
    if not as_json:
        console.info("")
        console.info("No problem found: this setup can publish once the publisher is on the index.")
    return 0


def parser() -> argparse.ArgumentParser:
    """`trusted-publish doctor`'s flags."""
    found = argparse.ArgumentParser(
        prog="trusted-publish doctor",
        description="Check a repository's release setup offline, before the first release: "
        "each publishing job's trusted publisher, and what would fail or weaken it.",
        allow_abbrev=False,
    )
    found.add_argument("path", nargs="?", default=".", help="the repository (default: .)")
    found.add_argument(
        "--repository",
        metavar="OWNER/REPO",
        help="the GitHub owner/repository or GitLab namespace/project (default: from the "
        "`origin` remote)",
    )
    found.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return found


def main(argv: Sequence[str], console: Console, env: Mapping[str, str]) -> int:
    """`trusted-publish doctor ARGV`, as `cli` runs it."""
    flags = parser().parse_args(argv)
    if flags.json:
        # stdout carries the document alone; messages (and the error, if any) go to stderr.
        console.messages_to_stderr()
    return run(flags.path, flags.repository, flags.json, console)
