"""GitLab CI/CD's side of trusted publishing: the job's ID token, and what PyPI matches it on.

GitLab has no token endpoint: a job declares the ID tokens it wants under `id_tokens:`,
each with an audience, and finds them in variables of the names it chose. We read the one
`id` and `uv` read, named after the audience (`PYPI_ID_TOKEN` for `pypi`,
`TESTPYPI_ID_TOKEN` for `testpypi`, `SIGSTORE_ID_TOKEN` for Sigstore), or the one the user
names. PyPI's GitLab publisher (warehouse/oidc/models/gitlab.py) is a namespace, a project,
the top-level pipeline file's path and maybe an environment, on one GitLab instance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlencode

from trusted_publish.credentials.claims import publisher_lines, unverified_claims
from trusted_publish.errors import CredentialError

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.http.transport import RetryPolicy
    from trusted_publish.index.target import Index

#: The issuer of gitlab.com's ID tokens; any other is a self-managed instance.
GITLAB_COM = "https://gitlab.com"
#: The claims PyPI matches a GitLab publisher on (shown when it refuses the token).
CLAIMS = (
    "sub",
    "project_path",
    "ci_config_ref_uri",
    "ref_path",
    "sha",
    "environment",
    "pipeline_source",
    "aud",
    "iss",
)
_VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# warehouse's _WORKFLOW_FILEPATH_RE: after the first "//", up to an "@", ending .yml/.yaml.
_FILEPATH_RE = re.compile(r"(?<=//)(.*[^/]\.(yml|yaml))(?=@)")


def variable_for(audience: str) -> str:
    """The variable `id` reads for `audience`: `pypi` → `PYPI_ID_TOKEN`."""
    return re.sub(r"[^A-Z0-9_]|^[^A-Z_]", "_", audience.upper()) + "_ID_TOKEN"


def valid_variable_name(name: str) -> bool:
    return bool(_VARIABLE_RE.match(name))


def is_gitlab_ci(env: Mapping[str, str]) -> bool:
    """GitLab sets `GITLAB_CI=true` in every job (`id` takes any non-empty value)."""
    return bool(env.get("GITLAB_CI"))


def _id_tokens_block(variable: str, audience: str) -> str:
    return (
        "    publish:\n"
        "      environment: pypi\n"
        "      id_tokens:\n"
        f"        {variable}:\n"
        f"          aud: {audience}\n"
    )


class GitLabSource:
    """The job's ID tokens, from the variables its `id_tokens:` block declares."""

    provider = "gitlab"
    name = "GitLab CI/CD"

    def __init__(
        self, env: Mapping[str, str], console: Console, variable: Optional[str] = None
    ) -> None:
        self._env = env
        self._console = console
        self._variable = variable

    def variable(self, audience: str) -> str:
        """Where the token for `audience` is: the named variable is for the index only."""
        if self._variable and audience != "sigstore":
            return self._variable
        return variable_for(audience)

    def fetch(self, audience: str, policy: RetryPolicy | None = None) -> str:
        """The job's ID token for `audience`, masked before it is returned (no request is
        made: GitLab puts it in the job's environment, so `policy` has nothing to retry)."""
        name = self.variable(audience)
        token = self._env.get(name, "").strip()
        if not token:
            raise CredentialError(
                f"Trusted publishing needs an ID token from GitLab with audience '{audience}', "
                f"but the job has no `{name}` variable: the job does not declare it under "
                "`id_tokens:`.",
                fix="Declare the ID token in the publishing job of .gitlab-ci.yml:\n\n"
                + _id_tokens_block(name, audience)
                + "\n(PyPI's trusted publisher names the same environment, or none.)",
            )
        self._console.mask(token)
        if token.count(".") != 2:
            raise CredentialError(
                f"`{name}` does not hold a JWT: it must be the ID token GitLab puts there.",
                fix=f"Declare `{name}` under `id_tokens:` (not under `variables:`):\n\n"
                + _id_tokens_block(name, audience),
            )
        aud = unverified_claims(token).get("aud")
        # PyPI takes the audience only as a string (warehouse verifies with strict_aud).
        if aud != audience:
            raise CredentialError(
                f"The ID token in `{name}` is for audience {aud!r}, and the index wants "
                f"'{audience}'.",
                fix=f"Set `aud: {audience}` for `{name}` under `id_tokens:`:\n\n"
                + _id_tokens_block(name, audience),
            )
        return token

    def sigstore_unavailable(self, index: Index) -> Optional[str]:
        """Why this job can't sign attestations PyPI takes; None when it can."""
        server = self._env.get("CI_SERVER_URL", GITLAB_COM).rstrip("/")
        if index.pypi_like and server != GITLAB_COM:
            # pypi-attestations' GitLab policy names gitlab.com: PyPI can't verify others.
            return (
                f"No attestations are made: PyPI verifies GitLab attestations only from "
                f"gitlab.com, and this job runs on {server}."
            )
        if not self._env.get(variable_for("sigstore"), "").strip():
            return (
                "No attestations are made: signing needs a Sigstore identity, which GitLab "
                "gives a job only through an `id_tokens:` entry with `aud: sigstore`. Add "
                "`SIGSTORE_ID_TOKEN: {aud: sigstore}` under the publishing job's `id_tokens:`."
            )
        return None


@dataclass(frozen=True)
class GitLabPublisher:
    """The GitLab trusted publisher PyPI would need, read off the ID token's claims."""

    namespace: str
    project: str
    workflow_filepath: str
    environment: Optional[str]
    issuer: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Optional[GitLabPublisher]:
        path = str(claims.get("project_path") or "")
        match = _FILEPATH_RE.search(str(claims.get("ci_config_ref_uri") or ""))
        if "/" not in path or match is None:
            return None
        namespace, _, project = path.rpartition("/")
        env = claims.get("environment")
        issuer = str(claims.get("iss") or GITLAB_COM)
        return cls(namespace, project, match.group(1), str(env) if env else None, issuer)

    @property
    def self_managed(self) -> bool:
        return self.issuer != GITLAB_COM

    def form_url(self, form: str) -> str:
        """PyPI's publisher form (`form`) with the GitLab tab's fields filled in."""
        params = {
            "provider": "gitlab",
            "namespace": self.namespace,
            "project": self.project,
            "workflow_filepath": self.workflow_filepath,
        }
        if self.environment:
            params["environment"] = self.environment
        if self.self_managed:
            params["issuer_url"] = self.issuer
        return f"{form}?{urlencode(params)}"


def publisher_help(
    claims: Mapping[str, Any], descriptions: str, index: Index, projects: Sequence[str]
) -> Optional[tuple[list[str], list[str]]]:
    """(table and links, likely mismatches) for a refused GitLab token; None if unreadable."""
    publisher = GitLabPublisher.from_claims(claims)
    if publisher is None:
        return None
    fields = [
        ("Namespace", publisher.namespace),
        ("Project name", publisher.project),
        ("Top-level pipeline file path", publisher.workflow_filepath),
        ("Environment name", publisher.environment or "(leave empty)"),
    ]
    if publisher.self_managed:
        fields.append(("GitLab instance", publisher.issuer))
    lines = publisher_lines("job's ID token", fields, index, projects, publisher.form_url)
    likely: list[str] = []
    if "ci_config_ref_uri claim does not match" in descriptions:
        likely.append(
            "PyPI found a publisher for this project but spells its namespace or project "
            "differently from GitLab: it finds publishers without regard to case, then "
            "compares the pipeline's address exactly. Register the publisher as GitLab "
            f"spells it: {publisher.namespace}/{publisher.project}."
        )
    likely.append(
        f"The top-level pipeline file is '{publisher.workflow_filepath}' (from "
        "ci_config_ref_uri): PyPI compares the path exactly, case included, and a job from "
        "an included file still counts as the top-level file's."
    )
    if publisher.environment:
        likely.append(
            f"The job runs in environment '{publisher.environment}': the publisher must name "
            "exactly that environment (case included), or none."
        )
    else:
        likely.append(
            "The job has no `environment:`: if the publisher names one, add it to the job "
            "(`environment: pypi`) or remove it from the publisher."
        )
    if publisher.self_managed:
        likely.append(
            f"This token comes from a self-managed GitLab ({publisher.issuer}): PyPI takes "
            "it only for a publisher of a PyPI organization whose administrators registered "
            "that instance, with the GitLab instance set to exactly that URL."
        )
    return lines, likely
