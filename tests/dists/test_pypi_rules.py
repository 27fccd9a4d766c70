"""PyPI's verdict before the first byte: each rule warehouse adds, broken by a file made here.

For each rule, `trusted-publish check` must refuse the file with warehouse's own words and a
fix; on another index, where the rule is PyPI's alone, the same file passes. Then the files
PyPI takes that we must not refuse either, and the lists that may be older than PyPI's.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from trove_classifiers import all_classifiers, deprecated_classifiers

from support.builders import (
    make_sdist,
    make_wheel,
    with_zip64_extensible_data,
)
from support.rule_cases import ARCHIVES, CASES, _meta
from trusted_publish.cli import main
from trusted_publish.console import Console
from trusted_publish.dists import archives
from trusted_publish.dists.discover import collect
from trusted_publish.dists.pypi_rules import zip_framing
from trusted_publish.index.target import Index

DEVPI = "https://devpi.example.org/alice/dev/"
MIB = 1024 * 1024


def _check(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", *extra, str(folder)], env={})
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("rule", list(CASES))
def test_check_refuses_what_pypi_refuses_in_pypis_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    CASES[rule].make(tmp_path)
    code, out = _check(tmp_path, capsys)
    assert code == 3, out
    for expected in CASES[rule].expect:
        assert expected in out


@pytest.mark.parametrize("rule", list(CASES))
def test_other_indexes_do_not_have_pypis_rules(tmp_path: Path, rule: str) -> None:
    CASES[rule].make(tmp_path)
    out = io.StringIO()
    dists = collect(
        tmp_path,
        verify_metadata=True,
        console=Console(env={}, out=out, err=out),
        index=Index.from_urls(DEVPI),
    )
    assert len(dists) == 1


def test_a_control_character_in_a_file_name_is_refused_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # warehouse/forklift/legacy.py `_validate_filename`; a newline also breaks log lines.
    make_wheel(tmp_path, "tp_nl", filename="tp_nl-1.0.0-py3-none-\nany.whl")
    for index in ([], ["--repository-url", DEVPI]):
        code, out = _check(tmp_path, capsys, *index)
        assert code == 3
        assert (
            'its name holds control characters (U+000A); PyPI refuses it ("Cannot upload a '
            "file with non-printable characters (ordinals 0-31) or the DEL character (ordinal "
            '127) in the name.")'
        ) in out


def test_zip64_extensible_data_is_refused_as_warehouse_does(tmp_path: Path) -> None:
    # Python 3.11's zipfile can't open this file at all; the framing walk judges its bytes.
    wheel = make_wheel(tmp_path, "tp_z64")
    with zipfile.ZipFile(wheel) as zf:
        central = {i.orig_filename: (i.compress_size, i.file_size) for i in zf.infolist()}
    data = with_zip64_extensible_data(wheel)
    [problem] = zip_framing.problems(io.BytesIO(data), central)
    assert problem.startswith(
        'PyPI refuses it ("Invalid distribution file. ZIP archive not accepted: ZIP64 '
        f'extensible data not allowed. {ARCHIVES}")'
    )


def test_the_framing_walk_seeks_over_member_data(tmp_path: Path) -> None:
    # Memory stays flat: a 20 MiB member is never read, only its headers are.
    wheel = make_wheel(
        tmp_path, "tp_big", extra_files={"tp_big/blob": bytes(20 * MIB)}, compression=0
    )
    with zipfile.ZipFile(wheel) as zf:
        central = {i.orig_filename: (i.compress_size, i.file_size) for i in zf.infolist()}
    reads: list[int] = []

    class Counting(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            reads.append(len(data))
            return data

    with Counting(wheel) as fh:
        assert zip_framing.refusal(fh, central) is None  # type: ignore[arg-type]
    assert max(reads) < 4096
    assert sum(reads) < 64 * 1024


# --- what PyPI takes, and so must we --------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "manylinux_2_17_x86_64", "manylinux2014_aarch64", "musllinux_1_2_riscv64",
        "manylinux_2_28_ppc64", "macosx_10_9_x86_64", "macosx_11_0_arm64",
        "macosx_26_0_universal2", "win_amd64", "win32", "win_arm64", "linux_armv7l",
        "ios_13_0_arm64_iphoneos", "ios_13_0_x86_64_iphonesimulator", "android_21_arm64_v8a",
        "pyemscripten_2024_0_wasm32",
    ],
)  # fmt: skip
def test_platform_tags_pypi_takes_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str
) -> None:
    make_wheel(tmp_path, "tp_plat", tag=f"cp312-cp312-{tag}")
    code, out = _check(tmp_path, capsys)
    assert code == 0, out


def test_an_sdist_folder_spelled_otherwise_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PyPI wants one top-level folder holding PKG-INFO, whatever it is called.
    make_sdist(
        tmp_path,
        "demo_pkg",
        root="demo-pkg-1.0.0",
        metadata=_meta("demo-pkg", "License-File: LICENSE\n"),
    )
    code, out = _check(tmp_path, capsys)
    assert code == 0, out


def test_a_tar_gz_inflating_past_50_times_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_sdist(tmp_path, "tp_tarbomb", extra_members={"tp_tarbomb-1.0.0/zeros": bytes(65 * MIB)})
    code, out = _check(tmp_path, capsys)
    assert code == 0, out
    assert "it inflates to 65.0 MiB from" in out
    assert "PyPI takes this for an sdist (it refuses it only for a zip)" in out


def test_stopping_early_reports_no_consequence_of_the_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The license sits after a large member; the check stops before it, so it must not
    # say the license is missing.
    monkeypatch.setattr(archives, "MAX_INFLATED", 8 * MIB)
    make_sdist(
        tmp_path,
        "tp_long",
        metadata=_meta("tp-long", "License-File: COPYING\n"),
        extra_members={
            "tp_long-1.0.0/data.bin": bytes(16 * MIB),
            "tp_long-1.0.0/COPYING": b"MIT License\n",
        },
    )
    code, out = _check(tmp_path, capsys)
    assert code == 0, out
    assert "does not exist" not in out
    assert "where the check stops reading" in out
    assert "the rest of it was not checked, and PyPI decides on it" in out


# --- lists that can be older than PyPI's -----------------------------------------------------


def test_a_metadata_version_newer_than_packaging_knows_is_refused_for_pypi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # warehouse/forklift/metadata.py `_validate_metadata`: any version it does not list.
    make_wheel(tmp_path, "tp_next", metadata=_meta("tp-next", metadata_version="9.0"))
    code, out = _check(tmp_path, capsys)
    assert code == 3, out
    assert "(\"'9.0' is not a valid metadata version. See https://packaging" in out
    assert "newer than the metadata versions packaging" not in out


def test_a_metadata_version_newer_than_packaging_knows_is_a_warning_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(tmp_path, "tp_next", metadata=_meta("tp-next", metadata_version="9.0"))
    code, out = _check(tmp_path, capsys, "--repository-url", DEVPI)
    assert code == 0, out
    assert "Metadata-Version 9.0 is newer than the metadata versions packaging" in out
    assert "fields were checked only as far as packaging can; the index decides." in out


def test_a_metadata_version_pypi_does_not_list_names_the_list_and_the_escape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(tmp_path, "tp_26", metadata=_meta("tp-26", metadata_version="2.6"))
    code, out = _check(tmp_path, capsys)
    assert code == 3
    assert "(PyPI's list as of pypi/warehouse as of 2026-08-21; if PyPI has added it" in out
    assert "set `verify-metadata: false`" in out


def test_verify_metadata_false_lets_pypi_decide_on_listed_values(tmp_path: Path) -> None:
    CASES["unknown-classifier"].make(tmp_path)
    CASES["freebsd"].make(tmp_path)
    out = io.StringIO()
    console = Console(env={}, out=out, err=out)
    dists = collect(tmp_path, verify_metadata=False, console=console, index=Index.from_urls())
    assert len(dists) == 2


def test_every_listed_classifier_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = sorted(set(all_classifiers) - set(deprecated_classifiers))[:40]
    make_wheel(
        tmp_path,
        "tp_all",
        metadata=_meta("tp-all", "".join(f"Classifier: {c}\n" for c in current)),
    )
    code, out = _check(tmp_path, capsys)
    assert code == 0, out
