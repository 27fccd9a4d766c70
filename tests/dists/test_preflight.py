"""Preflight: every distribution is checked before the first byte is uploaded.

The corpus below holds, for each rule, a file that breaks it (made by code, no checked-in
binaries) and the words its problem line must contain. Each file is then mixed with a good
release and published: the run must stop with exit code 3, one `::error` naming the
problem, and an index that saw nothing, not even a connection. Last, real builds from four
build backends must pass clean.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.builders import (
    corrupt_member,
    make_release,
    make_sdist,
    make_wheel,
    metadata_text,
    truncate,
)
from support.dists import build_dists
from support.extras import FAILING_INSTALLER, as_private_venv, without_modules
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.dists.discover import collect
from trusted_publish.errors import DistributionError
from trusted_publish.index.target import Index
from trusted_publish_sandbox import Sandbox

PYPI = "https://upload.pypi.org/legacy/"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Breaker:
    """A file (or files) breaking one rule, and what the problem line must say."""

    make: Callable[[Path], Any]
    expect: tuple[str, ...]
    pypi_only: bool = False
    """A rule of PyPI's own (pypi.org, test.pypi.org), not of every index."""


def _zip_sdist(folder: Path) -> None:
    with zipfile.ZipFile(folder / "tp_zip-1.0.0.zip", "w") as zf:
        zf.writestr("tp_zip-1.0.0/PKG-INFO", metadata_text("tp-zip"))


def _duplicates(folder: Path) -> None:
    make_wheel(folder / "a", "tp_dup")
    make_wheel(folder / "b", "tp_dup", extra_files={"tp_dup/more.py": b"x = 1\n"})


def _renamed_wheel(folder: Path) -> None:
    # Built by an old backend as "Tp_Renamed-..." and renamed by hand to the normalized name.
    wheel = make_wheel(folder, "Tp_Renamed")
    wheel.rename(folder / "tp_renamed-1.0.0-py3-none-any.whl")


def _member_twice(folder: Path) -> None:
    # Two METADATA entries: which one an installer reads depends on the tool.
    wheel = make_wheel(folder, "tp_twin")
    with warnings.catch_warnings(), zipfile.ZipFile(wheel, "a") as zf:
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name", which is the point
        zf.writestr("tp_twin-1.0.0.dist-info/METADATA", metadata_text("tp-evil"))


def _zip_bomb(folder: Path) -> None:
    # 65 MiB of zeros deflate to ~65 KiB: over 64 MiB and 1000 times its size.
    make_wheel(folder, "tp_zipbomb", extra_files={"tp_zipbomb/zeros": bytes(65 * MIB)})


def _corrupt_metadata(folder: Path) -> None:
    wheel = make_wheel(folder, "tp_crc", compression=zipfile.ZIP_STORED)
    corrupt_member(wheel, b"Summary: A sample")


def _two_sdists(folder: Path) -> None:
    make_sdist(folder, "tp_twice", "1.0.0")
    make_sdist(folder, "tp_twice", "1.0", metadata=metadata_text("tp-twice", "1.0"))


def _meta(name: str, **kwargs: Any) -> str:
    return metadata_text(name, "1.0.0", **kwargs)


BREAKERS: dict[str, Breaker] = {
    # -- discovery --
    "zip-sdist": Breaker(_zip_sdist, ("tp_zip-1.0.0.zip: PyPI refuses .zip sdists",)),
    "same-name-twice": Breaker(
        _duplicates,
        (
            "tp_dup-1.0.0-py3-none-any.whl: found 2 times (a/tp_dup-1.0.0-py3-none-any.whl, "
            "b/tp_dup-1.0.0-py3-none-any.whl; and the copies differ)",
        ),
    ),
    # -- archives --
    "empty-file": Breaker(
        lambda f: (f / "tp_empty-1.0.0-py3-none-any.whl").write_bytes(b""),
        ("tp_empty-1.0.0-py3-none-any.whl: the file is empty (0 bytes)",),
    ),
    "not-a-zip": Breaker(
        lambda f: (f / "tp_junk-1.0.0-py3-none-any.whl").write_bytes(b"<html>404</html>"),
        ("tp_junk-1.0.0-py3-none-any.whl: not a readable wheel (zip) file",),
    ),
    "truncated-wheel": Breaker(
        lambda f: truncate(make_wheel(f, "tp_cutwheel")),
        ("tp_cutwheel-1.0.0-py3-none-any.whl: not a readable wheel (zip) file",),
    ),
    "truncated-sdist": Breaker(
        lambda f: truncate(make_sdist(f, "tp_cutsdist")),
        ("tp_cutsdist-1.0.0.tar.gz: not a readable .tar.gz file",),
    ),
    "sdist-not-gzip": Breaker(
        lambda f: (f / "tp_notgz-1.0.0.tar.gz").write_bytes(b"PK\x03\x04 a zip in disguise"),
        ("tp_notgz-1.0.0.tar.gz: not a readable .tar.gz file (Not a gzipped file",),
    ),
    "corrupt-metadata": Breaker(
        _corrupt_metadata,
        ("tp_crc-1.0.0-py3-none-any.whl: tp_crc-1.0.0.dist-info/METADATA can't be read (Bad CRC",),
    ),
    "wheel-without-record": Breaker(
        lambda f: make_wheel(f, "tp_norecord", omit=["RECORD"]),
        ("tp_norecord-1.0.0-py3-none-any.whl: has no tp_norecord-1.0.0.dist-info/RECORD",),
    ),
    "wheel-without-metadata": Breaker(
        lambda f: make_wheel(f, "tp_nometa", omit=["METADATA"]),
        ("tp_nometa-1.0.0-py3-none-any.whl: has no tp_nometa-1.0.0.dist-info/METADATA",),
    ),
    "wheel-without-wheel-file": Breaker(
        lambda f: make_wheel(f, "tp_nowheel", omit=["WHEEL"]),
        ("tp_nowheel-1.0.0-py3-none-any.whl: has no tp_nowheel-1.0.0.dist-info/WHEEL",),
    ),
    "wheel-version-2": Breaker(
        lambda f: make_wheel(f, "tp_wheel2", wheel_file="Wheel-Version: 2.0\nTag: py3-none-any\n"),
        (
            "tp_wheel2-1.0.0-py3-none-any.whl: tp_wheel2-1.0.0.dist-info/WHEEL says Wheel-Version "
            "2.0; installers read only 1.x",
        ),
    ),
    "renamed-wheel": Breaker(
        _renamed_wheel,
        (
            "tp_renamed-1.0.0-py3-none-any.whl: its metadata is in Tp_Renamed-1.0.0.dist-info/, "
            "but PyPI looks in tp_renamed-1.0.0.dist-info/ after the file name: was the file "
            "renamed after the build?",
        ),
    ),
    "unsafe-zip-member": Breaker(
        lambda f: make_wheel(f, "tp_zipslip", extra_files={"../../evil.py": b""}),
        (
            "tp_zipslip-1.0.0-py3-none-any.whl: members with unsafe paths (absolute or with "
            "'..'): '../../evil.py'",
        ),
    ),
    "zip-member-twice": Breaker(
        _member_twice,
        (
            "tp_twin-1.0.0-py3-none-any.whl: members stored more than once: "
            "'tp_twin-1.0.0.dist-info/METADATA'",
        ),
    ),
    "bzip2-wheel": Breaker(
        lambda f: make_wheel(f, "tp_bzip", compression=zipfile.ZIP_BZIP2),
        (
            "tp_bzip-1.0.0-py3-none-any.whl: members compressed with zip method 12: PyPI accepts "
            "only stored and deflated members",
        ),
    ),
    "zip-bomb": Breaker(
        _zip_bomb,
        (
            "tp_zipbomb-1.0.0-py3-none-any.whl: inflates to 65.0 MiB from",
            "more than 50 times its size: PyPI refuses it as a decompression bomb",
        ),
    ),
    "sdist-without-pkg-info": Breaker(
        lambda f: make_sdist(f, "tp_nopkginfo", pkg_info=False),
        (
            'tp_nopkginfo-1.0.0.tar.gz: PyPI refuses it ("Invalid distribution file. PKG-INFO '
            'not found at tp_nopkginfo-1.0.0/PKG-INFO")',
        ),
    ),
    "sdist-member-outside-its-folder": Breaker(
        lambda f: make_sdist(f, "tp_outside", extra_members={"setup.cfg": b""}),
        (
            'tp_outside-1.0.0.tar.gz: PyPI refuses it ("Invalid distribution file. Incorrect '
            'number of top-level directories in sdist")',
        ),
    ),
    "sdist-unsafe-path": Breaker(
        lambda f: make_sdist(f, "tp_tarslip", extra_members={"/etc/cron.d/x": b""}),
        ("tp_tarslip-1.0.0.tar.gz: members with unsafe paths or links", "'/etc/cron.d/x'"),
    ),
    "sdist-escaping-symlink": Breaker(
        lambda f: make_sdist(f, "tp_link", symlinks={"tp_link-1.0.0/data": "../../../etc"}),
        ("tp_link-1.0.0.tar.gz: members with unsafe paths or links", "'tp_link-1.0.0/data'"),
    ),
    # -- file names --
    "sdist-name-not-pep-625": Breaker(
        lambda f: make_sdist(f, "Tp.Legacy"),
        (
            "Tp.Legacy-1.0.0.tar.gz: PyPI refuses this name: \"Filename 'Tp.Legacy-1.0.0.tar.gz' "
            "is invalid, should be 'tp_legacy-1.0.0.tar.gz'.\"",
        ),
    ),
    "wheel-name-not-normalized": Breaker(
        lambda f: make_wheel(f, "Tp_Upper"),
        (
            'Tp_Upper-1.0.0-py3-none-any.whl: PyPI refuses this name: "Filename '
            "'Tp_Upper-1.0.0-py3-none-any.whl' should contain the normalized project name "
            "'tp_upper', not 'Tp_Upper'.\" It should be 'tp_upper-1.0.0-py3-none-any.whl'",
        ),
    ),
    "wheel-version-not-the-metadatas": Breaker(
        lambda f: make_wheel(f, "tp_wver", "1.0.1", metadata=_meta("tp-wver")),
        (
            "tp_wver-1.0.1-py3-none-any.whl: the file name has version '1.0.1', but its metadata "
            "says Version: 1.0.0",
            "should be 'tp_wver-1.0.0-py3-none-any.whl'",
        ),
    ),
    "sdist-version-not-the-metadatas": Breaker(
        lambda f: make_sdist(f, "tp_sver", "1.0.1", metadata=_meta("tp-sver")),
        (
            "tp_sver-1.0.1.tar.gz: the file name has version '1.0.1', but its metadata says "
            "Version: 1.0.0 (PyPI: \"Filename 'tp_sver-1.0.1.tar.gz' is invalid, should be "
            "'tp_sver-1.0.0.tar.gz'.\")",
        ),
    ),
    "name-not-the-metadatas": Breaker(
        lambda f: make_wheel(f, "tp_other", metadata=_meta("tp-real")),
        (
            "tp_other-1.0.0-py3-none-any.whl: the file name is for project 'tp_other', but its "
            "metadata says Name: tp-real",
            "should be 'tp_real-1.0.0-py3-none-any.whl'",
        ),
    ),
    "wheel-name-unparsable": Breaker(
        lambda f: make_wheel(f, "tp_dash", filename="tp-dash-1.0.0-py3-none-any.whl"),
        (
            'tp-dash-1.0.0-py3-none-any.whl: PyPI refuses this name: "Invalid wheel filename '
            "(invalid version)",
        ),
    ),
    # -- metadata --
    "invalid-fields": Breaker(
        lambda f: make_wheel(
            f,
            "tp_fields",
            metadata=_meta("tp-fields", extra_headers="Requires-Dist: requests>=\n").replace(
                "Requires-Python: >=3.9", "Requires-Python: >=three"
            ),
        ),
        (
            "tp_fields-1.0.0-py3-none-any.whl: metadata field Requires-Dist: 'requests>=' is "
            "invalid",
            "tp_fields-1.0.0-py3-none-any.whl: metadata field Requires-Python: ",
        ),
    ),
    "no-name": Breaker(
        lambda f: make_wheel(f, "tp_noname", metadata=_meta("").replace("Name: \n", "")),
        ("tp_noname-1.0.0-py3-none-any.whl: the metadata has no Name field",),
    ),
    "unrecognized-field": Breaker(
        lambda f: make_wheel(
            f, "tp_unknown", metadata=_meta("tp-unknown", extra_headers="Colour: red\n")
        ),
        ("tp_unknown-1.0.0-py3-none-any.whl: metadata field Colour is unrecognized or malformed",),
    ),
    "field-newer-than-metadata-version": Breaker(
        lambda f: make_wheel(
            f, "tp_early", metadata=_meta("tp-early", extra_headers="Import-Name: tp_early\n")
        ),
        (
            "tp_early-1.0.0-py3-none-any.whl: metadata field Import-Name: import-name introduced "
            "in metadata version 2.5, not 2.4",
        ),
    ),
    # -- PyPI's own rules --
    "metadata-version-2.6": Breaker(
        lambda f: make_wheel(f, "tp_future", metadata=_meta("tp-future", metadata_version="2.6")),
        (
            "tp_future-1.0.0-py3-none-any.whl: metadata field Metadata-Version: PyPI accepts 1.0 "
            "to 2.5, not '2.6'",
        ),
        pypi_only=True,
    ),
    "local-version": Breaker(
        lambda f: make_wheel(f, "tp_local", "1.0.0+g1234abc"),
        (
            "tp_local-1.0.0+g1234abc-py3-none-any.whl: version 1.0.0+g1234abc is a local version, "
            "which PyPI refuses (\"The use of local versions in '1.0.0+g1234abc' is not "
            'allowed.")',
        ),
        pypi_only=True,
    ),
    "rst-readme-does-not-render": Breaker(
        lambda f: make_wheel(
            f, "tp_rst", metadata=_meta("tp-rst", content_type="text/x-rst", body="Title\n====\n")
        ),
        (
            "tp_rst-1.0.0-py3-none-any.whl: the description (README) does not render as "
            'reStructuredText, so PyPI would refuse the upload ("The description failed to '
            "render for 'text/x-rst'.\"): line 2: Warning: Title underline too short",
        ),
        pypi_only=True,
    ),
    "markdown-readme-without-content-type": Breaker(
        lambda f: make_sdist(
            f,
            "tp_nodct",
            metadata=_meta(
                "tp-nodct", content_type=None, body="# Title\n\n- item\n  more\n    nested\n"
            ),
        ),
        (
            "tp_nodct-1.0.0.tar.gz: the description (README) has no Description-Content-Type, "
            "so PyPI renders it as reStructuredText, and it does not render",
            'set Description-Content-Type: text/markdown (pyproject.toml: readme = "README.md")',
        ),
        pypi_only=True,
    ),
    "blank-markdown-readme": Breaker(
        lambda f: make_wheel(f, "tp_blank", metadata=_meta("tp-blank", body="\n \n")),
        ("tp_blank-1.0.0-py3-none-any.whl: the description (README) is blank",),
        pypi_only=True,
    ),
    "license-file-missing": Breaker(
        lambda f: make_wheel(
            f,
            "tp_nolicense",
            metadata=_meta("tp-nolicense", extra_headers="License-File: COPYING\n"),
        ),
        (
            'tp_nolicense-1.0.0-py3-none-any.whl: PyPI would refuse it: "License-File COPYING '
            "does not exist in distribution file tp_nolicense-1.0.0-py3-none-any.whl at "
            'tp_nolicense-1.0.0.dist-info/licenses/COPYING"',
        ),
        pypi_only=True,
    ),
    "bare-linux-wheel": Breaker(
        lambda f: make_wheel(f, "tp_linux", tag="cp312-cp312-linux_x86_64"),
        (
            "tp_linux-1.0.0-cp312-cp312-linux_x86_64.whl: platform tag 'linux_x86_64' is refused "
            "by PyPI",
            "auditwheel",
        ),
        pypi_only=True,
    ),
    "summary-too-long": Breaker(
        lambda f: make_wheel(
            f,
            "tp_wordy",
            metadata=_meta("tp-wordy").replace(
                "Summary: A sample distribution made by a test", "Summary: " + "x" * 513
            ),
        ),
        (
            "tp_wordy-1.0.0-py3-none-any.whl: metadata field Summary is 513 characters long; "
            "PyPI takes at most 512",
        ),
        pypi_only=True,
    ),
    "second-sdist-of-a-release": Breaker(
        _two_sdists,
        (
            "tp_twice-1.0.tar.gz: a second sdist for tp-twice 1.0.0 (the first is "
            'tp_twice-1.0.0.tar.gz); PyPI takes one ("Only one sdist may be uploaded per '
            'release.")',
        ),
        pypi_only=True,
    ),
}


@dataclass
class Run:
    code: int
    out: str
    uploads: int
    mints: int
    connections: list[Any]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("::error")]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every outgoing connection this process opens; any not to 127.0.0.1 is refused."""
    seen: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise ConnectionRefusedError("the test allows no connection beyond 127.0.0.1")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield seen


def publish(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    connections: list[Any],
    *,
    pypi: bool,
) -> Run:
    """Publish `folder` as the action does, to the sandbox or (for PyPI's rules) to PyPI."""
    with Sandbox() as sb:
        env = {
            "GITHUB_ACTIONS": "true",
            "TRUSTED_PUBLISH_REPOSITORY_URL": PYPI if pypi else sb.repository_url,
            "TRUSTED_PUBLISH_PACKAGES_DIR": str(folder),
            **sb.env(),
        }
        capsys.readouterr()
        code = main([], env=env)
        out = capsys.readouterr().out
        return Run(code, out, len(sb.upload_attempts), len(sb.mint_requests), list(connections))


def problems_of(folder: Path, *, repository_url: str = PYPI) -> str:
    out = io.StringIO()
    with pytest.raises(DistributionError) as exc:
        collect(
            folder,
            verify_metadata=True,
            console=Console(env={}, out=out, err=out),
            index=Index.from_urls(repository_url),
        )
    return exc.value.render()


# --- each rule alone, then mixed with good files ---------------------------------------------


@pytest.mark.parametrize("rule", list(BREAKERS))
def test_each_broken_rule_is_named_with_its_file(tmp_path: Path, rule: str) -> None:
    breaker = BREAKERS[rule]
    breaker.make(tmp_path)
    text = problems_of(tmp_path)
    for expected in breaker.expect:
        assert expected in text


@pytest.mark.parametrize("rule", list(BREAKERS))
def test_a_bad_file_among_good_ones_stops_the_run_before_any_upload(
    rule: str,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    connections: list[Any],
) -> None:
    breaker = BREAKERS[rule]
    breaker.make(dist_dir)
    run = publish(dist_dir, capsys, connections, pypi=breaker.pypi_only)
    assert run.code == 3
    [error] = run.errors
    title = "::error title=trusted-publish%3A distributions::"
    assert error.startswith(title + "Nothing can be uploaded")
    for expected in breaker.expect:
        assert expected in error
    # The good files were not the problem, and nothing left this process.
    problem_lines = [line for line in error.split("%0A") if line.startswith("  - ")]
    assert problem_lines
    assert not [line for line in problem_lines if line.startswith("  - tp_demo_package")]
    assert (run.uploads, run.mints, run.connections) == (0, 0, [])


def test_every_problem_in_the_folder_is_listed_at_once(
    dist_dir: Path, capsys: pytest.CaptureFixture[str], connections: list[Any]
) -> None:
    for breaker in BREAKERS.values():
        breaker.make(dist_dir)
    run = publish(dist_dir, capsys, connections, pypi=True)
    assert run.code == 3
    [error] = run.errors
    missing = [e for b in BREAKERS.values() for e in b.expect if e not in error]
    assert missing == []
    assert (run.uploads, run.mints, run.connections) == (0, 0, [])


def test_pypis_own_rules_do_not_apply_to_other_indexes(tmp_path: Path) -> None:
    # devpi, pypiserver, Artifactory... take local versions, long summaries, linux_* wheels.
    for breaker in BREAKERS.values():
        if breaker.pypi_only:
            breaker.make(tmp_path)
    out = io.StringIO()
    dists = collect(
        tmp_path,
        verify_metadata=True,
        console=Console(env={}, out=out, err=out),
        index=Index.from_urls("https://devpi.example.org/alice/dev/"),
    )
    assert len(dists) == len(list(tmp_path.iterdir()))


def test_skipped_files_get_notices_and_never_fail_the_run(
    dist_dir: Path, capsys: pytest.CaptureFixture[str], connections: list[Any]
) -> None:
    for path in list(dist_dir.iterdir()):
        Path(f"{path}.publish.attestation").write_text("{}")
    (dist_dir / ".gitignore").write_text("*\n")
    (dist_dir / "build.log").write_text("ok\n")
    run = publish(dist_dir, capsys, connections, pypi=False)
    assert run.code == 0, run.out
    notices = [line for line in run.out.splitlines() if line.startswith("::notice::Skipping")]
    assert notices == [
        "::notice::Skipping 3 files that accompany distributions (signatures, attestations, "
        "metadata); they are not uploaded as files: .gitignore, "
        "tp_demo_package-1.0.0-py3-none-any.whl.publish.attestation, "
        "tp_demo_package-1.0.0.tar.gz.publish.attestation.",
        "::notice::Skipping build.log: not a distribution (.whl or .tar.gz).",
    ]
    assert run.uploads == 2


# --- the README, rendered as PyPI renders it -------------------------------------------------


BROKEN_RST = _meta("tp-sample", content_type="text/x-rst", body="Title\n====\n")


def test_an_rst_readme_is_checked_with_readme_renderer(tmp_path: Path) -> None:
    make_wheel(tmp_path, metadata=BROKEN_RST)
    assert "Title underline too short" in problems_of(tmp_path)


def test_outside_the_actions_venv_readme_renderer_is_not_installed_and_a_notice_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_modules(monkeypatch, "readme_renderer.rst")
    make_wheel(tmp_path, metadata=BROKEN_RST)
    out = io.StringIO()
    dists = collect(
        tmp_path,
        verify_metadata=True,
        console=Console(env={}, out=out, err=out),
        index=Index.from_urls(),
    )
    assert len(dists) == 1  # not checked, so not refused
    assert out.getvalue().splitlines() == [
        "notice: The reStructuredText README was not checked: that needs readme-renderer, "
        "which is not installed (this is not trusted-publish's own environment, and we do not "
        "install into yours). Run `pip install readme-renderer` to check it here; PyPI checks "
        "it on upload."
    ]


def test_in_the_actions_venv_a_failed_install_is_a_warning_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_modules(monkeypatch, "readme_renderer.rst")
    as_private_venv(monkeypatch, tmp_path / "venv", FAILING_INSTALLER)
    make_wheel(tmp_path / "dist", metadata=BROKEN_RST)
    out = io.StringIO()
    console = Console(env={}, out=out, err=out)
    dists = collect(
        tmp_path / "dist", verify_metadata=True, console=console, index=Index.from_urls()
    )
    assert len(dists) == 1
    text = out.getvalue()
    assert "Installing readme-renderer (hash-locked) to check the reStructuredText README" in text
    assert "installing readme-renderer failed (exit code 1: ERROR: no network)" in text


# --- `trusted-publish check` -----------------------------------------------------------------


def test_check_lists_the_files_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_release(tmp_path)
    assert main(["check", str(tmp_path)], env={}) == 0
    out = capsys.readouterr().out
    assert "ok  tp_sample-1.0.0-py3-none-any.whl" in out
    assert "2 distributions ready to publish." in out


def test_check_exits_3_with_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(tmp_path, "tp_local", "1.0+local")
    make_sdist(tmp_path, "Tp.Legacy")
    assert main(["check", str(tmp_path)], env={}) == 3
    err = capsys.readouterr().err
    assert "local versions in '1.0+local'" in err
    assert "should be 'tp_legacy-1.0.0.tar.gz'" in err


def test_check_takes_the_index_whose_rules_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(tmp_path, "tp_local", "1.0+local")
    devpi = "https://devpi.example.org/alice/dev/"
    assert main(["check", "--repository-url", devpi, str(tmp_path)], env={}) == 0


def test_check_runs_offline_without_importing_requests(tmp_path: Path) -> None:
    make_release(tmp_path)
    probe = (
        "import sys\n"
        "from trusted_publish.cli import main\n"
        f"code = main(['check', {str(tmp_path)!r}])\n"
        "assert 'requests' not in sys.modules, 'the check path imported requests'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- real builds from four build backends ---------------------------------------------------

SETUPTOOLS_PROJECT = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "tp-setuptools-demo"
version = "2.0.0"
description = "Built by setuptools in a test"
readme = "README.rst"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.9"
dependencies = ["packaging>=24"]
""",
    "README.rst": "tp-setuptools-demo\n==================\n\nA *reStructuredText* README.\n",
    "LICENSE": "MIT License\n",
    "src/tp_setuptools_demo/__init__.py": '__version__ = "2.0.0"\n',
}

FLIT_PROJECT = {
    "pyproject.toml": """\
[build-system]
requires = ["flit_core>=3.12"]
build-backend = "flit_core.buildapi"

[project]
name = "tp.flit-demo"
version = "3.0.0rc1"
description = "Built by flit-core in a test"
readme = "README.md"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.9"

[tool.flit.module]
name = "tp_flit_demo"
""",
    "README.md": "# tp.flit-demo\n\nA *Markdown* README.\n",
    "LICENSE": "MIT License\n",
    "tp_flit_demo/__init__.py": '"""A module built by flit."""\n__version__ = "3.0.0rc1"\n',
}


PDM_PROJECT = {
    "pyproject.toml": """\
[build-system]
requires = ["pdm-backend>=2.4"]
build-backend = "pdm.backend"

[project]
name = "tp-pdm-demo"
version = "4.0.0"
description = "Built by pdm-backend in a test"
readme = "README.md"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.9"
authors = [{ name = "PDM Demo", email = "pdm-demo@example.org" }]
classifiers = ["Programming Language :: Python :: 3", "Operating System :: OS Independent"]
dependencies = ["packaging>=24"]

[project.urls]
Homepage = "https://example.org/tp-pdm-demo"

[project.scripts]
tp-pdm-demo = "tp_pdm_demo:main"
""",
    "README.md": "# tp-pdm-demo\n\nA *Markdown* README.\n",
    "LICENSE": "MIT License\n",
    "src/tp_pdm_demo/__init__.py": '__version__ = "4.0.0"\n\n\ndef main() -> None:\n    pass\n',
}


def _write_project(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _check_clean(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(["check", str(folder)], env={})
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""  # no warning, no error
    return captured.out


def test_the_demo_built_with_hatchling_passes_clean(
    built_dists: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _check_clean(built_dists, capsys)
    assert "2 distributions ready to publish." in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            SETUPTOOLS_PROJECT,
            ["tp_setuptools_demo-2.0.0-py3-none-any.whl", "tp_setuptools_demo-2.0.0.tar.gz"],
            id="setuptools",
        ),
        pytest.param(
            FLIT_PROJECT,
            ["tp_flit_demo-3.0.0rc1-py3-none-any.whl", "tp_flit_demo-3.0.0rc1.tar.gz"],
            id="flit-core",
        ),
        pytest.param(
            PDM_PROJECT,
            ["tp_pdm_demo-4.0.0-py3-none-any.whl", "tp_pdm_demo-4.0.0.tar.gz"],
            id="pdm-backend",
        ),
    ],
)
def test_dists_of_other_build_backends_pass_clean(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    expected: list[str],
) -> None:
    project = _write_project(tmp_path / "src-project", files)
    dist = build_dists(project, tmp_path / "build")
    assert sorted(p.name for p in dist.iterdir()) == expected
    out = _check_clean(dist, capsys)
    assert "2 distributions ready to publish." in out


def test_a_renamed_real_sdist_is_caught(built_dists: Path, tmp_path: Path) -> None:
    # What a user "fixing" a name by hand produces: the folder inside keeps the old name.
    sdist = next(built_dists.glob("*.tar.gz"))
    shutil.copy(sdist, tmp_path / sdist.name.replace("1.0.0", "1.0.1"))
    text = problems_of(tmp_path)
    assert "the file name has version '1.0.1', but its metadata says Version: 1.0.0" in text


def test_tar_members_are_never_extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reading is by name, in memory: extracting (to disk) is what path tricks attack.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("extract() was called")

    monkeypatch.setattr(tarfile.TarFile, "extract", refuse)
    monkeypatch.setattr(tarfile.TarFile, "extractall", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    BREAKERS["sdist-escaping-symlink"].make(tmp_path)
    BREAKERS["unsafe-zip-member"].make(tmp_path)
    problems_of(tmp_path)
