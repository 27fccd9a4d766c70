"""The ``Sandbox``: the CI's OIDC issuers (GitHub, GitLab, Google) and PyPI, in one process
on loopback."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Optional, Union

from .checks import MAX_FILE_SIZE, MAX_PROJECT_SIZE
from .faults import Faults
from .gitlab import GitLabIdentity, GitLabPublisher
from .google import GoogleIdentity, GooglePublisher
from .oidc import Identity, SigningKey
from .publishing import AnyPublisher, Issuer, MintRecord, RegisteredPublisher, TrustedPublishing
from .server import SandboxHTTPServer
from .storage import StoredFile
from .tls import make_tls_files, server_context
from .warehouse import UploadAttempt, Warehouse

__all__ = ["TRUSTED_PUBLISHING_MODES", "Sandbox"]

TRUSTED_PUBLISHING_MODES = ("on", "disabled", "absent")


class Sandbox:
    """A local GitHub OIDC token service, GitLab and Google issuers, and a PyPI with trusted
    publishing.

    Start it with ``start()`` or as a context manager; the server runs in a daemon
    thread. Every attribute may be read and changed while it runs (a lock guards the
    state), so a test can switch the identity, the publishers or the trusted-publishing
    mode between two runs of the code under test. Each CI has its own issuer, key and
    identity: ``identity`` (GitHub), ``gitlab_identity``, ``google_identity``; their
    tokens reach a client through ``env()``, ``gitlab_env()`` and ``google_env()``.
    ``tls=True`` serves HTTPS with a CA made for the run (see ``ca_bundle``): twine and uv
    only speak HTTPS to the trusted-publishing endpoints.

    ``POST /_/oidc/burn-token`` answers as PyPI's does (warehouse PR #20197, "Allow
    burning of TP tokens": 202 for any token); ``burn_token=False`` stands for an index
    without it (404). ``upload_fault``, ``listing_lag``
    and ``provenance_fault`` make an index that lies after the upload (see ``faults``).
    """

    def __init__(
        self,
        publishers: Optional[Iterable[AnyPublisher]] = None,
        identity: Optional[Identity] = None,
        *,
        gitlab_identity: Optional[GitLabIdentity] = None,
        google_identity: Optional[GoogleIdentity] = None,
        token_lifetime: int = 900,
        host: str = "127.0.0.1",
        port: int = 0,
        audience: str = "pypi",
        users: Optional[Mapping[str, str]] = None,
        storage_dir: Optional[Union[str, os.PathLike[str]]] = None,
        max_file_size: int = MAX_FILE_SIZE,
        max_project_size: int = MAX_PROJECT_SIZE,
        trusted_publishing: str = "on",
        tls: bool = False,
        burn_token: bool = True,
        upload_fault: Optional[str] = None,
        listing_lag: float = 0.0,
        provenance_fault: Optional[str] = None,
    ) -> None:
        self._lock = threading.RLock()
        self._host = host
        self._port = port
        self._tls = tls
        self._ca_bundle: Optional[Path] = None
        self._identity = identity if identity is not None else Identity()
        self._gitlab_identity = gitlab_identity or GitLabIdentity()
        self._google_identity = google_identity or GoogleIdentity()
        self.key = SigningKey()
        self.gitlab_key = SigningKey()
        self.google_key = SigningKey()
        self.warehouse = Warehouse(
            self._lock,
            users=users,
            max_file_size=max_file_size,
            max_project_size=max_project_size,
        )
        self.publishing = TrustedPublishing(
            self._lock, self.warehouse, self.key, audience=audience, token_lifetime=token_lifetime
        )
        self.trusted_publishing = trusted_publishing
        if publishers is None:
            # Each identity's own publisher, open to any project: a plain start then
            # works end to end from any of the CIs.
            ident = self._identity
            lab = self._gitlab_identity
            publishers = [
                RegisteredPublisher(ident.repository, ident.workflow, ident.environment),
                GitLabPublisher(lab.project_path, lab.ci_config_path, lab.environment),
                GooglePublisher(self._google_identity.email),
            ]
        self.publishers = list(publishers)
        self.oidc_request_token = secrets.token_urlsafe(32)
        # The metadata server's bearer: Google's answers any process on the machine (the
        # machine is the boundary), this one listens where other users' processes can reach
        # it, so it serves under this secret path only (`google_env` hands it to a client).
        self.metadata_secret = secrets.token_urlsafe(24)
        self._issued_jwts: list[str] = []
        self.faults = Faults(self._lock)
        self.faults.upload_fault = upload_fault
        self.faults.listing_lag = listing_lag
        self.faults.provenance_fault = provenance_fault
        self.burn_token = burn_token
        self._storage_arg = Path(storage_dir) if storage_dir is not None else None
        self._storage: Optional[Path] = None
        self._owns_storage = False
        self._server: Optional[SandboxHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._base_url: Optional[str] = None
        self._stop_requested = threading.Event()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Sandbox:
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the sandbox is already running")
            if self._storage_arg is not None:
                self._storage = self._storage_arg
                self._storage.mkdir(parents=True, exist_ok=True)
                self._owns_storage = False
            else:
                self._storage = Path(tempfile.mkdtemp(prefix="trusted-publish-sandbox-"))
                self._owns_storage = True
            self.warehouse.attach_storage(self._storage)
            context = None
            if self._tls:
                tls_dir = self._storage / "tls"
                tls_dir.mkdir(exist_ok=True)
                files = make_tls_files(tls_dir)
                self._ca_bundle = files.ca
                context = server_context(files)
            server = SandboxHTTPServer((self._host, self._port), self, context)
            host, port = server.server_address[:2]
            url_host = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)  # noqa: S104
            scheme = "https" if self._tls else "http"
            self._base_url = f"{scheme}://{url_host}:{port}"
            self.publishing.issuers = {
                issuer.url: issuer
                for issuer in (
                    Issuer(self.issuer, "github", self.key),
                    Issuer(self.gitlab_issuer, "gitlab", self.gitlab_key),
                    Issuer(self.google_issuer, "google", self.google_key),
                )
            }
            self._server = server
            self._stop_requested.clear()
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"trusted-publish-sandbox:{port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the storage the sandbox created (idempotent)."""
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        self._stop_requested.set()
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=10)
        with self._lock:
            if self._owns_storage and self._storage is not None:
                shutil.rmtree(self._storage, ignore_errors=True)
                self._storage = None
                self._owns_storage = False

    def request_stop(self) -> None:
        """Make ``serve_forever`` return; safe to call from a signal handler."""
        self._stop_requested.set()

    def serve_forever(self) -> None:
        """Serve until ``request_stop()`` or ``stop()`` (starts the sandbox if needed)."""
        if self._server is None:
            self.start()
        try:
            # A short timeout keeps the main thread responsive to signals.
            while not self._stop_requested.wait(0.2):
                pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started")
        return self._base_url

    @property
    def ca_bundle(self) -> Optional[Path]:
        """With ``tls=True``: the PEM file of the CA to trust (SSL_CERT_FILE,
        REQUESTS_CA_BUNDLE, ``requests``' ``verify=``); None over plain HTTP."""
        return self._ca_bundle

    @property
    def repository_url(self) -> str:
        return f"{self.base_url}/legacy/"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple/"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/_github"

    @property
    def gitlab_issuer(self) -> str:
        """The sandbox's GitLab instance (a self-managed one, as PyPI sees it)."""
        return f"{self.base_url}/_gitlab"

    @property
    def google_issuer(self) -> str:
        return f"{self.base_url}/_google"

    @property
    def metadata_host(self) -> str:
        """``host:port/<secret>``: where the sandbox's Google metadata server is
        (``GCE_METADATA_HOST``). The secret path is its bearer: a client puts it in front
        of ``/computeMetadata/v1/...`` as it puts any ``GCE_METADATA_HOST`` (google-auth
        does the same), and without it the metadata server answers 403."""
        return f"{self.base_url.split('://', 1)[1]}/{self.metadata_secret}"

    @property
    def oidc_request_url(self) -> str:
        # The runner's URL already carries a query string; clients append "&audience=".
        return f"{self.base_url}/_github/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        """The variables a GitHub runner sets for a job with ``id-token: write``."""
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.oidc_request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.oidc_request_token,
        }

    def gitlab_env(self, *audiences: str) -> dict[str, str]:
        """What a GitLab job has whose ``id_tokens:`` declare these audiences (default
        ``pypi``): ``GITLAB_CI`` and one fresh ID token per audience, in the variable named
        as ``id`` and ``uv`` look for it (``PYPI_ID_TOKEN``, ``SIGSTORE_ID_TOKEN``...)."""
        env = {"GITLAB_CI": "true", "CI_SERVER_URL": self.gitlab_issuer}
        for audience in audiences or ("pypi",):
            name = "".join(c if c.isascii() and c.isalnum() else "_" for c in audience.upper())
            env[f"{name}_ID_TOKEN"] = self.gitlab_id_token(audience)
        return env

    def google_env(self) -> dict[str, str]:
        """What points a client at the sandbox's metadata server instead of Google's."""
        return {"GCE_METADATA_HOST": self.metadata_host}

    # -- configuration ---------------------------------------------------------------

    @property
    def gitlab_identity(self) -> GitLabIdentity:
        with self._lock:
            return self._gitlab_identity

    @gitlab_identity.setter
    def gitlab_identity(self, value: GitLabIdentity) -> None:
        with self._lock:
            self._gitlab_identity = value

    @property
    def google_identity(self) -> GoogleIdentity:
        with self._lock:
            return self._google_identity

    @google_identity.setter
    def google_identity(self, value: GoogleIdentity) -> None:
        with self._lock:
            self._google_identity = value

    @property
    def identity(self) -> Identity:
        with self._lock:
            return self._identity

    @identity.setter
    def identity(self, value: Identity) -> None:
        with self._lock:
            self._identity = value

    @property
    def publishers(self) -> list[AnyPublisher]:
        """The configured publishers (a reified pending one shows as a normal one)."""
        return self.publishing.publishers()

    @publishers.setter
    def publishers(self, value: Iterable[AnyPublisher]) -> None:
        with self._lock:
            identity = self._identity
            self.publishing.set_publishers(
                list(value), identity.repository_owner_id, identity.repository_owner
            )

    @property
    def trusted_publishing(self) -> str:
        return self.publishing.mode

    @trusted_publishing.setter
    def trusted_publishing(self, mode: str) -> None:
        if mode not in TRUSTED_PUBLISHING_MODES:
            raise ValueError(f"trusted_publishing must be one of {TRUSTED_PUBLISHING_MODES}")
        with self._lock:
            self.publishing.mode = mode

    @property
    def audience(self) -> str:
        return self.publishing.audience

    @audience.setter
    def audience(self, value: str) -> None:
        with self._lock:
            self.publishing.audience = value

    @property
    def token_lifetime(self) -> int:
        return self.publishing.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        with self._lock:
            self.publishing.token_lifetime = seconds

    @property
    def max_file_size(self) -> int:
        return self.warehouse.max_file_size

    @max_file_size.setter
    def max_file_size(self, size: int) -> None:
        with self._lock:
            self.warehouse.max_file_size = size

    @property
    def max_project_size(self) -> int:
        return self.warehouse.max_project_size

    @max_project_size.setter
    def max_project_size(self, size: int) -> None:
        with self._lock:
            self.warehouse.max_project_size = size

    @property
    def users(self) -> dict[str, str]:
        """Password accounts (``{"alice": "s3cret"}``); they may upload to any project."""
        return self.warehouse.users

    # -- records ---------------------------------------------------------------------

    @property
    def upload_attempts(self) -> list[UploadAttempt]:
        with self._lock:
            return list(self.warehouse.upload_attempts)

    @property
    def issued_jwts(self) -> list[str]:
        with self._lock:
            return list(self._issued_jwts)

    @property
    def minted_tokens(self) -> list[str]:
        with self._lock:
            return list(self.publishing.minted_tokens)

    @property
    def burned_tokens(self) -> list[str]:
        """Minted tokens revoked through ``/_/oidc/burn-token``."""
        with self._lock:
            return list(self.publishing.burned_tokens)

    @property
    def mint_requests(self) -> list[MintRecord]:
        with self._lock:
            return list(self.publishing.mint_requests)

    def files(self, project: str) -> list[StoredFile]:
        return self.warehouse.files(project)

    def projects(self) -> list[str]:
        return self.warehouse.project_names()

    def attestations(self, filename: str) -> list[dict[str, Any]]:
        """The PEP 740 attestations uploaded with ``filename``, decoded; [] when it had none.

        Raises ``KeyError`` for a file the index does not have.
        """
        for project in self.projects():
            for stored in self.files(project):
                if stored.filename == filename:
                    decoded: list[dict[str, Any]] = json.loads(stored.attestations or "[]")
                    return decoded
        raise KeyError(filename)

    # -- test helpers ----------------------------------------------------------------

    def create_project(self, name: str) -> None:
        """Register an empty project (as if someone had created it on PyPI)."""
        self.warehouse.ensure_project(name)

    def delete_file(self, filename: str) -> None:
        """Delete an uploaded file; PyPI never accepts its name again."""
        self.warehouse.delete_file(filename)

    def release_age_days(self, project: str, version: str, days: float) -> None:
        """Pretend the release was created ``days`` ago (14+ closes it to new files)."""
        self.warehouse.set_release_age(project, version, days)

    def provenance_url(self, project: str, version: str, filename: str) -> str:
        """Where the Integrity API serves a file's provenance."""
        return f"{self.base_url}/integrity/{project}/{version}/{filename}/provenance"

    def fail_next(
        self,
        path_prefix: str,
        statuses: Sequence[int] = (503, 503),
        retry_after: Optional[Union[int, str]] = None,
    ) -> None:
        """Answer the next ``len(statuses)`` requests under ``path_prefix`` with these.

        The request body is read first (PyPI's front end fails after the bytes, too).
        """
        self.faults.add(path_prefix, statuses, retry_after)

    def id_token(self, audience: Optional[str] = None) -> str:
        """A fresh JWT for the current identity, as the token endpoint gives it."""
        with self._lock:
            identity = self._identity
            if audience is None:
                # GitHub's default audience is the URL of the repository owner.
                audience = f"https://github.com/{identity.repository_owner}"
            token = self.key.sign(identity.claims(issuer=self.issuer, audience=audience))
            self._issued_jwts.append(token)
            return token

    def gitlab_id_token(self, audience: str = "pypi") -> str:
        """A fresh ID token of the GitLab job, as GitLab puts it in the job's variable."""
        with self._lock:
            claims = self._gitlab_identity.claims(issuer=self.gitlab_issuer, audience=audience)
            token = self.gitlab_key.sign(claims)
            self._issued_jwts.append(token)
            return token

    def google_id_token(self, audience: str) -> str:
        """A fresh ID token of the Google service account, as the metadata server gives it."""
        with self._lock:
            claims = self._google_identity.claims(issuer=self.google_issuer, audience=audience)
            token = self.google_key.sign(claims)
            self._issued_jwts.append(token)
            return token

    def sign_jwt(self, claims: Mapping[str, Any], *, foreign_key: bool = False) -> str:
        """Sign arbitrary claims with the sandbox key (or a stranger's key, same kid)."""
        if not foreign_key:
            return self.key.sign(claims)
        stranger = SigningKey()
        stranger.kid = self.key.kid
        return stranger.sign(claims)
