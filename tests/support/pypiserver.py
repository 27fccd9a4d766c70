"""A real pypiserver 2.x that requires a password to upload."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.procs import (
    LOOPBACK,
    ServerProcess,
    child_env,
    console_script,
    start_http_server,
)

HEALTH_PATH = "/health"


@dataclass
class PypiServer:
    """A running pypiserver; uploads need ``user``/``password``, downloads are open."""

    base_url: str
    user: str
    password: str
    packages_dir: Path
    process: ServerProcess
    startup_seconds: float

    @property
    def upload_url(self) -> str:
        # pypiserver takes legacy uploads (``:action=file_upload``) as POST on its root only;
        # ``/legacy/`` and the like answer 405.
        return self.base_url

    @property
    def index_url(self) -> str:
        return f"{self.base_url}simple/"

    def files(self) -> list[str]:
        """Names of the stored distribution files, sorted."""
        return sorted(path.name for path in self.packages_dir.iterdir() if path.is_file())


def write_htpasswd(path: Path, user: str, password: str) -> None:
    """Write an htpasswd file that pypiserver's passlib can check.

    apr_md5_crypt (``$apr1$``, what ``htpasswd -m`` writes) is pure Python and cheap to
    verify; passlib's sha256_crypt default of 535,000 rounds costs ~0.3 s per upload.
    """
    with warnings.catch_warnings():
        # passlib 1.7.4 imports the stdlib ``crypt`` module, deprecated since Python 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

    htpasswd = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(user, password)
    htpasswd.save()


@contextmanager
def run_pypiserver(
    workdir: Path, *, user: str = "alice", timeout: float = 30.0
) -> Iterator[PypiServer]:
    """Run ``pypi-server run`` on a free loopback port until the context exits."""
    packages_dir = workdir / "packages"
    packages_dir.mkdir(parents=True)
    # Never starting with "-", which twine's `-p` would read as the next option.
    password = "pw" + secrets.token_urlsafe(16)
    htpasswd = workdir / "htpasswd"
    write_htpasswd(htpasswd, user, password)

    def argv(port: int) -> list[str]:
        return [
            console_script("pypi-server"),
            "run",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            # Only uploads need the password, as on PyPI.
            "--authenticate",
            "update",
            "--passwords",
            str(htpasswd),
            # Never redirect unknown projects to pypi.org: tests have no network.
            "--disable-fallback",
            # No cache: files() and anything a test does to packages_dir agree with the index.
            "--backend",
            "simple-dir",
            "--health-endpoint",
            HEALTH_PATH,
            "--verbose",
            str(packages_dir),
        ]

    process, port, elapsed = start_http_server(
        "pypiserver", argv, HEALTH_PATH, workdir / "logs", timeout=timeout, env=child_env()
    )
    try:
        yield PypiServer(
            base_url=f"http://{LOOPBACK}:{port}/",
            user=user,
            password=password,
            packages_dir=packages_dir,
            process=process,
            startup_seconds=elapsed,
        )
    finally:
        process.stop()
