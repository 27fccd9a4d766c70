"""Asking an index which files it already has, on each kind of index we publish to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

from support.devpi import DevpiIndex
from support.pypiserver import PypiServer
from support.twine import twine_upload
from trusted_publish.index.listing import Lookup
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
        pypi=True,
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
