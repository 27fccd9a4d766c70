"""GitHub Actions' side of trusted publishing: the runner's OIDC token, the events and
permissions that keep a job from having one, and the publisher PyPI matches its claims on.

The runner hands a job two variables when it has `permissions: id-token: write`:
`ACTIONS_ID_TOKEN_REQUEST_URL` (already carrying a query string) and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`. We ask that URL for a token with the index's audience.
PyPI's GitHub publisher (warehouse/oidc/models/github.py) is an owner, a repository, the
workflow file's name and maybe an environment; everything here works from what the job can
see for itself: the environment, the event payload at `GITHUB_EVENT_PATH` and the token's
claims (decoded, never printed whole, never the token itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from trusted_publish.credentials.claims import is_jwt, publisher_lines
from trusted_publish.errors import CredentialError
from trusted_publish.http import transport
from trusted_publish.http.answers import ProtocolError
from trusted_publish.http.answers import read_json as json_answer
from trusted_publish.http.policy import check_url, sanitize_url
from trusted_publish.http.transport import Reply, RetryPolicy

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

#: The policy when the caller gives none: `RetryPolicy`'s defaults.
DEFAULT_POLICY = RetryPolicy()
#: Where GitHub says whether its services are up.
GITHUB_STATUS = "https://www.githubstatus.com/"

URL_VAR = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VAR = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name

#: The claims worth showing when PyPI refuses a token: what PyPI matches publishers on
#: (warehouse/oidc/models/github.py; it ignores `sub` and `workflow_ref`), and what tells a
#: mistake apart. None of them is secret; the token itself is never shown.
CLAIMS = (
    "repository",
    "repository_owner",
    "repository_owner_id",
    "job_workflow_ref",
    "ref",
    "sha",
    "environment",
    "event_name",
    "ref_type",
    "runner_environment",
    "aud",
    "iss",
)
_WORKFLOWS_DIR = "/.github/workflows/"
#: The workflow file's name in a workflow ref, as warehouse reads it
#: (warehouse/oidc/models/github.py).
_WORKFLOW_FILE = re.compile(r"([^/]+\.(yml|yaml))(?=@)")


@dataclass(frozen=True)
class TokenRequest:
    """Where and how to ask the runner for an OIDC token."""

    url: str
    """The runner's token endpoint, with its query string."""
    bearer: str = field(repr=False)
    """The runner's request token (a secret: masked, never printed)."""


def token_request_from_env(env: Mapping[str, str], console: Console) -> TokenRequest:
    """The runner's token endpoint, or a `CredentialError` naming what is missing and the fix."""
    url = env.get(URL_VAR, "")
    bearer = env.get(TOKEN_VAR, "")
    missing = [name for name, value in ((URL_VAR, url), (TOKEN_VAR, bearer)) if not value]
    if missing:
        raise no_token_error(missing, env)
    console.mask(bearer)
    # The bearer goes wherever this URL leads: the same rules as the index's URLs (https, or
    # http to loopback), read by the parsers that will send the request.
    problem = check_url(url)
    if problem is not None:
        raise CredentialError(
            f"{URL_VAR} can't be used: {problem}.",
            fix=f"Leave {URL_VAR} to the runner; set it only to a local test server.",
        )
    return TokenRequest(url=url, bearer=bearer)


def fetch_oidc_token(
    session: requests.Session,
    request: TokenRequest,
    audience: str,
    console: Console,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> str:
    """A fresh OIDC JWT for `audience`, masked before this function returns it.

    Connection failures, timeouts, 5xx and 429 are retried as `policy` says.
    """
    sep = "&" if "?" in request.url else "?"
    url = f"{request.url}{sep}audience={quote(audience, safe='')}"
    where = sanitize_url(request.url)

    headers = {"Authorization": f"bearer {request.bearer}", "Accept": "application/json"}
    try:
        resp = transport.call(
            session,
            "GET",
            url,
            what="the OIDC token request",
            policy=policy,
            request_kwargs=lambda: {"headers": headers},
            on_retry=transport.announce(console.info, "GitHub's OIDC token service", policy),
        )
    except transport.RequestFailed as exc:  # too large, or a malformed answer
        raise CredentialError(
            f"GitHub's OIDC token service at {where}: {exc.reason}.",
            fix="Re-run the job; if it keeps failing, GitHub's service may be degraded "
            f"({GITHUB_STATUS}).",
        ) from None
    except transport.GaveUp as exc:
        said = exc.last.reply
        what = (
            f"answered HTTP {said.status_code}" if said else f"could not be reached: {exc.reason}"
        )
        raise CredentialError(
            f"GitHub's OIDC token service at {where} {what} ({exc.tries} in {exc.seconds:.0f} s).",
            fix="GitHub's service may be having an outage: re-run the job later "
            f"({GITHUB_STATUS}).",
        ) from None
    if resp.status_code != 200:
        raise CredentialError(
            f"GitHub's OIDC token service at {where} answered HTTP {resp.status_code}.",
            fix="Check that the job has `permissions: id-token: write`; re-run the job if it does.",
        )
    try:
        token = read_oidc_token(resp)
    except ProtocolError:
        raise CredentialError(
            f"GitHub's OIDC token service at {where} did not answer with a token.",
            fix="Re-run the job; if it keeps failing, GitHub's service may be degraded.",
        ) from None
    console.mask(token)
    return token


class _TokenAnswer(BaseModel):
    """The runner's token service's answer: `{"value": "<JWT>", ...}`."""

    model_config = ConfigDict(extra="ignore")

    value: StrictStr = Field(repr=False)


def read_oidc_token(resp: Reply) -> str:
    """The token service's answer: the OIDC token; `ProtocolError` when it holds none."""
    token = json_answer(resp.content, _TokenAnswer, what="the OIDC token request").value
    if not is_jwt(token):
        raise ProtocolError("the answer to the OIDC token request holds no JWT")
    return token


class GitHubSource:
    """GitHub Actions: the runner's token endpoint."""

    provider = "github"
    name = "GitHub Actions"

    def __init__(self, session: requests.Session, request: TokenRequest, console: Console):
        self._session = session
        self._request = request
        self._console = console

    def fetch(self, audience: str, policy: RetryPolicy = DEFAULT_POLICY) -> str:
        return fetch_oidc_token(self._session, self._request, audience, self._console, policy)

    def sigstore_unavailable(self, index: Index) -> Optional[str]:
        return None


def is_github_actions(env: Mapping[str, str]) -> bool:
    """GitHub sets `GITHUB_ACTIONS=true` in every job; the token URL alone also tells."""
    return env.get("GITHUB_ACTIONS") == "true" or bool(env.get(URL_VAR))


# --- events and permissions: known before any token is asked for ---------------------------


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
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


# --- the publisher PyPI matches the token's claims against ---------------------------------


@dataclass(frozen=True)
class WorkflowRef:
    """A `job_workflow_ref` claim (`owner/repo/.github/workflows/x.yml@ref`), read once."""

    repository: str
    """`owner/repo` of the workflow file (another repository's for a reusable workflow)."""
    filename: str
    """The workflow file's name, as warehouse reads it (warehouse/oidc/models/github.py)."""

    @classmethod
    def parse(cls, ref: str) -> Optional[WorkflowRef]:
        repository, found, rest = ref.partition(_WORKFLOWS_DIR)
        match = _WORKFLOW_FILE.search(rest)
        if not found or match is None:
            return None
        return cls(repository, match.group(1))


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
        workflow = WorkflowRef.parse(
            str(claims.get("job_workflow_ref") or claims.get("workflow_ref") or "")
        )
        if "/" not in repo or workflow is None:
            return None
        owner, _, name = repo.partition("/")
        env = claims.get("environment")
        return cls(owner, name, workflow.filename, str(env) if env else None, workflow.repository)

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


def provenance_publisher(claims: Mapping[str, object]) -> Optional[dict[str, str]]:
    """This workflow's publisher as PyPI names it in a provenance (kind, repository,
    workflow), from the OIDC token's claims; None when they don't say."""
    repository = claims.get("repository")
    workflow = WorkflowRef.parse(str(claims.get("job_workflow_ref", "")))
    if not isinstance(repository, str) or workflow is None:
        return None
    return {"kind": "GitHub", "repository": repository, "workflow": workflow.filename}


def publisher_help(
    claims: Mapping[str, Any], descriptions: str, index: Index, projects: Sequence[str]
) -> Optional[tuple[list[str], list[str]]]:
    """(table and links, likely mismatches) for a refused GitHub token; None if unreadable."""
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
