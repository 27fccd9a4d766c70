"""The upload engine: retries with back-off, no retry of a final answer, token refresh,
parallel uploads with the first file of a release alone, streaming with a Content-Length."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.builders import make_sdist, make_wheel
from support.dists import read_distribution
from trusted_publish.cli import main
from trusted_publish.dists.discover import Distribution
from trusted_publish.errors import UploadError
from trusted_publish.http.transport import make_session
from trusted_publish.index.upload import MultipartBody, Outcome, RetryPolicy, form_fields, send
from trusted_publish_sandbox import Sandbox

#: Retries in these tests wait milliseconds, not seconds.
FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sb:
        yield sb


@pytest.fixture
def wheel(tmp_path: Path) -> Distribution:
    return read_distribution(make_wheel(tmp_path / "dist"))


def password() -> tuple[str, str]:
    return ("alice", "s3cret")


# --- retries -------------------------------------------------------------------------------


def test_503_twice_then_200_succeeds(sandbox: Sandbox, wheel: Distribution) -> None:
    sandbox.fail_next("/legacy/", statuses=[503, 503])
    retries: list[str] = []
    answer = send(
        requests.Session(), sandbox.repository_url, wheel, password, policy=FAST,
        on_retry=retries.append,
    )  # fmt: skip
    assert answer.outcome is Outcome.UPLOADED
    assert [a.status for a in sandbox.upload_attempts] == [503, 503, 200]
    assert len(retries) == 2
    assert "HTTP 503" in retries[0]


def test_429_waits_as_long_as_retry_after_says(sandbox: Sandbox, wheel: Distribution) -> None:
    sandbox.fail_next("/legacy/", statuses=[429], retry_after=7)
    waits: list[float] = []
    send(
        requests.Session(), sandbox.repository_url, wheel, password, policy=FAST,
        sleep=waits.append,
    )  # fmt: skip
    assert waits == [7.0]


def test_retry_after_longer_than_the_budget_gives_up_at_once(
    sandbox: Sandbox, wheel: Distribution
) -> None:
    sandbox.fail_next("/legacy/", statuses=[429], retry_after=3600)
    policy = RetryPolicy(max_retries=5, max_seconds=60)
    with pytest.raises(UploadError) as exc:
        send(requests.Session(), sandbox.repository_url, wheel, password, policy=policy,
             sleep=lambda s: pytest.fail("must not wait"))  # fmt: skip
    assert "failed after 1 attempt" in exc.value.message
    assert "HTTP 429" in exc.value.message


def test_400_is_final_and_never_retried(
    sandbox: Sandbox, wheel: Distribution, tmp_path: Path
) -> None:
    send(requests.Session(), sandbox.repository_url, wheel, password, policy=FAST)
    sandbox.release_age_days("tp-sample", "1.0.0", 20)
    sdist = read_distribution(make_sdist(tmp_path / "more"))
    with pytest.raises(UploadError) as exc:
        send(requests.Session(), sandbox.repository_url, sdist, password, policy=FAST)
    assert "HTTP 400" in exc.value.message
    assert "older than 14 days" in exc.value.message
    assert [a.status for a in sandbox.upload_attempts] == [200, 400]


def test_retries_are_bounded_in_count(sandbox: Sandbox, wheel: Distribution) -> None:
    sandbox.fail_next("/legacy/", statuses=[502] * 10)
    with pytest.raises(UploadError) as exc:
        send(requests.Session(), sandbox.repository_url, wheel, password, policy=FAST)
    assert "failed after 4 attempts" in exc.value.message
    assert len(sandbox.upload_attempts) == 4


def test_backoff_grows_exponentially_with_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (8, 60.0)]:
        delays = [policy.delay(retry, None) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


class DropsFirstConnection:
    """A loopback server that reads part of the first upload and hangs up; then says 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/legacy/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                if self.connections == 1:
                    conn.recv(1024)  # a piece of the headers, then gone mid-body
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    continue
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(65536)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                body = head.split(b"\r\n\r\n", 1)[1]
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")

    def close(self) -> None:
        self.sock.close()


def test_a_connection_dropped_mid_body_is_retried(tmp_path: Path) -> None:
    big = read_distribution(
        make_wheel(tmp_path, extra_files={"tp_sample/blob.bin": bytes(range(256)) * 8192})
    )
    server = DropsFirstConnection()
    try:
        retries: list[str] = []
        answer = send(make_session(), server.url, big, password, policy=FAST,
                      on_retry=retries.append)  # fmt: skip
    finally:
        server.close()
    assert answer.outcome is Outcome.UPLOADED
    assert server.connections == 2
    # The server hung up with a TCP reset, and is said to have.
    assert "the server reset the connection" in retries[0]


# --- the upload token's lifetime ---------------------------------------------------------------


def test_a_token_that_expires_mid_run_is_refreshed_from_a_new_oidc_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    make_wheel(dist, tag="py3-none-any")
    make_sdist(dist)
    # Tokens live 2 s; the first attempt gets a 503 asking to come back in 3 s, so the retry
    # needs a token minted after the first one died (without a refresh: 403, expired).
    with Sandbox(token_lifetime=2) as sb:
        sb.fail_next("/legacy/", statuses=[503], retry_after=3)
        env = {
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
            "TRUSTED_PUBLISH_MAX_PARALLEL": "1",
            **sb.env(),
        }
        assert main([], env=env) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert "minting a new one" in out
        assert {f.filename for f in sb.files("tp-sample")} == {
            "tp_sample-1.0.0-py3-none-any.whl",
            "tp_sample-1.0.0.tar.gz",
        }
        # Every mint used a fresh OIDC token: PyPI refuses a reused one.
        assert len(set(sb.issued_jwts)) == len(sb.issued_jwts) >= 3
        assert all(a.status != 403 for a in sb.upload_attempts)


# --- parallel uploads ------------------------------------------------------------------------


def test_the_first_file_of_a_release_goes_alone_then_the_rest_in_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dist = tmp_path / "dist"
    tags = [f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64" for minor in range(9, 14)]
    for tag in tags:
        make_wheel(dist, tag=tag)
    make_sdist(dist)
    with Sandbox(users={"alice": "s3cret"}) as sb:
        env = {
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
            "TRUSTED_PUBLISH_USER": "alice",
            "TRUSTED_PUBLISH_PASSWORD": "s3cret",
            "TRUSTED_PUBLISH_MAX_PARALLEL": "3",
        }
        assert main([], env=env) == 0
        out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(("Uploading ", "Uploaded "))]
    # The release exists once the first file is in; only then may others start.
    assert lines[0].startswith("Uploading ")
    assert lines[1].startswith("Uploaded ")
    assert lines[0].split()[1] == lines[1].split()[1]
    # The rest overlapped: a second start came before the second finish.
    starts = [i for i, line in enumerate(lines) if line.startswith("Uploading ")]
    ends = [i for i, line in enumerate(lines) if line.startswith("Uploaded ")]
    assert starts[2] < ends[1]
    assert len(ends) == len(tags) + 1


def test_a_final_failure_stops_files_not_yet_started(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for minor in range(9, 14):
        make_wheel(dist, tag=f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64")
    out = io.StringIO()
    with Sandbox(users={"alice": "s3cret"}) as sb:
        # The first wheel creates the release; the next answer is a final 400.
        sb.fail_next("/legacy/", statuses=[200, 400])
        env = {
            "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
            "TRUSTED_PUBLISH_USER": "alice",
            "TRUSTED_PUBLISH_PASSWORD": "s3cret",
            "TRUSTED_PUBLISH_MAX_PARALLEL": "1",
        }
        with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
            assert main([], env=env) == 5
        assert len(sb.upload_attempts) == 2
    text = out.getvalue()
    assert "Already on the index: tp_sample-1.0.0-cp310-cp310-manylinux_2_17_x86_64.whl" in text
    assert "Refused by the index: tp_sample-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl" in text
    not_started = text.split("Not started: ")[1].splitlines()[0].split(", ")
    assert len(not_started) == 3


# --- streaming ---------------------------------------------------------------------------------


def test_the_body_is_streamed_with_an_exact_content_length(tmp_path: Path) -> None:
    dist = read_distribution(
        make_wheel(tmp_path, extra_files={"tp_sample/blob.bin": b"\xff" * (3 * 1024 * 1024)})
    )
    body = MultipartBody(form_fields(dist), dist)
    chunks = list(body)
    assert sum(len(c) for c in chunks) == len(body)
    # Never the whole file in one piece: memory stays flat whatever the size.
    assert max(len(c) for c in chunks) <= 1024 * 1024 + 64 * 1024
    assert list(body) == chunks  # iterating again (a retry) gives the same bytes


def test_a_file_that_changes_after_hashing_is_not_sent(tmp_path: Path) -> None:
    path = make_wheel(tmp_path)
    dist = read_distribution(path)
    with path.open("ab") as fh:
        fh.write(b"more")
    with pytest.raises(UploadError, match="changed while it was uploaded"):
        b"".join(MultipartBody(form_fields(dist), dist))
