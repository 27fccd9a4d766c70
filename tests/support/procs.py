"""Start, probe and stop server processes that listen on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import requests

LOOPBACK = "127.0.0.1"

# How long to wait between two readiness probes; the wait doubles as the check that the
# server has not died (Popen.wait), so a crash is reported at once instead of at the deadline.
_POLL_INTERVAL = 0.05
# Ports handed out by free_port() can be taken by someone else before the server binds them.
_PORT_ATTEMPTS = 3
_PORT_IN_USE_MARKERS = ("address already in use", "eaddrinuse", "errno 98")


class ServerStartError(RuntimeError):
    """A server process died or did not answer before its deadline."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def console_script(name: str) -> str:
    """Path of an entry-point script installed with the running interpreter.

    Tests run the servers of *this* environment (pinned in requirements/dev.txt), never
    whatever happens to be first on PATH.
    """
    script = Path(sysconfig.get_path("scripts")) / name
    if not script.is_file():
        raise FileNotFoundError(f"{name} is not installed next to this interpreter: {script}")
    return str(script)


def loopback_session() -> requests.Session:
    """A requests session that ignores proxy variables, netrc and the like.

    The machine may route registry traffic through a proxy; loopback requests must not go
    there, and credentials from ~/.netrc must not leak into auth tests.
    """
    session = requests.Session()
    session.trust_env = False
    return session


def child_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Environment for tools run by the tests (twine, pip, servers, build).

    It keeps PATH and friends but makes sure nothing outside the test can steer the tool:
    loopback bypasses any proxy, keyring is a no-op (twine must use -u/-p only), and the
    TWINE_* / PIP_* settings of the developer's shell do not apply.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWINE_", "PIP_", "DEVPI_", "PYPISERVER_"))
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (or a note that it is missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServerProcess:
    """A process in its own session, so that stopping it reaches every child it spawned."""

    name: str
    argv: Sequence[str]
    popen: subprocess.Popen[bytes]
    stdout_log: Path
    stderr_log: Path

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[Path] = None,
    ) -> ServerProcess:
        log_dir.mkdir(parents=True, exist_ok=True)
        stdout_log = log_dir / f"{name}.stdout.log"
        stderr_log = log_dir / f"{name}.stderr.log"
        # The child inherits the descriptors; the parent's copies can close right away.
        with stdout_log.open("wb") as out, stderr_log.open("wb") as err:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env) if env is not None else child_env(),
                cwd=cwd,
                start_new_session=True,
            )
        return cls(name, list(argv), popen, stdout_log, stderr_log)

    def logs(self, lines: int = 40) -> str:
        return (
            f"--- {self.stdout_log} (tail) ---\n{tail(self.stdout_log, lines)}\n"
            f"--- {self.stderr_log} (tail) ---\n{tail(self.stderr_log, lines)}"
        )

    def wait_until(self, probe: Callable[[], bool], *, timeout: float, what: str) -> float:
        """Poll ``probe`` until it is true; return the seconds it took.

        Raises ServerStartError with the log tails if the process exits or the deadline
        passes first.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if probe():
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    f"{self.name}: {what} not true after {timeout:.0f}s\n"
                    f"argv: {self.argv}\n{self.logs()}"
                )
            try:
                code = self.popen.wait(timeout=_POLL_INTERVAL)
            except subprocess.TimeoutExpired:
                continue
            raise ServerStartError(
                f"{self.name} exited with code {code} before {what}\n"
                f"argv: {self.argv}\n{self.logs()}"
            )

    def wait_for_http(self, url: str, *, timeout: float) -> float:
        """Wait until ``url`` answers with any non-5xx status."""
        with loopback_session() as session:

            def answers() -> bool:
                try:
                    response = session.get(url, timeout=2)
                except requests.RequestException:
                    return False
                return response.status_code < 500

            return self.wait_until(answers, timeout=timeout, what=f"GET {url} answered")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after ``timeout``."""
        pgid = self.popen.pid  # start_new_session=True makes the child its group's leader
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        # The leader is reaped; grandchildren (workers, reloaders) may still be exiting.
        deadline = time.monotonic() + timeout
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                _signal_group(pgid, signal.SIGKILL)
                break
            time.sleep(_POLL_INTERVAL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing to stop
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_http_server(
    name: str,
    make_argv: Callable[[int], Sequence[str]],
    ready_path: str,
    log_dir: Path,
    *,
    timeout: float = 60.0,
    env: Optional[Mapping[str, str]] = None,
) -> tuple[ServerProcess, int, float]:
    """Start a server on a free port and wait until ``ready_path`` answers.

    Returns the process, its port and the startup time in seconds. Retries on a fresh port
    when the chosen one was grabbed by someone else between free_port() and bind().
    """
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port()
        proc = ServerProcess.start(f"{name}-{port}", make_argv(port), log_dir, env=env)
        try:
            elapsed = proc.wait_for_http(f"http://{LOOPBACK}:{port}{ready_path}", timeout=timeout)
        except ServerStartError as error:
            proc.stop()
            if attempt < _PORT_ATTEMPTS and any(
                marker in str(error).lower() for marker in _PORT_IN_USE_MARKERS
            ):
                continue
            raise
        return proc, port, elapsed
    raise AssertionError("unreachable: the last attempt either returns or raises")
