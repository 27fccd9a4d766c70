"""Reading distributions: metadata and digests from the file itself, the folder searched."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from support.builders import (
    make_release,
    make_sdist,
    make_wheel,
    metadata_of_version,
    metadata_text,
)
from support.dists import read_distribution
from trusted_publish.console import Console
from trusted_publish.dists.discover import collect
from trusted_publish.errors import DistributionError
from trusted_publish.index.target import Index

PYPI = "https://upload.pypi.org/legacy/"
DEVPI = "https://devpi.example.org/alice/dev/"


def console(out: io.StringIO | None = None) -> Console:
    out = out if out is not None else io.StringIO()
    return Console(env={}, out=out, err=out)


def check(folder: Path, *, repository_url: str = PYPI, verify_metadata: bool = True) -> str:
    """The problems `collect` finds, as the user reads them ("" when there are none)."""
    try:
        collect(
            folder,
            verify_metadata=verify_metadata,
            console=console(),
            index=Index.from_urls(repository_url),
        )
    except DistributionError as exc:
        return exc.render()
    return ""


# --- what is read ----------------------------------------------------------------------------


def test_wheel_metadata_and_digests_come_from_the_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, tag="py3-none-any")
    dist = read_distribution(wheel)
    data = wheel.read_bytes()
    assert dist.filetype == "bdist_wheel"
    assert dist.pyversion == "py3"
    assert (dist.name, dist.version) == ("tp-sample", "1.0.0")
    assert dist.sha256 == hashlib.sha256(data).hexdigest()
    assert dist.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert dist.size == len(data)
    assert dist.metadata["classifiers"] == [
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
    ]


def test_sdist_is_source_and_is_hashed_while_it_is_read(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path)
    dist = read_distribution(sdist)
    data = sdist.read_bytes()
    assert (dist.filetype, dist.pyversion) == ("sdist", "source")
    assert dist.metadata["summary"] == "A sample distribution made by a test"
    assert dist.sha256 == hashlib.sha256(data).hexdigest()
    assert dist.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert dist.size == len(data)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"])
def test_every_metadata_version_pypi_accepts_passes_with_all_its_fields(
    tmp_path: Path, version: str
) -> None:
    meta = metadata_of_version(version)
    make_wheel(tmp_path, metadata=meta)
    make_sdist(tmp_path, metadata=meta)
    assert check(tmp_path) == ""


def test_metadata_2_5_import_names_reach_the_distribution(tmp_path: Path) -> None:
    dist = read_distribution(make_wheel(tmp_path, metadata=metadata_of_version("2.5")))
    assert dist.metadata["import_names"] == ["tp_sample"]
    assert dist.metadata["import_namespaces"] == ["tp_ns"]


def test_license_file_under_metadata_2_1_is_dropped_as_twine_does(tmp_path: Path) -> None:
    meta = metadata_text(metadata_version="2.1", extra_headers="License-File: LICENSE\n")
    meta = meta.replace("License-Expression: MIT\n", "License: MIT\n")
    dist = read_distribution(make_wheel(tmp_path, metadata=meta))
    assert "license_files" not in dist.metadata


def test_read_distribution_lists_every_problem_of_one_file(tmp_path: Path) -> None:
    meta = metadata_text(extra_headers="Requires-Dist: requests>=\n")
    meta = meta.replace("Requires-Python: >=3.9", "Requires-Python: >=three")
    wheel = make_wheel(tmp_path, "Tp_Sample", metadata=meta)
    with pytest.raises(DistributionError) as exc:
        read_distribution(wheel)
    details = "\n".join(exc.value.details)
    assert "should contain the normalized project name 'tp_sample', not 'Tp_Sample'" in details
    assert "metadata field Requires-Dist:" in details
    assert "metadata field Requires-Python:" in details


# --- finding the files -----------------------------------------------------------------------


def test_wheels_come_before_the_sdist_and_companions_are_skipped(tmp_path: Path) -> None:
    make_sdist(tmp_path)
    make_wheel(tmp_path)
    (tmp_path / "tp_sample-1.0.0-py3-none-any.whl.publish.attestation").write_text("{}")
    (tmp_path / "notes.txt").write_text("hi")
    out = io.StringIO()
    dists = collect(tmp_path, verify_metadata=True, console=console(out), index=Index.from_urls())
    assert [d.filename for d in dists] == [
        "tp_sample-1.0.0-py3-none-any.whl",
        "tp_sample-1.0.0.tar.gz",
    ]
    assert "Skipping tp_sample-1.0.0-py3-none-any.whl.publish.attestation" in out.getvalue()
    assert "Skipping notes.txt: not a distribution" in out.getvalue()


def test_every_known_companion_is_skipped_with_one_notice(tmp_path: Path) -> None:
    make_release(tmp_path)
    companions = [
        "tp_sample-1.0.0.tar.gz.publish.attestation",
        "tp_sample-1.0.0.tar.gz.sigstore.json",
        "tp_sample-1.0.0.tar.gz.asc",
        "tp_sample-1.0.0.tar.gz.sig",
        "tp_sample-1.0.0-py3-none-any.whl.metadata",
        "tp_sample-1.0.0.tar.gz.intoto.jsonl",
        ".gitignore",
    ]
    for name in companions:
        (tmp_path / name).write_text("x")
    out = io.StringIO()
    dists = collect(tmp_path, verify_metadata=True, console=console(out), index=Index.from_urls())
    assert len(dists) == 2
    [notice] = out.getvalue().splitlines()
    assert notice.startswith("notice: Skipping 7 files that accompany distributions")
    assert all(name in notice for name in companions)


def test_sub_folders_are_searched_as_artifact_downloads_make_them(tmp_path: Path) -> None:
    # actions/download-artifact without merge-multiple: one folder per artifact.
    make_wheel(tmp_path / "wheels-linux", tag="cp312-cp312-manylinux_2_17_x86_64")
    make_wheel(tmp_path / "wheels-macos", tag="cp312-cp312-macosx_11_0_arm64")
    make_sdist(tmp_path / "sdist")
    names = [
        d.filename
        for d in collect(tmp_path, verify_metadata=True, console=console(), index=Index.from_urls())
    ]
    assert names == [
        "tp_sample-1.0.0-cp312-cp312-macosx_11_0_arm64.whl",
        "tp_sample-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "tp_sample-1.0.0.tar.gz",
    ]


def test_the_same_file_name_in_two_sub_folders_is_refused(tmp_path: Path) -> None:
    make_release(tmp_path / "job-1")
    make_release(tmp_path / "job-2")
    text = check(tmp_path)
    assert (
        "tp_sample-1.0.0.tar.gz: found 2 times (job-1/tp_sample-1.0.0.tar.gz, "
        "job-2/tp_sample-1.0.0.tar.gz; " in text
    )
    assert "keep one copy" in text


def test_a_missing_folder_says_to_build_or_download(tmp_path: Path) -> None:
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path / "dist", verify_metadata=True, console=console(), index=Index.from_urls())
    assert "does not exist" in exc.value.message
    assert exc.value.fix and "packages-dir" in exc.value.fix


def test_a_glob_for_packages_dir_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DistributionError) as exc:
        collect(
            tmp_path / "dist" / "*",
            verify_metadata=True,
            console=console(),
            index=Index.from_urls(),
        )
    assert "is a folder, not a pattern" in exc.value.message


def test_an_empty_folder_lists_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("x")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "build.log").write_text("x")
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path, verify_metadata=True, console=console(), index=Index.from_urls())
    assert "holds no distributions (it holds: README.txt, logs/build.log)" in exc.value.message


def test_a_folder_with_nothing_at_all_says_so(tmp_path: Path) -> None:
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path, verify_metadata=True, console=console(), index=Index.from_urls())
    assert "holds no distributions (it holds: nothing at all)" in exc.value.message


# --- which rules apply -----------------------------------------------------------------------


def test_local_versions_are_refused_only_for_pypi_and_testpypi(tmp_path: Path) -> None:
    make_wheel(tmp_path, version="1.0.0+local")
    assert "The use of local versions in '1.0.0+local' is not allowed." in check(tmp_path)
    assert "local versions" in check(tmp_path, repository_url="https://test.pypi.org/legacy/")
    assert check(tmp_path, repository_url=DEVPI) == ""


def test_verify_metadata_false_skips_field_checks_but_not_file_names(tmp_path: Path) -> None:
    make_wheel(tmp_path, metadata=metadata_text(extra_headers="Requires-Dist: requests>=\n"))
    assert "Requires-Dist" in check(tmp_path)
    assert check(tmp_path, verify_metadata=False) == ""
    make_sdist(tmp_path, "Tp.Sample")
    assert "should be 'tp_sample-1.0.0.tar.gz'" in check(tmp_path, verify_metadata=False)


def test_a_file_over_100_mib_gets_a_warning_naming_the_limit_and_the_form(
    tmp_path: Path,
) -> None:
    # Stored, not deflated: the file on disk is really over the limit.
    big = {"tp_sample/data.bin": bytes(100 * 1024 * 1024 + 1)}
    make_wheel(tmp_path, extra_files=big, compression=zipfile.ZIP_STORED)
    out = io.StringIO()
    [dist] = collect(tmp_path, verify_metadata=True, console=console(out), index=Index.from_urls())
    assert dist.size > 100 * 1024 * 1024
    [warning] = out.getvalue().splitlines()
    assert warning.startswith("warning: tp_sample-1.0.0-py3-none-any.whl: it is 100.0 MiB")
    assert "over PyPI's default limit of 100 MiB per file" in warning
    assert "https://pypi.org/help/#file-size-limit" in warning


def test_several_versions_of_one_project_get_a_warning(tmp_path: Path) -> None:
    make_release(tmp_path, version="1.0.0")
    make_release(tmp_path, version="1.1.0")
    out = io.StringIO()
    collect(tmp_path, verify_metadata=True, console=console(out), index=Index.from_urls())
    assert "several versions of tp-sample: 1.0.0, 1.1.0" in out.getvalue()
