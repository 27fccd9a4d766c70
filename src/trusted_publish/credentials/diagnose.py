"""Turn the common trusted-publishing mistakes into a sentence and the exact fix.

Most failures are configuration: a missing permission, a fork's pull request, a publisher on
PyPI whose workflow file or environment differs from the job's. Everything here works from
what the job can see for itself: the environment, the event payload at `GITHUB_EVENT_PATH`
and the OIDC token's claims (decoded, never printed whole, never the token itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlencode

from packaging.utils import canonicalize_name

from trusted_publish.credentials import gitlab, google
from trusted_publish.credentials.claims import publisher_kind, publisher_lines
from trusted_publish.errors import CredentialError

if TYPE_CHECKING:
    from trusted_publish.index.target import Index


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_fork_pull_request(env: Mapping[str, str]) -> bool:
    """A `pull_request` run whose head is a fork: GitHub never gives it an OIDC token."""
    if env.get("GITHUB_EVENT_NAME") != "pull_request":
        return False
    head = _event(env).get("pull_request", {}).get("head", {})
    repo = head.get("repo") if isinstance(head, dict) else None
    return isinstance(repo, dict) and repo.get("fork") is True


def no_token_error(missing: Sequence[str], env: Mapping[str, str]) -> CredentialError:
    """Why the runner gave no OIDC token, told apart: a fork's pull request or the permission."""
    names = " and ".join(missing)
    verb = "is" if len(missing) == 1 else "are"
    if is_fork_pull_request(env):
        return CredentialError(
            f"Trusted publishing needs an OIDC token, but {names} {verb} not set: this run is a "
            "pull request from a fork, and GitHub never gives those an OIDC token (it would "
            "let anyone with a fork publish as you).",
            fix="Publish from an event in your own repository instead, e.g.\n\n"
            "    on:\n      release:\n        types: [published]\n\n"
            "and skip the publish job on pull requests:\n\n"
            "    if: github.event_name != 'pull_request'",
        )
    return CredentialError(
        f"Trusted publishing needs an OIDC token from GitHub, but {names} {verb} not set: "
        "the job lacks the `id-token: write` permission.",
        fix="Give the publishing job permission to request an OIDC token:\n\n"
        "    jobs:\n      publish:\n        permissions:\n"
        "          id-token: write   # trusted publishing\n          contents: read\n\n"
        "(A `permissions:` block at the workflow level is overridden by a job's own block.) "
        "To publish with an API token instead, pass it as the `password` input.",
    )


def event_error(env: Mapping[str, str]) -> Optional[CredentialError]:
    """An event PyPI refuses to publish from, known before asking for any token."""
    if env.get("GITHUB_EVENT_NAME") == "pull_request_target":
        return CredentialError(
            "This workflow was triggered by `pull_request_target`, and PyPI refuses to publish "
            "from it: such runs execute with the base repository's rights on a pull request's "
            "behalf.",
            fix="Publish from a `release`, `push` (of a tag) or `workflow_dispatch` event, "
            "e.g.\n\n    on:\n      push:\n        tags: ['v*']",
        )
    return None


@dataclass(frozen=True)
class GitHubPublisher:
    """The GitHub trusted publisher PyPI would need, read off the OIDC token's claims."""

    owner: str
    repository: str
    workflow_filename: str
    environment: Optional[str]
    workflow_repository: str
    """`owner/repo` of the workflow file PyPI matches on (differs for a reusable workflow)."""

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Optional[GitHubPublisher]:
        repo = str(claims.get("repository", ""))
        job_ref = str(claims.get("job_workflow_ref") or claims.get("workflow_ref") or "")
        if "/" not in repo or "/.github/workflows/" not in job_ref:
            return None
        owner, _, name = repo.partition("/")
        workflow_repo, _, rest = job_ref.partition("/.github/workflows/")
        filename = rest.split("@", 1)[0]
        env = claims.get("environment")
        return cls(owner, name, filename, str(env) if env else None, workflow_repo)

    @property
    def is_reusable_elsewhere(self) -> bool:
        return self.workflow_repository.lower() != f"{self.owner}/{self.repository}".lower()

    def form_url(self, form: str) -> str:
        """PyPI's "add a trusted publisher" page (`form`), with the fields filled in."""
        params = {
            "provider": "github",
            "owner": self.owner,
            "repository": self.repository,
            "workflow_filename": self.workflow_filename,
        }
        if self.environment:
            params["environment"] = self.environment
        return f"{form}?{urlencode(params)}"


def refusal_help(
    claims: Mapping[str, Any],
    codes: Sequence[str],
    index: Index,
    projects: Sequence[str],
    descriptions: str = "",
) -> tuple[list[str], str]:
    """(detail lines, fix) for a refused token exchange, for the kind of publisher the
    token's claims are matched against (`descriptions`: the index's reasons, joined)."""
    kind = publisher_kind(claims)
    if kind == "github":
        found = _github_help(claims, index, projects)
    else:
        found = (gitlab.publisher_help if kind == "gitlab" else google.publisher_help)(
            claims, descriptions, index, projects
        )
    if found is None:
        return [], "Check the trusted publisher configured on the index for this project."
    lines, likely = found
    if "invalid-pending-publisher" in codes:
        likely.insert(
            0,
            "The project already exists, so its pending publisher no longer applies: add "
            "the publisher on the project's own Publishing page.",
        )
    if "invalid-publisher" in codes or "invalid-pending-publisher" in codes:
        lines.append("Likely mismatches:")
        lines.extend(f"  - {line}" for line in likely)
    fix = (
        "Make the publisher on the index match the table above (the link opens the form "
        "filled in), or change the job to match the publisher."
    )
    if "invalid-token" in codes:
        fix = "The OIDC token was refused as invalid or expired: re-run the job."
    if "invalid-reuse-token" in codes:
        fix = "Each OIDC token is good for one exchange: re-run the job."
    return lines, fix


def _github_help(
    claims: Mapping[str, Any], index: Index, projects: Sequence[str]
) -> Optional[tuple[list[str], list[str]]]:
    publisher = GitHubPublisher.from_claims(claims)
    if publisher is None:
        return None
    fields = [
        ("Owner", publisher.owner),
        ("Repository name", publisher.repository),
        ("Workflow name", publisher.workflow_filename),
        ("Environment name", publisher.environment or "(leave empty)"),
    ]
    lines = publisher_lines("job's OIDC token", fields, index, projects, publisher.form_url)
    likely: list[str] = []
    if publisher.is_reusable_elsewhere:
        likely.append(
            f"This job runs a reusable workflow from {publisher.workflow_repository}; PyPI "
            "matches the *called* workflow's file and repository, so a publisher for "
            f"{publisher.owner}/{publisher.repository} never matches it. Call this action "
            "from a workflow file in your own repository."
        )
    if publisher.environment:
        likely.append(
            f"The job runs in environment '{publisher.environment}': the publisher must name "
            "that environment, or none."
        )
    else:
        likely.append(
            "The job has no environment: if the publisher names one, add it to the job "
            "(`environment: pypi`) or remove it from the publisher."
        )
    likely.append(
        f"The workflow file is '{publisher.workflow_filename}': a renamed workflow needs its "
        "publisher updated."
    )
    likely.append(
        "Names are compared exactly, case included: the publisher must spell the owner, the "
        "repository and the workflow file as this token does "
        f"({publisher.owner}/{publisher.repository}, {publisher.workflow_filename})."
    )
    return lines, likely


def pending_project_mismatch(names: Sequence[str]) -> str:
    """The fix for PyPI's "Non-user identities cannot create new projects" at upload."""
    shown = ", ".join(f"'{n}' (normalized '{canonicalize_name(n)}')" for n in names)
    return (
        "A pending publisher created the project at token exchange, but its project name "
        f"does not match your distributions: {shown}. PyPI compares normalized names. "
        "Delete the pending publisher on PyPI and add one for the name above, or change "
        "`name` in pyproject.toml to the one the pending publisher was made for."
    )


#: PyPI's upload refusals (their texts: warehouse/forklift/legacy.py) → what to do about
#: them. First match wins.
_REFUSAL_FIXES: tuple[tuple[str, str], ...] = (
    (
        "older than 14 days",
        "PyPI closes a release to new files 14 days after it was created: publish these "
        "files under a new version.",
    ),
    (
        "previously used by a file that has since been deleted",
        "A deleted file's name can never be used again: bump the version and rebuild.",
    ),
    (
        "file already exists",
        "A released file can never be replaced: bump the version and rebuild.",
    ),
    (
        "file too large",
        "Make the file smaller (leave test data and debug symbols out), or ask PyPI for a "
        "larger limit: https://pypi.org/help/#file-size-limit",
    ),
    (
        "project size too large",
        "The project is over its total size limit: delete old pre-releases or ask PyPI for "
        "more: https://pypi.org/help/#project-size-limit",
    ),
    (
        "local versions",
        "PyPI refuses local versions (the `+...` part). Build from a tagged commit, or tell "
        'your version tool to leave it out (setuptools-scm: local_scheme = "no-local-version").',
    ),
    (
        "only one sdist may be uploaded",
        "The release already has an sdist: keep one .tar.gz per version.",
    ),
    (
        "isn't allowed to upload to project",
        "The credential belongs to another project: register the trusted publisher (or scope "
        "the token) for this project's name.",
    ),
    (
        "not valid for project",
        "The trusted publisher belongs to another project: add a publisher to this project "
        "on PyPI (its Publishing page), or fix `name` in pyproject.toml.",
    ),
    (
        "does not match expected trusted publisher",
        "PyPI checked the attestation's signing identity against the trusted publisher and "
        "they differ: a publish job in a reusable workflow signs as the calling workflow. "
        "Publish from the workflow the trusted publisher names, or set `attestations: false`.",
    ),
    (
        "invalid attestations supplied during upload",
        "The index refused the file's attestation for the reason above. Delete the "
        "`.publish.attestation` files for trusted-publish to sign the files afresh, or set "
        "`attestations: false` to publish without attestations.",
    ),
    (
        "description failed to render",
        "Fix the README markup where the index's message points, or set "
        "`Description-Content-Type` to the format it is written in.",
    ),
)


def upload_refusal_fix(status: int, message: str, project: str) -> str:
    """What to do about the index's refusal (`status`, `message`) of a file of `project`."""
    lowered = message.lower()
    if "non-user identities cannot create new projects" in lowered:
        return pending_project_mismatch([project])
    for needle, fix in _REFUSAL_FIXES:
        if needle in lowered:
            return fix
    if status in (401, 403):
        return (
            "The index did not accept the credentials for this project: with trusted "
            "publishing, check that the publisher on the index is registered for this "
            "project; with a token, that it is scoped to it."
        )
    if status == 400:
        return "Fix what the index names above, rebuild, and publish again."
    return "See the index's answer above."
