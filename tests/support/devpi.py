"""A real devpi-server that runs offline, with user ``alice`` and her own indexes."""

from __future__ import annotations

import itertools
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from support.procs import (
    LOOPBACK,
    ServerProcess,
    ServerStartError,
    child_env,
    console_script,
    loopback_session,
    start_http_server,
    tail,
)

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}

# devpi-server derives its token key with argon2 using 512 MiB and 16 passes by default,
# which alone takes ~4 s at start-up on a 2-core machine. These hidden options (devpi's own
# test suite lowers them the same way) bring a start down to ~2 s; the secret is random
# per run and only guards tokens of a throw-away server.
_CHEAP_ARGON2 = (
    "--argon2-memory-cost",
    "8",
    "--argon2-time-cost",
    "1",
    "--argon2-parallelism",
    "1",
)


def _password() -> str:
    # token_urlsafe may start with "-", which a command line (devpi-init --root-passwd, twine
    # -p) reads as the next option: the run then fails with "expected one argument".
    return "pw" + secrets.token_urlsafe(16)


@dataclass
class DevpiIndex:
    """One stage index ``user/name``; uploads need the owner's password."""

    server: DevpiServer
    name: str  # "alice/dev"

    @property
    def upload_url(self) -> str:
        # devpi takes legacy uploads (``:action=file_upload``) as POST on the index URL.
        return f"{self.server.base_url}{self.name}/"

    @property
    def index_url(self) -> str:
        return f"{self.server.base_url}{self.name}/+simple/"

    @property
    def user(self) -> str:
        return self.server.user

    @property
    def password(self) -> str:
        return self.server.password

    def files(self) -> list[str]:
        """Names of the release files stored in this index (not inherited ones), sorted."""
        index = self.server.api("GET", self.name)
        names: list[str] = []
        for project in index["projects"]:
            versions: dict[str, Any] = self.server.api("GET", f"{self.name}/{project}")
            for metadata in versions.values():
                for link in metadata.get("+links", []):
                    if link.get("rel") == "releasefile":
                        names.append(Path(urlsplit(link["href"]).path).name)
        return sorted(names)


@dataclass
class DevpiServer:
    """A running devpi-server with user ``user`` and her index ``user/dev``."""

    base_url: str
    user: str
    password: str
    serverdir: Path
    process: ServerProcess
    init_seconds: float
    startup_seconds: float
    session: requests.Session = field(default_factory=loopback_session, repr=False)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def dev(self) -> DevpiIndex:
        """The index created at start-up, ``alice/dev``."""
        return DevpiIndex(self, f"{self.user}/dev")

    def api(self, method: str, path: str, payload: Any = None) -> Any:
        """Call devpi's JSON API as the user and return ``result`` (raises on errors)."""
        response = self.session.request(
            method,
            f"{self.base_url}{path}",
            json=payload,
            headers=_JSON,
            # devpi accepts basic auth with the plain password, so no +login token dance.
            auth=(self.user, self.password),
            timeout=30,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"devpi {method} /{path} -> {response.status_code}: {response.text}\n"
                f"{self.process.logs(20)}"
            )
        return response.json().get("result")

    def create_index(self, name: str, *, volatile: bool = False) -> DevpiIndex:
        """Create ``user/name`` with no bases, so nothing is inherited or mirrored.

        Not volatile by default, as on PyPI a file name cannot be reused: uploading other
        bytes under an existing name gets 409. (Unlike PyPI, devpi answers 200 to a second
        upload of *identical* bytes.)
        """
        self.api("PUT", f"{self.user}/{name}", {"type": "stage", "bases": [], "volatile": volatile})
        return DevpiIndex(self, f"{self.user}/{name}")

    def new_index(self) -> DevpiIndex:
        """A fresh, empty index (``user/dev-1``, ``user/dev-2``, ...): cheap, ~0.1 s."""
        return self.create_index(f"dev-{next(self._counter)}")


def _devpi_init(serverdir: Path, log_dir: Path, timeout: float) -> float:
    """``devpi-init`` without root/pypi: the mirror of pypi.org would need the network."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "devpi-init.log"
    started = time.monotonic()
    with log.open("wb") as out:
        result = subprocess.run(
            [
                console_script("devpi-init"),
                "--serverdir",
                str(serverdir),
                "--no-root-pypi",
                "--root-passwd",
                _password(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise ServerStartError(f"devpi-init failed with code {result.returncode}\n{tail(log)}")
    return time.monotonic() - started


@contextmanager
def run_devpi(
    workdir: Path, *, user: str = "alice", timeout: float = 60.0
) -> Iterator[DevpiServer]:
    """Initialise and run devpi-server on a free loopback port until the context exits."""
    serverdir = workdir / "server"
    log_dir = workdir / "logs"
    init_seconds = _devpi_init(serverdir, log_dir, timeout)

    def argv(port: int) -> list[str]:
        return [
            console_script("devpi-server"),
            "--serverdir",
            str(serverdir),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            # Belt and braces with --no-root-pypi: never contact an upstream index.
            "--offline-mode",
            *_CHEAP_ARGON2,
        ]

    process, port, elapsed = start_http_server(
        "devpi-server", argv, "/+api", log_dir, timeout=timeout, env=child_env()
    )
    server = DevpiServer(
        base_url=f"http://{LOOPBACK}:{port}/",
        user=user,
        password=_password(),
        serverdir=serverdir,
        process=process,
        init_seconds=init_seconds,
        startup_seconds=elapsed,
    )
    try:
        # Anonymous user creation is allowed by default (no --restrict-modify).
        response = server.session.put(
            f"{server.base_url}{user}",
            json={"password": server.password, "email": f"{user}@example.invalid"},
            headers=_JSON,
            timeout=30,
        )
        if response.status_code != 201:
            raise ServerStartError(
                f"creating devpi user {user} -> {response.status_code}: {response.text}\n"
                f"{process.logs(20)}"
            )
        server.create_index("dev")
        yield server
    finally:
        server.session.close()
        process.stop()
