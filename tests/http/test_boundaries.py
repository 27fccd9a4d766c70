"""Every answer parsed at one boundary, and a finished release stays finished (issue #18,
defects 1 and 8), driven through the real CLI against an index that misbehaves on purpose
(tests/support/hostile.py).

A listing read back after the upload that no parser can read (JSON nested a hundred
thousand deep, a `Content-Length` of `²`) is a warning, the run's exit 0; the same answers
before or during the upload are each stage's named error, never an internal error (70). A
`repository-url` whose host does not resolve, or whose port refuses, is settled by one short
retry: the file is "not started" and the fix is the URL.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from support.builders import make_wheel
from support.hostile import Behaviour, HostileIndex
from support.procs import LOOPBACK
from trusted_publish.cli import EXIT_INTERNAL, main
from trusted_publish.index.listing import Lookup
from trusted_publish.index.target import Index
from trusted_publish.index.verify import VerifyPolicy

#: JSON nested deeper than any parser's recursion limit.
DEEP = b"[" * 100_000
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
#: The read-back's waits, short: the files' absence is not what these tests are about.
QUICK = VerifyPolicy(max_seconds=0.3, first_delay=0.1, max_delay=0.1)
#: Before the upload the client reads the project's page (404: a new project) and the
#: index's root (to tell "no such project" from "no index"): the read-back comes after these.
BEFORE_UPLOAD = 2


@dataclass
class Run:
    code: int
    out: str
    seconds: float
    outputs: dict[str, Any]


@pytest.fixture
def index() -> Iterator[HostileIndex]:
    with HostileIndex() as server:
        yield server


@pytest.fixture(scope="module")
def shared_index() -> Iterator[HostileIndex]:
    """One server for the property's examples (each starts with `reset`)."""
    with HostileIndex() as server:
        yield server


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    make_wheel(folder)
    return folder


def publish(env: dict[str, str], wheel_dir: Path) -> Run:
    """`trusted-publish` with `env` (its outputs read back), the read-back's waits short."""
    with tempfile.TemporaryDirectory() as tmp:
        outputs = Path(tmp) / "outputs"
        run_env = {
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(wheel_dir),
            "GITHUB_OUTPUT": str(outputs),
            **env,
        }
        said = io.StringIO()
        started = time.monotonic()
        with (
            mock.patch("trusted_publish.publish.VerifyPolicy", lambda: QUICK),
            contextlib.redirect_stdout(said),
            contextlib.redirect_stderr(said),
        ):
            code = main([], run_env)
        seconds = time.monotonic() - started
        text = outputs.read_text() if outputs.exists() else ""
    found = re.findall(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", text, re.M | re.S)
    return Run(code, said.getvalue(), seconds, {n: json.loads(v) for n, _, v in found})


def with_password(index: HostileIndex) -> dict[str, str]:
    return {
        "TRUSTED_PUBLISH_REPOSITORY_URL": index.repository_url,
        "TRUSTED_PUBLISH_PASSWORD": "not-a-real-password-0123",
        "TRUSTED_PUBLISH_USER": "someone",
    }


# --- defect 1: after the uploads, an unreadable listing is a warning --------------------------


@pytest.mark.parametrize(
    "answer",
    [
        Behaviour(mode="status", body=DEEP, content_type=SIMPLE_JSON, after=BEFORE_UPLOAD),
        Behaviour(mode="status", body=b"{}", length="\u00b2", after=BEFORE_UPLOAD),
    ],
    ids=["deeply-nested-json", "superscript-content-length"],
)
def test_a_listing_read_back_that_cannot_be_read_leaves_the_release_published(
    index: HostileIndex, wheel_dir: Path, answer: Behaviour
) -> None:
    index.behave("simple", answer)
    run = publish(index.env(), wheel_dir)
    assert run.code == 0, run.out
    assert len(index.landed) == 1
    assert "Could not check that the index serves tp_sample-1.0.0-py3-none-any.whl" in run.out
    assert "internal error" not in run.out
    assert run.outputs["uploaded"] == index.landed
    assert run.outputs["verified"] == []


# --- the same answers elsewhere: each stage's named error -------------------------------------


def test_a_deeply_nested_mint_token_answer_is_the_credentials_stages_error(
    index: HostileIndex, wheel_dir: Path
) -> None:
    index.behave("mint", Behaviour(mode="status", body=DEEP))
    run = publish(index.env(), wheel_dir)
    assert run.code == 4, run.out
    assert "could not exchange the OIDC token: HTTP 200 with a body that is not JSON" in run.out
    assert index.landed == []


def test_a_deeply_nested_upload_answer_is_a_named_refusal(
    index: HostileIndex, wheel_dir: Path
) -> None:
    index.behave("upload", Behaviour(mode="status", status=400, body=DEEP))
    run = publish(index.env(), wheel_dir)
    assert run.code == 5, run.out
    assert "refused tp_sample-1.0.0-py3-none-any.whl: HTTP 400" in run.out
    assert run.outputs["uploaded"] == []


def test_a_content_length_in_superscript_digits_is_a_named_error(
    index: HostileIndex, wheel_dir: Path
) -> None:
    # "²".isdigit() is True and int("²") raises: the check and the conversion disagreed.
    index.behave("audience", Behaviour(mode="status", body=b'{"audience": "pypi"}', length="²"))
    run = publish(index.env(), wheel_dir)
    assert run.code == 4, run.out
    assert "the answer to the audience request has an invalid Content-Length header" in run.out


def test_a_deeply_nested_json_api_answer_is_a_listing_that_could_not_be_read(
    index: HostileIndex,
) -> None:
    # PyPI's JSON API is asked only of an index that answers as PyPI does (`pypi-like`).
    pypi = replace(Index.from_urls(index.repository_url, pypi_like="true"), web_url=index.url)
    index.behave("json", Behaviour(mode="status", body=DEEP))
    from trusted_publish.http.transport import make_session

    lookup = Lookup(make_session(), pypi, request_seconds=5)
    assert lookup.files("tp_sample", "1.0.0") is None
    assert lookup.problem == (
        f"{index.url}/pypi/tp-sample/1.0.0/json answered something that is not JSON"
    )


# --- defect 8: a connection that never opened ------------------------------------------------


def test_a_host_that_does_not_resolve_is_not_started_and_the_fix_is_the_url(
    wheel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `.invalid` never resolves (RFC 6761), but the resolver here still asks its name server:
    # the resolver answers here as it would, without the network.
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    env = {
        "TRUSTED_PUBLISH_REPOSITORY_URL": "https://upload.pypi-typo.invalid/legacy/",
        "TRUSTED_PUBLISH_PASSWORD": "not-a-real-password-0123",
    }
    run = publish(env, wheel_dir)
    assert run.code == 5, run.out
    assert (
        "the host upload.pypi-typo.invalid in `repository-url` does not resolve: check the URL"
        in run.out
    )
    assert "re-run the job later" not in run.out
    assert run.outputs["not-started"] == ["tp_sample-1.0.0-py3-none-any.whl"]
    assert run.outputs["unknown"] == []
    assert run.seconds < 5


def test_a_port_that_refuses_is_not_started_after_one_short_retry(
    wheel_dir: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    env = {
        "TRUSTED_PUBLISH_REPOSITORY_URL": f"http://{LOOPBACK}:{port}/legacy/",
        "TRUSTED_PUBLISH_PASSWORD": "not-a-real-password-0123",
    }
    run = publish(env, wheel_dir)
    assert run.code == 5, run.out
    assert f"{LOOPBACK} refused the connection to port {port} (2 attempts" in run.out
    assert run.outputs["not-started"] == ["tp_sample-1.0.0-py3-none-any.whl"]
    assert run.seconds < 5


# --- the property: after the uploads, any answer at all ---------------------------------------

#: Header text a server can send (latin-1, no line breaks).
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)
content_types = st.sampled_from(
    [SIMPLE_JSON, "application/json", "text/html", "text/html; charset=idna", "text/plain", ""]
)


#: Stands for the wheel's SHA-256 in a drawn body (the test puts the digest in).
OURS = b"@sha256@"
FILENAME = "tp_sample-1.0.0-py3-none-any.whl"


@st.composite
def read_back_answers(draw: st.DrawFn) -> Behaviour:
    """Any answer to the listing read back: garbage, a page that lists our file with our
    digest (`OURS`) or another, or none at all; any status, type, length and extra header."""
    digest = draw(st.sampled_from([OURS.decode(), "0" * 64, "zz"]))
    page = {
        "meta": {"api-version": "1.1"},
        "files": [{"filename": FILENAME, "hashes": {"sha256": digest}}],
    }
    body = draw(
        st.one_of(
            st.binary(max_size=200),
            st.just(DEEP),
            st.just(json.dumps(page).encode()),
            st.just(f'<a href="/f/{FILENAME}#sha256={digest}">x</a>'.encode()),
            st.just(f"<a href='/f/{FILENAME}#sha256={digest}'".encode()),
            st.just(b"{}"),
        )
    )
    return Behaviour(
        mode="status",
        status=draw(st.sampled_from([200, 201, 204, 302, 400, 404, 429, 500, 503])),
        body=body,
        content_type=draw(content_types),
        length=draw(
            st.one_of(st.none(), st.sampled_from(["\u00b2", "-1", "0", "9" * 25]), header_text)
        ),
        headers=tuple(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(["Retry-After", "X-Other"]), header_text),
                    max_size=2,
                )
            )
        ),
        after=BEFORE_UPLOAD,
    )


def _sha256(wheel_dir: Path) -> str:
    import hashlib

    (wheel,) = wheel_dir.glob("*.whl")
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def answer(body: bytes, content_type: str = SIMPLE_JSON, length: Optional[str] = None) -> Behaviour:
    return Behaviour(
        mode="status", body=body, content_type=content_type, length=length, after=BEFORE_UPLOAD
    )


@settings(max_examples=max(10, settings().max_examples // 5))
@given(read_back=read_back_answers())
# The answers that ended published releases in exit 70 (issue #18), always among the examples.
@example(read_back=answer(DEEP))
@example(read_back=answer(b"{}", length="\u00b2"))
@example(read_back=answer(b"<a href='/f/x#sha256=1'>", "text/html; charset=idna"))
# The index's word that it does not serve the file: a page without it, or other bytes.
@example(read_back=answer(json.dumps({"files": []}).encode()))
@example(read_back=answer(f'<a href="/f/{FILENAME}#sha256={"0" * 64}">'.encode(), "text/html"))
@example(read_back=answer(f'<a href="/f/{FILENAME}#sha256=@sha256@">'.encode(), "text/html"))
def test_after_the_upload_no_answer_turns_a_published_release_into_a_failure(
    shared_index: HostileIndex, wheel_dir: Path, read_back: Behaviour
) -> None:
    sha256 = _sha256(wheel_dir)
    read_back = replace(read_back, body=read_back.body.replace(OURS, sha256.encode()))
    shared_index.reset()
    shared_index.behave("simple", read_back)
    run = publish(with_password(shared_index), wheel_dir)
    landed = shared_index.landed
    assert run.code != EXIT_INTERNAL, run.out
    assert run.code in (0, 5), run.out
    assert landed == [FILENAME]
    assert run.outputs["uploaded"] == landed
    if run.code == 5:
        # A page that does not list it, or "no such project" from an index (its root still
        # answers as one): the index's own word that it does not serve the file.
        assert read_back.status in (200, 404)
        assert "does not serve the files as sent" in run.out
        assert run.outputs["verified"] == []
    if run.outputs["verified"]:
        # "Verified" only when the answer did list our digest.
        assert sha256.encode() in read_back.body
        assert run.code == 0


def test_the_after_upload_boundary_warns_and_lets_only_a_signal_through() -> None:
    from trusted_publish.console import Console
    from trusted_publish.errors import Interrupted
    from trusted_publish.publish import only_a_warning

    said = io.StringIO()
    console = Console(env={}, out=said, err=said)

    def broken() -> int:
        raise RecursionError("maximum recursion depth exceeded")

    assert only_a_warning(console, "writing the job summary", broken) is None
    assert "Something went wrong while writing the job summary (RecursionError" in said.getvalue()
    assert "It does not change the run's result." in said.getvalue()
    assert only_a_warning(console, "reading", lambda: 7) == 7

    def signalled() -> None:
        raise Interrupted(15)

    with pytest.raises(Interrupted):
        only_a_warning(console, "reading", signalled)
