"""The fixtures of conftest.py work with the real peers: twine, pip, pypiserver, devpi."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Protocol

import pytest
import requests

from support.capture import CannedResponse, CaptureServer
from support.dists import dist_files
from support.multipart import FormField, FormValue, MultipartError, parse_multipart
from support.procs import ServerProcess, ServerStartError, child_env, loopback_session
from support.pypiserver import run_pypiserver
from support.twine import FAKE_TOKEN, TwineCapture, twine_requests, twine_upload

pytestmark = pytest.mark.slow

WHEEL = "tp_demo_package-1.0.0-py3-none-any.whl"
SDIST = "tp_demo_package-1.0.0.tar.gz"
CLASSIFIERS = [
    "Development Status :: 5 - Production/Stable",
    "Intended Audience :: Developers",
    "Operating System :: OS Independent",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
]


class PackageIndex(Protocol):
    """What the pypiserver and devpi fixtures have in common."""

    @property
    def upload_url(self) -> str: ...
    @property
    def index_url(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> str: ...
    def files(self) -> list[str]: ...


def values(form: list[FormField], name: str) -> list[FormValue]:
    return [value for key, value in form if key == name]


def only(form: list[FormField], name: str) -> FormValue:
    found = values(form, name)
    assert len(found) == 1, f"{name}: {found!r}"
    return found[0]


# --- the demo package -------------------------------------------------------------------


def test_built_dists_are_one_wheel_and_one_sdist(built_dists: Path, dist_dir: Path) -> None:
    assert sorted(path.name for path in built_dists.iterdir()) == [WHEEL, SDIST]
    # dist_dir is a private copy, byte for byte.
    assert dist_dir != built_dists
    assert [path.name for path in dist_files(dist_dir)] == [WHEEL, SDIST]
    for path in dist_files(dist_dir):
        assert path.read_bytes() == (built_dists / path.name).read_bytes()

    with zipfile.ZipFile(built_dists / WHEEL) as wheel:
        metadata = wheel.read("tp_demo_package-1.0.0.dist-info/METADATA").decode()
    for line in (
        "Name: tp-demo-package",
        "Version: 1.0.0",
        "Description-Content-Type: text/markdown",
        "License-Expression: MIT",
        "Keywords: demo,trusted-publishing",
        "Requires-Python: >=3.9",
        "Provides-Extra: cli",
        "Requires-Dist: click>=8; extra == 'cli'",
        "Project-URL: Homepage, https://example.invalid/tp-demo-package",
    ):
        assert line in metadata.splitlines()


# --- real indexes: twine uploads, pip downloads ------------------------------------------


@pytest.mark.parametrize("index_fixture", ["pypiserver", "devpi"])
def test_twine_uploads_and_pip_downloads(
    index_fixture: str, request: pytest.FixtureRequest, dist_dir: Path, tmp_path: Path
) -> None:
    index: PackageIndex = request.getfixturevalue(index_fixture)
    files = dist_files(dist_dir)

    # Uploads need the password: a wrong one is refused and stores nothing.
    refused = twine_upload(files, index.upload_url, index.user, "wrong-password", check=False)
    assert refused.returncode != 0
    assert index.files() == []

    twine_upload(files, index.upload_url, index.user, index.password)
    assert index.files() == [WHEEL, SDIST]

    # --isolated: no pip.conf, no PIP_FIND_LINKS; the index is the only place to look.
    download = tmp_path / "download"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--isolated",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--index-url",
            index.index_url,
            "tp-demo-package==1.0.0",
            "-d",
            str(download),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [path.name for path in download.iterdir()] == [WHEEL]
    assert (download / WHEEL).read_bytes() == (dist_dir / WHEEL).read_bytes()


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


# --- capture server and twine's reference form ------------------------------------------


def test_twine_capture_returns_twines_form(dist_dir: Path, twine_capture: TwineCapture) -> None:
    forms = twine_capture(dist_dir)
    assert sorted(forms) == [WHEEL, SDIST]
    for filename, form in forms.items():
        data = (dist_dir / filename).read_bytes()
        assert only(form, ":action") == "file_upload"
        assert only(form, "protocol_version") == "1"
        assert only(form, "name") == "tp-demo-package"
        assert only(form, "version") == "1.0.0"
        assert only(form, "sha256_digest") == hashlib.sha256(data).hexdigest()
        assert only(form, "blake2_256_digest") == hashlib.blake2b(data, digest_size=32).hexdigest()
        assert values(form, "classifiers") == CLASSIFIERS
        assert only(form, "description_content_type") == "text/markdown"
        assert only(form, "content") == (filename, data, "application/octet-stream")
    assert only(forms[WHEEL], "filetype") == "bdist_wheel"
    assert only(forms[SDIST], "filetype") == "sdist"


def test_capture_server_records_raw_requests(dist_dir: Path, capture_server: CaptureServer) -> None:
    uploads = twine_requests(dist_dir, capture_server)
    assert [(r.method, r.path) for r in uploads] == [("POST", "/"), ("POST", "/")]
    token = base64.b64encode(f"__token__:{FAKE_TOKEN}".encode()).decode()
    for upload in uploads:
        assert upload.header("authorization") == f"Basic {token}"
        assert (upload.header("Content-Type") or "").startswith("multipart/form-data; boundary=")
        assert upload.header("Content-Length") == str(len(upload.body))

    # Canned answers: queued ones first, then the default.
    capture_server.respond_with(403, b"Forbidden")
    capture_server.queue(CannedResponse(503, b"busy"))
    with loopback_session() as session:
        first = session.put(f"{capture_server.url}x?y=1", data=b"\r\nraw\n", timeout=5)
        second = session.get(capture_server.url, timeout=5)
    assert (first.status_code, first.text) == (503, "busy")
    assert (second.status_code, second.text) == (403, "Forbidden")
    last_put = capture_server.requests[-2]
    assert (last_put.method, last_put.path, last_put.body) == ("PUT", "/x?y=1", b"\r\nraw\n")

    # twine reports the refusal and fails.
    refused = twine_upload(
        dist_files(dist_dir), capture_server.url, "__token__", FAKE_TOKEN, check=False
    )
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr


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
