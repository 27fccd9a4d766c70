"""Our own test fixtures (tests/support/) do what the tests that use them rely on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

from support.capture import CannedResponse, CaptureServer
from support.dists import dist_files
from support.multipart import MultipartError, parse_multipart
from support.procs import ServerProcess, ServerStartError, loopback_session
from support.pypiserver import run_pypiserver

pytestmark = pytest.mark.slow

WHEEL = "tp_demo_package-1.0.0-py3-none-any.whl"
SDIST = "tp_demo_package-1.0.0.tar.gz"


# --- the demo package -------------------------------------------------------------------


def test_built_dists_are_one_wheel_and_one_sdist(built_dists: Path, dist_dir: Path) -> None:
    assert sorted(path.name for path in built_dists.iterdir()) == [WHEEL, SDIST]
    # dist_dir is a private copy, byte for byte.
    assert dist_dir != built_dists
    assert [path.name for path in dist_files(dist_dir)] == [WHEEL, SDIST]
    for path in dist_files(dist_dir):
        assert path.read_bytes() == (built_dists / path.name).read_bytes()


# --- server processes -------------------------------------------------------------------


def test_pypiserver_stops_without_leftovers(tmp_path: Path) -> None:
    with run_pypiserver(tmp_path) as server:
        pid = server.process.popen.pid
        assert server.startup_seconds < 10
        with loopback_session() as session:
            assert session.get(server.index_url, timeout=5).status_code == 200
    assert server.process.popen.returncode is not None
    with pytest.raises(ProcessLookupError):
        # The whole process group is gone, not just its leader.
        os.killpg(pid, 0)
    with loopback_session() as session, pytest.raises(requests.ConnectionError):
        session.get(server.index_url, timeout=5)


def test_server_that_dies_reports_its_log_tail(tmp_path: Path) -> None:
    proc = ServerProcess.start(
        "doomed",
        [sys.executable, "-c", "import sys; print('listening soon'); sys.exit('port is bad')"],
        tmp_path,
    )
    try:
        with pytest.raises(ServerStartError) as failure:
            proc.wait_for_http("http://127.0.0.1:9/", timeout=30)
    finally:
        proc.stop()
    message = str(failure.value)
    assert "exited with code 1" in message
    assert "listening soon" in message
    assert "port is bad" in message


# --- capture server -----------------------------------------------------------------------


def test_capture_server_records_raw_requests_and_answers_as_told(
    capture_server: CaptureServer,
) -> None:
    # Canned answers: queued ones first, then the default.
    capture_server.respond_with(403, b"Forbidden")
    capture_server.queue(CannedResponse(503, b"busy"))
    with loopback_session() as session:
        first = session.put(
            f"{capture_server.url}x?y=1", data=b"\r\nraw\n", headers={"X-Probe": "1"}, timeout=5
        )
        second = session.get(capture_server.url, timeout=5)
    assert (first.status_code, first.text) == (503, "busy")
    assert (second.status_code, second.text) == (403, "Forbidden")
    put, get = capture_server.requests
    assert (put.method, put.path, put.body) == ("PUT", "/x?y=1", b"\r\nraw\n")
    assert put.header("x-probe") == "1"  # headers found whatever their case
    assert put.header("Content-Length") == "6"
    assert (get.method, get.path, get.body) == ("GET", "/", b"")


# --- parse_multipart ----------------------------------------------------------------------


def test_parse_multipart_keeps_order_repeats_and_bytes() -> None:
    content = b"line1\r\nline2\nbare\rcr\r\n\r\n--not-the-boundary\r\n\x00\xff"
    body = (
        b"preamble is ignored\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="classifiers"\r\n\r\n'
        b"A :: B\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name=":action"\r\n\r\n'
        b"file_upload\r\n"
        b"--b0undary  \r\n"  # transport padding after a delimiter is allowed
        b'Content-Disposition: form-data; name="classifiers"\r\n\r\n'
        b"C :: D\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="summary"\r\n\r\n'
        b"caf\xc3\xa9 \xe2\x80\x94 two\r\nlines\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="empty"; filename="e.txt"\r\n\r\n'
        b"\r\n"
        b"--b0undary--\r\nepilogue is ignored"
    )
    headers = [("content-type", 'multipart/form-data; boundary="b0undary"')]
    assert parse_multipart(headers, body) == [
        ("classifiers", "A :: B"),
        (":action", "file_upload"),
        ("classifiers", "C :: D"),
        ("summary", "café — two\r\nlines"),
        ("content", ("x-1.0.tar.gz", content, "application/octet-stream")),
        ("empty", ("e.txt", b"", "")),
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"no delimiter at all", "no boundary delimiter"),
        (b'--b\nContent-Disposition: form-data; name="a"\n\nx\n--b--\n', "not followed by CRLF"),
        (b"--b\r\nContent-Disposition: form-data\nX: 1\r\n\r\nx\r\n--b--", "bare CR or LF"),
        (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n', "no close delimiter"),
        (b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "without Content-Disposition"),
        (b'--bX\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--', "not followed"),
    ],
)
def test_parse_multipart_rejects_malformed_bodies(body: bytes, error: str) -> None:
    with pytest.raises(MultipartError, match=error):
        parse_multipart({"Content-Type": "multipart/form-data; boundary=b"}, body)
