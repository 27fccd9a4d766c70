"""GitHub Actions checks: find the publishing jobs of the workflows, name the trusted
publisher PyPI needs for each, and the problems and warnings of each job.

Which workflow file PyPI matches is warehouse's rule (warehouse/oidc/models/github.py):
`GitHubPublisherMixin.lookup_by_claims` takes the file name from the `job_workflow_ref`
claim, and `_check_job_workflow_ref` requires that claim to be exactly
`<publisher's owner/repo>/.github/workflows/<workflow_filename>@<ref or sha>`. For a job in
a reusable workflow, `job_workflow_ref` names the *called* file, at the ref it was called
at: PyPI matches the reusable workflow's own file name, and only when it is called from the
same repository at the same commit (`uses: ./.github/workflows/<file>`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from trusted_publish.doctor.forms import add_links
from trusted_publish.doctor.model import JobReport
from trusted_publish.doctor.publishing import Publish, builds, builds_with, from_script, from_uses
from trusted_publish.doctor.workflows import Job, Permissions, Workflow

_SHA = re.compile(r"^[0-9a-f]{40}$")
_FIRST_PARTY = ("actions", "github")
_REF_GUARD = re.compile(r"github\.(?:event_name|ref\b|ref_name|ref_type)|refs/tags/")

PERMISSION_FIX = (
    "Give the publishing job its own permissions block:\n"
    "    permissions:\n      id-token: write   # trusted publishing\n"
    "(a job's `permissions:` replaces the workflow's entirely: list every permission it needs)."
)


@dataclass(frozen=True)
class Context:
    owner_repo: Optional[tuple[str, str]]
    """(owner, repository) as --repository or the origin remote spells them."""
    project: Optional[str]
    is_self: bool


def publishing_steps(job: Job, is_self: bool) -> list[Publish]:
    found: list[Publish] = []
    for step in job.steps:
        if step.uses:
            hit = from_uses(
                step.uses, step.with_, {**job.env, **step.env}, step.line, is_self=is_self
            )
            if hit is not None:
                found.append(hit)
        if step.run:
            found.extend(from_script(step.run, {**job.env, **step.env}, step.line))
    return found


def _called_file(uses: str) -> Optional[str]:
    """The file a local reusable-workflow call names (`./.github/workflows/x.yml` → x.yml)."""
    prefix = "./.github/workflows/"
    path = uses.strip()
    return (
        path[len(prefix) :] if path.startswith(prefix) and "/" not in path[len(prefix) :] else None
    )


def check(workflows: Sequence[Workflow], ctx: Context) -> list[JobReport]:
    """One report per publishing job of `workflows` (already parsed)."""
    callers: dict[str, list[tuple[Workflow, Job]]] = {}
    remote_calls: dict[str, list[tuple[Workflow, Job, str]]] = {}
    for wf in workflows:
        for job in wf.jobs:
            if not job.uses:
                continue
            local = _called_file(job.uses)
            if local is not None:
                callers.setdefault(local, []).append((wf, job))
            elif "/.github/workflows/" in job.uses:
                name = job.uses.split("@", 1)[0].rsplit("/", 1)[-1]
                remote_calls.setdefault(name, []).append((wf, job, job.uses))
    reports: list[JobReport] = []
    for wf in workflows:
        for job in wf.jobs:
            steps = publishing_steps(job, ctx.is_self)
            if not steps:
                continue
            report = _report(wf, job, steps, ctx)
            if wf.reusable:
                _reusable(
                    report,
                    wf=wf,
                    job=job,
                    local=callers.get(wf.file, []),
                    remote=remote_calls.get(wf.file, []),
                )
            else:
                _triggers(report, wf, job)
                granted = _grants(job.permissions or wf.permissions)
                _id_token(report, granted, job, wf)
            _job_warnings(report, wf, job, steps)
            reports.append(report)
    return reports


def _grants(perms: Optional[Permissions]) -> bool:
    return perms is not None and perms.id_token


def _report(wf: Workflow, job: Job, steps: list[Publish], ctx: Context) -> JobReport:
    indexes = tuple(dict.fromkeys(s.index for s in steps))
    tools = ", ".join(dict.fromkeys(s.tool for s in steps))
    report = JobReport("github", wf.shown, job.id, job.line, tools, indexes, project=ctx.project)
    owner, repo = ctx.owner_repo or (None, None)
    fields = {
        "owner": owner,
        "repository": repo,
        "workflow_filename": wf.file,
        "environment": job.environment or "",
    }
    report.publisher_keys = dict(fields)
    report.publisher = [
        ("Owner", owner or "(unknown)"),
        ("Repository name", repo or "(unknown)"),
        ("Workflow name", wf.file),
        ("Environment name", job.environment or "(leave empty)"),
    ]
    if ctx.owner_repo is None:
        report.problem(
            "unknown-repository",
            "Could not tell the repository's owner and name: the repository has no `origin` "
            "remote doctor could read.",
            "Pass them: `trusted-publish doctor --repository OWNER/REPO`.",
            job.line,
        )
    if any(s.token for s in steps):
        report.warning(
            "stored-token",
            "This job passes a password or API token: it does not use trusted publishing.",
            "Remove the password and register the publisher below on PyPI: no secret to leak.",
            steps[0].line,
        )
    if owner and repo:
        params = {
            "provider": "github",
            "owner": owner,
            "repository": repo,
            "workflow_filename": wf.file,
        }
        if job.environment:
            params["environment"] = job.environment
        add_links(report, params, ctx.project)
    return report


def _id_token(report: JobReport, granted: bool, job: Job, wf: Workflow) -> None:
    if (
        granted
        or "other" in report.indexes
        or any(f.code == "stored-token" for f in report.findings)
    ):
        return
    where = (
        "its own `permissions:`"
        if job.permissions
        else (
            "the workflow's `permissions:`"
            if wf.permissions
            else "the repository's default token permissions"
        )
    )
    line = (job.permissions or wf.permissions or Permissions(False, job.line)).line
    report.problem(
        "missing-id-token",
        f"Job '{job.id}' gets its permissions from {where}, which do not grant "
        "`id-token: write`: GitHub gives it no OIDC token, so PyPI can't trust it.",
        PERMISSION_FIX,
        line,
        wf.shown,
    )


def _triggers(report: JobReport, trigger_wf: Workflow, job: Job) -> None:
    """Problems and warnings of `trigger_wf`'s triggers, for `job` (the one it starts)."""
    line = trigger_wf.on_line
    if "pull_request_target" in trigger_wf.triggers:
        report.problem(
            "pull-request-target",
            f"{trigger_wf.shown} runs on `pull_request_target`: PyPI refuses to publish from it "
            "(warehouse's _check_event_name), and it runs with your repository's rights for "
            "anyone's pull request.",
            "Publish from a workflow triggered by `release` or `push` of tags only; keep "
            "pull-request checks in another workflow file.",
            line,
            trigger_wf.shown,
        )
    if "pull_request" in trigger_wf.triggers and not _REF_GUARD.search(job.if_):
        report.problem(
            "pull-request",
            f"{trigger_wf.shown} runs on `pull_request` and job '{job.id}' has no `if:` that "
            "keeps it off pull requests: a pull request would publish (a fork's gets no OIDC "
            "token and fails).",
            "Publish from its own workflow (`on: release` or tags), or guard the job: "
            "`if: github.event_name == 'release'`.",
            line,
            trigger_wf.shown,
        )
    push = trigger_wf.triggers.get("push")
    if "push" in trigger_wf.triggers and (
        push is None or not any(k in push.items for k in ("branches", "tags"))
    ):
        report.warning(
            "any-branch",
            f"{trigger_wf.shown} publishes on a push to any branch or tag.",
            "Filter the trigger (`push: tags: ['v*']`) and give the job an environment whose "
            "deployment rules allow only those refs.",
            line,
            trigger_wf.shown,
        )
    if "workflow_dispatch" in trigger_wf.triggers and not _REF_GUARD.search(job.if_):
        report.warning(
            "any-branch",
            f"{trigger_wf.shown} can be started by hand (`workflow_dispatch`) from any branch.",
            "Guard the job (`if: github.ref == 'refs/heads/main'`) or restrict the "
            "environment's deployment branches.",
            line,
            trigger_wf.shown,
        )


def _reusable(
    report: JobReport,
    *,
    wf: Workflow,
    job: Job,
    local: list[tuple[Workflow, Job]],
    remote: list[tuple[Workflow, Job, str]],
) -> None:
    report.notes.append(
        f"{wf.shown} is a reusable workflow: PyPI matches the job_workflow_ref claim, which "
        f"names this file ({wf.file}), not the caller's (warehouse/oidc/models/github.py: "
        "lookup_by_claims, _check_job_workflow_ref)."
    )
    for caller_wf, caller_job, uses in remote:
        report.problem(
            "reusable-unmatched",
            f"{caller_wf.shown} calls this workflow as `{uses}`: its job_workflow_ref then "
            "carries that ref, and PyPI matches only the ref or commit the caller runs at.",
            f"Call it from the same commit: `uses: ./.github/workflows/{wf.file}`.",
            caller_job.line,
            caller_wf.shown,
        )
    if not local and not remote:
        report.problem(
            "reusable-unmatched",
            f"No workflow of this repository calls {wf.shown}: called from another repository, "
            "job_workflow_ref names this repository while the token's `repository` is the "
            "caller's, and PyPI matches no publisher.",
            f"Call it from a workflow of this repository: `uses: ./.github/workflows/{wf.file}` "
            "(or move the publishing job into the calling workflow).",
            job.line,
        )
    for caller_wf, caller_job in local:
        report.notes.append(f"Called by job '{caller_job.id}' of {caller_wf.shown}.")
        _triggers(report, caller_wf, caller_job)
        caller = _grants(caller_job.permissions or caller_wf.permissions)
        own = job.permissions or wf.permissions
        # A called workflow can only keep or lower what its caller grants.
        granted = caller and (own is None or own.id_token)
        if not granted and not caller:
            _id_token(report, False, caller_job, caller_wf)
        elif not granted:
            _id_token(report, False, job, wf)


def _job_warnings(report: JobReport, wf: Workflow, job: Job, steps: list[Publish]) -> None:
    if not job.environment:
        report.warning(
            "no-environment",
            f"Job '{job.id}' runs in no environment: nobody has to approve a release, and any "
            "branch's run can publish.",
            "Add `environment: pypi` to the job (Settings → Environments: add required "
            "reviewers and deployment rules), and name it in the publisher on PyPI.",
            job.line,
        )
    if _grants(wf.permissions):
        report.warning(
            "workflow-id-token",
            "The workflow grants `id-token: write` to every job that sets no permissions.",
            "Set `permissions: {}` at the workflow level and grant `id-token: write` in the "
            "publishing job only.",
            wf.permissions.line if wf.permissions else wf.on_line,
        )
    for step in job.steps:
        if (step.run and builds(step.run)) or (step.uses and builds_with(step.uses)):
            report.warning(
                "build-in-publish-job",
                f"Job '{job.id}' builds the distributions in the job that holds the credential: "
                "every build dependency runs where it can publish.",
                "Build in one job (upload-artifact), publish in another (download-artifact).",
                step.line,
            )
            break
    for step in job.steps:
        if not step.uses or step.uses.startswith(("./", "docker://")):
            continue
        name, _, ref = step.uses.partition("@")
        owner = name.split("/", 1)[0].lower()
        if owner not in _FIRST_PARTY and not _SHA.match(ref.strip()):
            report.warning(
                "unpinned-action",
                f"`{step.uses}` is not pinned to a commit: whoever controls that tag controls "
                "what runs beside your OIDC token.",
                f"Pin it to the full 40-hex commit SHA of the release: `{name}@<sha>  # {ref}`.",
                step.line,
            )
        persist = step.with_.get("persist-credentials", "").strip().lower()
        if name.lower() == "actions/checkout" and persist != "false":
            report.warning(
                "persist-credentials",
                "actions/checkout leaves the job's GITHUB_TOKEN in .git/config for every "
                "later step of the publishing job.",
                "Add `with: persist-credentials: false` to the checkout.",
                step.line,
            )
