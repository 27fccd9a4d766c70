"""The index's listing: which files it already has, on each kind of index we publish to, and
what its answer may and may not mean ("could not tell" is never "nothing there").

The real CLI against real indexes, the hostile index, and the sandbox where PyPI's own answers
matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import responses

from support.builders import make_release, make_wheel
from support.devpi import DevpiIndex
from support.dists import read_distribution
from support.hostile import Behaviour, HostileIndex
from support.pypiserver import PypiServer
from support.twine import twine_upload
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.dists.discover import Distribution
from trusted_publish.errors import UploadError
from trusted_publish.index.listing import Lookup, triage
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Sandbox

PROJECT, VERSION = "tp-demo-package", "1.0.0"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sb:
        yield sb


def digests(dist_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dist_dir.iterdir()}


def test_the_pypi_json_api_lists_files_with_their_sha256(sandbox: Sandbox, dist_dir: Path) -> None:
    twine_upload(list(dist_dir.iterdir()), sandbox.repository_url, "alice", "s3cret")
    # The sandbox serves PyPI's /pypi/<project>/<version>/json as pypi.org does.
    pypi_here = Index(
        upload_url=sandbox.repository_url,
        web_url=sandbox.base_url,
        pypi_like=True,
        pypi_deployment=None,
        simple_urls=(),
        simple_url_given=False,
    )
    lookup = Lookup(requests.Session(), pypi_here)
    assert lookup.files(PROJECT, VERSION) == digests(dist_dir)
    assert lookup.files("tp-demo-package", "9.9.9") == {}
    assert lookup.files("no-such-project", VERSION) == {}


@pytest.mark.parametrize("accept_json", [True, False], ids=["pep691-json", "pep503-html"])
def test_the_simple_index_is_found_from_the_upload_url(
    sandbox: Sandbox, dist_dir: Path, accept_json: bool
) -> None:
    twine_upload(list(dist_dir.iterdir()), sandbox.repository_url, "alice", "s3cret")
    session = requests.Session()
    if not accept_json:
        # An index that only speaks HTML answers the same question through PEP 503 links.
        session.headers["Accept"] = "text/html"
    lookup = Lookup(session, Index.from_urls(sandbox.repository_url))
    assert lookup.files(PROJECT, VERSION) == digests(dist_dir)
    assert lookup.source == sandbox.base_url + "/simple/"


def test_pypiserver_and_devpi_are_found_too(
    pypiserver: PypiServer, devpi: DevpiIndex, dist_dir: Path
) -> None:
    for index in (pypiserver, devpi):
        twine_upload(list(dist_dir.iterdir()), index.upload_url, index.user, index.password)
        lookup = Lookup(requests.Session(), Index.from_urls(index.upload_url))
        assert lookup.files(PROJECT, VERSION) == digests(dist_dir), index.upload_url


@responses.activate
def test_an_index_that_cannot_answer_means_unknown_not_absent() -> None:
    # Unknown (None) lets the upload go ahead and the index's own answer decide; an empty
    # listing would claim the file is new.
    responses.add(responses.GET, "https://pypi.org/pypi/x/1.0/json", status=503)
    lookup = Lookup(requests.Session(), Index.from_urls())
    assert lookup.files("x", "1.0") is None


@pytest.fixture
def hostile() -> Iterator[HostileIndex]:
    with HostileIndex() as index:
        yield index


@dataclass
class Ran:
    code: int
    out: str
    outputs: dict[str, list[str]]


def publish(
    hostile: HostileIndex,
    dist: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    **settings: str,
) -> Ran:
    output = tmp_path / "output.txt"
    env = {
        **hostile.env(),
        "GITHUB_OUTPUT": str(output),
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist),
        **{f"TRUSTED_PUBLISH_{k.upper()}": v for k, v in settings.items()},
    }
    code = main([], env=env)
    captured = capsys.readouterr()
    outputs: dict[str, list[str]] = {}
    lines = iter(output.read_text().splitlines() if output.exists() else [])
    for line in lines:
        name, _, _ = line.partition("<<")
        outputs[name] = json.loads(next(lines))
        next(lines)
    return Ran(code, captured.out + captured.err, outputs)


def test_a_mistyped_index_url_stops_the_run_before_any_upload(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_release(tmp_path / "dist")
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys, index_url=f"{hostile.url}/simpel/")
    assert ran.code == 2
    assert "`index-url`" in ran.out and "does not answer as the index's simple API" in ran.out
    assert hostile.requests_to("upload") == []


def test_a_derived_index_that_cannot_be_asked_is_said_plainly_and_nothing_is_assumed(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every simple page, the root included, answers 404: not an index we can ask.
    hostile.behave("simple", Behaviour(mode="status", status=404, body=b"{}"))
    make_release(tmp_path / "dist")
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys)
    assert ran.code == 0
    assert "Could not ask the index which files it already has" in ran.out
    assert "does not answer as a simple index" in ran.out
    assert len(hostile.landed) == 2


def test_an_index_that_fails_its_listing_is_unknown_not_empty(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.behave("simple", Behaviour(mode="status", status=503, body=b"down"))
    make_release(tmp_path / "dist")
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys)
    assert "Could not ask the index which files it already has" in ran.out
    assert "answered HTTP 503" in ran.out


@pytest.mark.parametrize(
    "hashes", [["sha256", "x"], "abc", {"sha256": 42}, None], ids=["list", "str", "int", "null"]
)
def test_pep691_hashes_of_an_unexpected_shape_mean_no_digest(
    hostile: HostileIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    hashes: object,
) -> None:
    wheel = make_wheel(tmp_path / "dist")
    page = {"meta": {"api-version": "1.1"}, "name": "tp-sample", "files": [
        {"filename": wheel.name, "url": "x", "hashes": hashes},
    ]}  # fmt: skip
    hostile.behave(
        "simple",
        Behaviour(
            mode="status", body=json.dumps(page).encode(),
            content_type="application/vnd.pypi.simple.v1+json",
        ),
    )  # fmt: skip
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys, skip_existing="true")
    assert ran.code == 0, ran.out  # not an internal error
    assert ran.outputs["skipped"] == [wheel.name]  # listed, digest unknown, skip-existing


def test_an_uppercase_digest_is_the_same_digest(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = make_wheel(tmp_path / "dist")
    digest = read_distribution(wheel).sha256.upper()
    page = {"meta": {"api-version": "1.1"}, "name": "tp-sample", "files": [
        {"filename": wheel.name, "url": "x", "hashes": {"sha256": digest}},
    ]}  # fmt: skip
    hostile.behave(
        "simple",
        Behaviour(
            mode="status", body=json.dumps(page).encode(),
            content_type="application/vnd.pypi.simple.v1+json",
        ),
    )  # fmt: skip
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys)
    assert ran.code == 0, ran.out
    assert ran.outputs["skipped"] == [wheel.name], ran.out
    assert hostile.requests_to("upload") == []


def test_skip_existing_skips_only_what_the_index_lists(
    hostile: HostileIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PyPI answers "File already exists" to our bytes under another file name too; the
    # listing does not show our file name, so it was not published.
    wheel = make_wheel(tmp_path / "dist")
    refusal = (
        "File already exists ('other-1.0.0-py3-none-any.whl', with blake2_256 hash 'ab'). "
        "See https://pypi.org/help/#file-name-reuse for more information."
    )
    hostile.behave(
        "upload",
        Behaviour(mode="status", status=400, body=json.dumps({"message": refusal}).encode()),
    )
    ran = publish(hostile, tmp_path / "dist", tmp_path, capsys, skip_existing="true")
    assert ran.code == 5
    assert ran.outputs["skipped"] == []
    assert ran.outputs["uploaded"] == []
    assert "File already exists ('other-1.0.0-py3-none-any.whl'" in ran.out
    assert "the index does not list a file of that name" in ran.out
    assert wheel.name not in hostile.landed


# --- PyPI's 14-day window, known before the first byte ----------------------------------------


def test_a_release_older_than_14_days_is_refused_before_any_upload(tmp_path: Path) -> None:
    """PyPI's JSON API says when the release's first file was uploaded."""
    wheel = make_wheel(tmp_path / "dist")
    sdist_dir = tmp_path / "later"
    make_release(sdist_dir)
    sdist = next(p for p in sdist_dir.iterdir() if p.name.endswith(".tar.gz"))
    with Sandbox(users={"alice": "s3cret"}) as sb:
        auth = ("alice", "s3cret")
        session = requests.Session()
        from trusted_publish.index.upload import send

        send(session, sb.repository_url, read_distribution(wheel), lambda: auth)
        pypi_here = Index(
            upload_url=sb.repository_url,
            web_url=sb.base_url,
            pypi_like=True,
            pypi_deployment=None,
            simple_urls=(),
            simple_url_given=False,
        )
        dist = read_distribution(sdist)

        def drop() -> list[Distribution]:
            return triage(
                [dist],
                Lookup(session, pypi_here),
                index=pypi_here,
                skip_existing=False,
                console=Console(env={}),
            ).todo

        sb.release_age_days("tp-sample", "1.0.0", 13)
        assert drop() == [dist]  # a young release takes the file
        sb.release_age_days("tp-sample", "1.0.0", 15)
        with pytest.raises(UploadError) as exc:
            drop()
        assert "Uploading new files to releases older than 14 days is not allowed." in (
            exc.value.render()
        )
        assert "new version" in (exc.value.fix or "")
