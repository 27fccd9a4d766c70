"""Where the upload credential comes from: a user and password given by the caller, or
trusted publishing (an OIDC token from the CI, traded at the index for an upload token).

The uploader asks `Credentials.auth()` before each file; `TrustedPublishingCredentials`
mints a new upload token (from a new OIDC token: each is single use) when the current one
is about to expire, and burns every token it minted when the run is over (on an index that
offers it; a user's own password or API token is never burned).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from .diagnose import event_error
from .exchange import UploadToken, burn_token, discover_audience, mint_token
from .net import API_TIMEOUT, TOKEN_USER, describe_transport_error
from .oidc import fetch_oidc_token, token_request_from_env, unverified_claims

if TYPE_CHECKING:
    import requests

    from .console import Console
    from .index import Index

#: Mint a new token when the current one has less than this many seconds left: an upload of
#: a large file must not outlive its 15-minute token.
REFRESH_MARGIN = 300.0
#: (connect, read) seconds for the burn after a signal: the runner kills the job soon after
#: SIGTERM, and the report must still be written.
HURRIED_TIMEOUT = (1.0, 1.0)
#: The workflow file name in a `job_workflow_ref` claim (`owner/repo/.github/workflows/x.yml@ref`),
#: as warehouse reads it (warehouse/oidc/models/github.py).
_WORKFLOW_FILE = re.compile(r"([^/]+\.(yml|yaml))(?=@)")


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
    ) -> None:
        self._session = session
        self._console = console
        self._clock = clock
        self._margin = refresh_margin
        self._index = index
        self._projects = tuple(projects)
        refused = event_error(env)
        if refused:
            raise refused
        # Read (and checked) first: a missing permission is the commonest mistake and is
        # known without asking the network anything.
        self._request = token_request_from_env(env, console)
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
            self._audience = discover_audience(self._session, self._index)
        oidc_token = fetch_oidc_token(self._session, self._request, self._audience, self._console)
        self._claims = unverified_claims(oidc_token)
        self._token = mint_token(
            self._session, self._index, oidc_token, self._console, self._projects
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
        """This workflow's publisher, as PyPI names it in a provenance (kind, repository,
        workflow), from the OIDC token's claims; None before the exchange."""
        repository = self._claims.get("repository")
        match = _WORKFLOW_FILE.search(str(self._claims.get("job_workflow_ref", "")))
        if not isinstance(repository, str) or match is None:
            return None
        return {"kind": "GitHub", "repository": repository, "workflow": match.group(1)}

    def burn(self, *, hurry: bool = False) -> None:
        """Revoke every token this run minted, where the index offers it; never raises.

        PyPI has no burn endpoint (404), nor do most indexes (404, 405): they are skipped
        without a word, and the token dies by itself when it expires. `hurry`: the run was
        stopped by a signal, so the burn must not hold up the report.
        """
        import requests

        with self._lock:
            tokens, self._minted = self._minted, []
            self._token = None
        timeout = HURRIED_TIMEOUT if hurry else API_TIMEOUT
        for token in tokens:
            try:
                resp = burn_token(self._session, self._index, token.value, timeout=timeout)
            except requests.RequestException as exc:
                self._warn_unburned(token, describe_transport_error(exc))
                continue
            if resp.status_code in (404, 405):
                self._console.debug(f"{self._index.web_url} has no burn-token endpoint.")
                return
            if 200 <= resp.status_code < 300:
                self._console.info("Burned the upload token: nothing can use it any more.")
            else:
                self._warn_unburned(token, f"HTTP {resp.status_code}")

    def _warn_unburned(self, token: UploadToken, why: str) -> None:
        left = max(0.0, token.expires - self._clock())
        self._console.warning(
            f"Could not burn the upload token ({why}); it expires by itself in "
            f"{left / 60:.0f} minutes.",
            title="trusted-publish: token not burned",
        )
