"""Where the OIDC token comes from: one source per CI that PyPI trusts (each in its CI's
module), picked from the environment.

Each source (`TokenSource`) gives a fresh token for an audience (the index's, or
`sigstore` for attestations) and says whether this job can sign attestations PyPI takes.
A detector returns None for "not this CI" and raises a `CredentialError` for "this CI, but
its token can't be had", as `id` does. In automatic mode the CIs that announce themselves
in variables come first (GitHub Actions, GitLab CI/CD) and the machine's own identity
(Google Cloud) last: GitLab's hosted runners are themselves Google Cloud machines, and
their service account is not the project's publisher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from trusted_publish.credentials import github, gitlab, google
from trusted_publish.credentials.github import DEFAULT_POLICY, TOKEN_VAR, URL_VAR
from trusted_publish.errors import CredentialError
from trusted_publish.http.transport import RetryPolicy

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index


class TokenSource(Protocol):
    """One CI's OIDC tokens."""

    provider: str
    """`github`, `gitlab` or `google`: PyPI's name for the publisher kind."""
    name: str
    """How the CI is called in messages."""

    def fetch(self, audience: str, policy: RetryPolicy = DEFAULT_POLICY) -> str:
        """A fresh token for `audience`, masked before it is returned; or a `CredentialError`.
        A request it makes is bounded and retried as `policy` says."""
        ...

    def sigstore_unavailable(self, index: Index) -> Optional[str]:
        """Why this job can't make attestations the index takes (a notice); None if it can."""
        ...


class _Context:
    """What a detector may look at; `explicit`: the user named this provider."""

    def __init__(
        self,
        session: requests.Session,
        env: Mapping[str, str],
        console: Console,
        gitlab_variable: Optional[str],
        explicit: bool,
    ) -> None:
        self.session = session
        self.env = env
        self.console = console
        self.gitlab_variable = gitlab_variable
        self.explicit = explicit


def _github(ctx: _Context) -> Optional[TokenSource]:
    if not (ctx.explicit or github.is_github_actions(ctx.env)):
        return None
    request = github.token_request_from_env(ctx.env, ctx.console)
    return github.GitHubSource(ctx.session, request, ctx.console)


def _gitlab(ctx: _Context) -> Optional[TokenSource]:
    if not (ctx.explicit or gitlab.is_gitlab_ci(ctx.env)):
        return None
    return gitlab.GitLabSource(ctx.env, ctx.console, ctx.gitlab_variable)


def _google(ctx: _Context) -> Optional[TokenSource]:
    if not (ctx.explicit or google.on_google_cloud(ctx.env, google.PRODUCT_NAME_FILE)):
        return None
    return google.GoogleSource(ctx.session, google.identity_url(ctx.env), ctx.console)


DETECTORS: dict[str, Callable[[_Context], Optional[TokenSource]]] = {
    "github": _github,
    "gitlab": _gitlab,
    "google": _google,
}


def announced(env: Mapping[str, str], provider: str = "auto") -> bool:
    """Whether a CI's OIDC token source can be expected here, from the environment alone (no
    request, no token): a provider named, or a CI that announces itself as `detect` sees it."""
    if provider != "auto":
        return True
    return (
        env.get("GITHUB_ACTIONS") == "true"
        or bool(env.get(URL_VAR))
        or gitlab.is_gitlab_ci(env)
        or google.on_google_cloud(env, google.PRODUCT_NAME_FILE)
    )


def detect(
    session: requests.Session,
    env: Mapping[str, str],
    console: Console,
    *,
    provider: str = "auto",
    gitlab_variable: Optional[str] = None,
) -> TokenSource:
    """The token source of this CI (or of the one named); `CredentialError` when none."""
    if provider != "auto":
        ctx = _Context(session, env, console, gitlab_variable, explicit=True)
        source = DETECTORS[provider](ctx)
        assert source is not None  # noqa: S101 - an explicit detector always answers
        return source
    ctx = _Context(session, env, console, gitlab_variable, explicit=False)
    for detector in DETECTORS.values():
        source = detector(ctx)
        if source is not None:
            return source
    raise CredentialError(
        "Trusted publishing needs an OIDC token from the CI, and none of the CIs PyPI trusts "
        "was detected. Looked for GitHub Actions (GITHUB_ACTIONS=true, "
        f"{URL_VAR} and {TOKEN_VAR}), GitLab CI/CD (GITLAB_CI) and Google Cloud "
        f"({google.HOST_VAR}, or a Google Compute Engine machine per {google.PRODUCT_NAME_FILE}).",
        fix="Publish from the CI job that has the token (GitHub: `permissions: id-token: "
        "write`; GitLab: `id_tokens:` with `aud: pypi`), name the CI with "
        "`--trusted-publishing-provider`, or pass an API token as `password`.",
    )
