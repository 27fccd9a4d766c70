"""Shared fixtures: real index servers on 127.0.0.1, the demo package, a capture server.

The code behind them lives in tests/support/ (importable as ``support``); this file only
wires it to pytest scopes and temporary folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from support.attestations import local_sigstore_check
from support.capture import CaptureServer
from support.devpi import DevpiIndex, DevpiServer, run_devpi
from support.dists import DEMO_PACKAGE_DIR, build_dists, copy_dists
from support.multipart import FormField
from support.pypiserver import PypiServer, run_pypiserver
from support.twine import TwineCapture
from support.twine import twine_capture as _twine_capture
from trusted_publish_sandbox import Sandbox

# Property tests (marker `fuzz`). In `make test` they are a regression net: few examples, the
# same ones every run (derandomize), so a red CI is a real change, never a lucky draw, and
# nothing is written to .hypothesis/. `make fuzz` (HYPOTHESIS_PROFILE=fuzz) is the search:
# thousands of random examples per test, failures kept in the example database and replayed.
# No deadline in either: two shared cores make a single example's time meaningless.
settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def built_dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with exactly the wheel and the sdist of examples/demo-package (built once).

    Shared by the whole session: do not modify it, use ``dist_dir``.
    """
    return build_dists(DEMO_PACKAGE_DIR, tmp_path_factory.mktemp("demo-build"))


@pytest.fixture
def dist_dir(built_dists: Path, tmp_path: Path) -> Path:
    """A private copy of the demo wheel and sdist that a test may change or delete."""
    return copy_dists(built_dists, tmp_path / "dist")


@pytest.fixture
def pypiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """A fresh pypiserver per test (starts in well under a second), uploads need a password."""
    with run_pypiserver(tmp_path_factory.mktemp("pypiserver")) as server:
        yield server


@pytest.fixture(scope="session")
def devpi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    """One devpi-server per session (init + start take a few seconds)."""
    with run_devpi(tmp_path_factory.mktemp("devpi")) as server:
        yield server


@pytest.fixture
def devpi(devpi_server: DevpiServer) -> DevpiIndex:
    """A fresh, empty, non-volatile index of ``alice`` on the session's devpi-server."""
    return devpi_server.new_index()


@pytest.fixture
def capture_server() -> Iterator[CaptureServer]:
    """A loopback HTTP server recording every request; answers 200 "OK" unless told otherwise."""
    with CaptureServer() as server:
        yield server


@pytest.fixture
def twine_capture() -> TwineCapture:
    """``twine_capture(dist_dir)``: the multipart forms twine uploads, keyed by file name.

    Each call runs twine against its own capture server, so the result holds twine's
    requests only, whatever else the test records.
    """

    def capture(dist_dir: Path) -> dict[str, list[FormField]]:
        with CaptureServer() as server:
            return _twine_capture(dist_dir, server)

    return capture


@pytest.fixture
def local_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provenance read back after an upload is verified against the local signer's root of
    trust, not Sigstore's (which a local attestation fails: tests/index/test_provenance.py)."""
    monkeypatch.setattr("trusted_publish.index.provenance.sigstore_check", local_sigstore_check)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (GitHub, GitLab and Google issuers, and a PyPI) for one test."""
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def not_on_google_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever machine runs the tests, it is not a Google Compute Engine one for them."""
    from trusted_publish.credentials import google

    product = tmp_path / "product_name"
    product.write_text("Standard PC\n")
    monkeypatch.setattr(google, "PRODUCT_NAME_FILE", product)
