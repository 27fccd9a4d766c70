"""Field-by-field parity with `twine upload`: the index stores the form, so it must match.

Both clients upload the same files to a loopback server that records the raw requests; the
parsed forms must be equal, field for field and in order, and so must the headers, but for
the User-Agent and what depends on the random multipart boundary.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from support.builders import make_sdist, make_wheel, metadata_text
from support.capture import CapturedRequest, CaptureServer
from support.forms import by_name, forms_by_file
from support.twine import FAKE_TOKEN, twine_requests
from trusted_publish.cli import main


def our_requests(dist_dir: Path, server: CaptureServer) -> list[CapturedRequest]:
    before = len(server.requests)
    argv = ["--repository-url", server.url, "--packages-dir", str(dist_dir)]
    env = {"TRUSTED_PUBLISH_PASSWORD": FAKE_TOKEN}
    assert main(argv, env=env) == 0
    # Only the uploads: before them we ask the index (GET) which files it already has.
    return [r for r in server.requests[before:] if r.method == "POST"]


#: Headers whose value legitimately differs: who we are, and the random boundary (which
#: changes the body's length by nothing when both boundaries are 32 hex digits).
DIFFERENT = {"user-agent", "content-type"}


def comparable_headers(request: CapturedRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers if k.lower() not in DIFFERENT}


def assert_same_as_twine(dist_dir: Path, capture_server: CaptureServer) -> None:
    theirs = twine_requests(dist_dir, capture_server)
    ours = our_requests(dist_dir, capture_server)
    twine_forms, our_forms = forms_by_file(theirs), forms_by_file(ours)
    assert sorted(our_forms) == sorted(twine_forms)
    for filename, twine_form in twine_forms.items():
        # Same fields, same values, same repetitions in the same order. The order *between*
        # names is not compared: twine's changes from run to run (see upload.form_fields).
        assert by_name(our_forms[filename]) == by_name(twine_form), filename
        assert len(our_forms[filename]) == len(twine_form)
    twine_headers = comparable_headers(theirs[0])
    our_headers = comparable_headers(ours[0])
    assert our_headers.keys() == twine_headers.keys()
    for name in our_headers.keys() - {"content-length"}:
        assert our_headers[name] == twine_headers[name], name
    assert (ours[0].header("Content-Type") or "").startswith("multipart/form-data; boundary=")


def test_demo_package_form_matches_twine(dist_dir: Path, capture_server: CaptureServer) -> None:
    assert_same_as_twine(dist_dir, capture_server)


@pytest.mark.parametrize("metadata_version", ["1.2", "2.1", "2.4"])
def test_rich_metadata_form_matches_twine(
    tmp_path: Path, capture_server: CaptureServer, metadata_version: str
) -> None:
    # Every kind of field: multi-use, project URLs, keywords, a multi-line description,
    # a non-ASCII maintainer, platforms, and 2.4's license files and dynamic fields.
    extra = "Platform: any\nPlatform: linux\nMaintainer: Zoë Maintainer\n"
    if metadata_version == "2.4":
        extra += "License-File: LICENSE\nDynamic: Requires-Dist\n"
    meta = metadata_text(
        "tp-rich",
        "2.0.1",
        metadata_version=metadata_version,
        extra_headers=extra,
        body="Rich\n====\n\nÜnïcode body with\nmany lines.\n",
    )
    if metadata_version != "2.4":
        meta = meta.replace("License-Expression: MIT\n", "License: MIT\n")
    if metadata_version == "1.2":
        meta = meta.replace("Provides-Extra: cli\n", "").replace(
            "Description-Content-Type: text/markdown\n", ""
        )
        meta = meta.replace("Requires-Dist: click; extra == 'cli'\n", "")
    dist = tmp_path / "dist"
    make_wheel(dist, "tp_rich", "2.0.1", metadata=meta, tag="py2.py3-none-any")
    make_sdist(dist, "tp_rich", "2.0.1", metadata=meta)
    assert_same_as_twine(dist, capture_server)


def test_no_secret_in_our_output(
    dist_dir: Path, capture_server: CaptureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same password upload as twine's, to an index that quotes in its refusal the
    # password and the Authorization header it was sent: the refusal is printed, so only
    # our redaction stands between the credential and the log.
    basic = base64.b64encode(f"__token__:{FAKE_TOKEN}".encode()).decode()
    echo = f"Invalid credentials: password {FAKE_TOKEN!r} (Authorization: Basic {basic})"
    capture_server.respond_with(403, echo.encode())
    argv = ["--repository-url", capture_server.url, "--packages-dir", str(dist_dir)]
    capsys.readouterr()
    assert main(argv, env={"TRUSTED_PUBLISH_PASSWORD": FAKE_TOKEN}) == 5
    out = capsys.readouterr()
    seen = out.out + out.err
    assert "HTTP 403 Invalid credentials: password '***' (Authorization: Basic ***)" in seen
    assert FAKE_TOKEN not in seen
    assert basic not in seen and basic[:16] not in seen
