"""Where the upload credential comes from: a user and password given by the caller, or
trusted publishing (an OIDC token from the CI, traded at the index for an upload token;
`providers` picks the CI's token source).

The uploader asks `Credentials.auth()` before each file; `TrustedPublishingCredentials`
mints a new upload token (from a new OIDC token: each is single use) when the current one
is about to expire, and burns every token it minted when the run is over (on an index that
offers it; a user's own password or API token is never burned).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from trusted_publish.credentials.claims import unverified_claims
from trusted_publish.credentials.exchange import (
    Burn,
    UploadToken,
    burn_token,
    discover_audience,
    mint_token,
)
from trusted_publish.credentials.github import DEFAULT_POLICY, event_error, provenance_publisher
from trusted_publish.credentials.gitlab import GitLabPublisher
from trusted_publish.credentials.google import GooglePublisher
from trusted_publish.credentials.providers import TokenSource, detect
from trusted_publish.errors import Interrupted
from trusted_publish.http.policy import TOKEN_USER
from trusted_publish.http.transport import RetryPolicy
from trusted_publish.runtime.signals import StopRequest

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.index.target import Index

#: Mint a new token when the current one has less than this many seconds left: an upload of
#: a large file must not outlive its 15-minute token.
REFRESH_MARGIN = 300.0


class Credentials(Protocol):
    """What the uploader asks before each file."""

    def auth(self) -> tuple[str, str]:
        """(user, password) valid for at least the next upload."""
        ...


@dataclass(frozen=True)
class StaticCredentials:
    """A user and password (or `__token__` and an API token) given by the caller."""

    user: str
    password: str = field(repr=False)

    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)


class TrustedPublishingCredentials:
    """Upload tokens from the OIDC exchange, re-minted before they expire."""

    def __init__(
        self,
        session: requests.Session,
        index: Index,
        env: Mapping[str, str],
        console: Console,
        *,
        projects: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN,
        provider: str = "auto",
        gitlab_id_token_variable: Optional[str] = None,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._session = session
        # Each call of the exchange (audience, OIDC token, mint) is retried with this policy.
        self._policy = policy
        self._console = console
        self._clock = clock
        self._margin = refresh_margin
        self._index = index
        self._projects = tuple(projects)
        refused = event_error(env)
        if refused:
            raise refused
        # Found (and checked) first: a missing permission or `id_tokens:` entry is the
        # commonest mistake and is known without asking the network anything.
        self.source: TokenSource = detect(
            session, env, console, provider=provider, gitlab_variable=gitlab_id_token_variable
        )
        self._audience: str | None = None
        self._token: UploadToken | None = None
        # Every token minted in this run: all of them are burned at the end.
        self._minted: list[UploadToken] = []
        self._claims: dict[str, object] = {}
        # Parallel uploads ask at once; only one of them may re-mint.
        self._lock = threading.Lock()

    def obtain(self) -> None:
        """Do the exchange now, so a refused publisher stops the run before any upload."""
        if self._audience is None:
            self._audience = discover_audience(self._session, self._index, self._policy)
        audience, source = self._audience, self.source

        def oidc_token() -> str:
            # A new one for each mint attempt: an OIDC token is single use.
            token = source.fetch(audience, self._policy)
            self._claims = unverified_claims(token)
            return token

        self._token = mint_token(
            self._session,
            self._index,
            oidc_token,
            self._console,
            self._projects,
            policy=self._policy,
        )
        self._minted.append(self._token)
        self._console.debug(
            f"Minted an upload token at {self._index.web_url}, valid for "
            f"{self._token.expires - self._clock():.0f} s."
        )

    def auth(self) -> tuple[str, str]:
        with self._lock:
            if self._token is None or self._token.expires - self._clock() < self._margin:
                if self._token is not None:
                    self._console.info(
                        "The upload token expires in under "
                        f"{self._margin / 60:.0f} minutes: minting a new one."
                    )
                self.obtain()
            assert self._token is not None  # noqa: S101 - obtain() sets it or raises
            return (TOKEN_USER, self._token.value)

    def publisher(self) -> dict[str, str] | None:
        """The publisher the upload token was minted for, as PyPI names it in a provenance
        (pypi-attestations' publishers: GitHub kind, repository, workflow; GitLab kind,
        repository, workflow_filepath; Google kind, email), from the OIDC token's claims;
        None before the exchange or when the claims don't say."""
        claims = self._claims
        if self.source.provider == "github":
            return provenance_publisher(claims)
        if self.source.provider == "gitlab":
            gitlab = GitLabPublisher.from_claims(claims)
            if gitlab is None:
                return None
            return {
                "kind": "GitLab",
                "repository": f"{gitlab.namespace}/{gitlab.project}",
                "workflow_filepath": gitlab.workflow_filepath,
            }
        if self.source.provider == "google":
            google = GooglePublisher.from_claims(claims)
            return None if google is None else {"kind": "Google", "email": google.email}
        return None

    def burn(self, stop: Optional[StopRequest] = None) -> None:
        """Revoke every token this run minted, where the index offers it; never raises but
        for a signal that came before (the caller's to report).

        PyPI answers 202 (warehouse PR #20197): burned. An index without the endpoint
        (404, 405) is skipped without a word, and the token dies by itself when it expires.
        `stop`: after a signal the burn gets what is left of `signals.AFTER_SIGNAL`, and a
        signal during the burn cuts it short, so that the report is written in time.
        """
        stop = stop or StopRequest()
        with self._lock:
            tokens, self._minted = self._minted, []
            self._token = None
        for token in tokens:
            seconds = min(self._policy.request_seconds, stop.seconds_left())
            if seconds <= 0:
                self._warn_unburned(token, "the run was stopped by a signal")
                continue
            try:
                answer = burn_token(self._session, self._index, token.value, seconds=seconds)
            except Interrupted:
                self._warn_unburned(token, "cut short by a signal")
                continue
            if answer.outcome is Burn.NO_ENDPOINT:
                self._console.debug(f"{self._index.web_url} has no burn-token endpoint.")
                return
            if answer.outcome is Burn.BURNED:
                self._console.info("Burned the upload token: nothing can use it any more.")
            else:
                self._warn_unburned(token, answer.reason)

    def _warn_unburned(self, token: UploadToken, why: str) -> None:
        left = max(0.0, token.expires - self._clock())
        self._console.warning(
            f"Could not burn the upload token ({why}); it expires by itself in "
            f"{left / 60:.0f} minutes.",
            title="trusted-publish: token not burned",
        )
