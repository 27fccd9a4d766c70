"""Reading distributions: metadata and digests from the file itself, problems named."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from builders import make_sdist, make_wheel, metadata_text
from trusted_publish.dists import collect, find_distribution_files, read_distribution
from trusted_publish.errors import DistributionError
from trusted_publish.gha import Console


def quiet() -> Console:
    return Console(env={}, out=io.StringIO(), err=io.StringIO())


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


def test_sdist_is_source_and_reads_pkg_info(tmp_path: Path) -> None:
    dist = read_distribution(make_sdist(tmp_path))
    assert (dist.filetype, dist.pyversion) == ("sdist", "source")
    assert dist.metadata["summary"] == "A sample distribution made by a test"


def test_wheels_come_before_the_sdist_and_companions_are_skipped(tmp_path: Path) -> None:
    make_sdist(tmp_path)
    make_wheel(tmp_path)
    (tmp_path / "tp_sample-1.0.0-py3-none-any.whl.publish.attestation").write_text("{}")
    (tmp_path / "notes.txt").write_text("hi")
    out = io.StringIO()
    files = find_distribution_files(tmp_path, Console(env={}, out=out, err=out))
    assert [f.name for f in files] == ["tp_sample-1.0.0-py3-none-any.whl", "tp_sample-1.0.0.tar.gz"]
    assert "Skipping tp_sample-1.0.0-py3-none-any.whl.publish.attestation" in out.getvalue()
    assert "Skipping notes.txt" in out.getvalue()


def test_missing_folder_says_to_build_or_download(tmp_path: Path) -> None:
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path / "dist", verify_metadata=True, console=quiet())
    assert "does not exist" in exc.value.message
    assert exc.value.fix and "packages-dir" in exc.value.fix


def test_empty_folder_lists_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("x")
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path, verify_metadata=True, console=quiet())
    assert "holds no distributions (it holds: README.txt)" in exc.value.message


def test_every_broken_file_is_named_in_one_error(tmp_path: Path) -> None:
    make_wheel(tmp_path)
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    (tmp_path / "broken-1.0.tar.gz").write_bytes(b"")
    bad_meta = metadata_text(version="not a version")
    make_wheel(tmp_path, "badmeta", "1.0", metadata=bad_meta)
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path, verify_metadata=True, console=quiet())
    text = exc.value.render()
    assert "broken-1.0-py3-none-any.whl: not a readable wheel" in text
    assert "broken-1.0.tar.gz: not a readable .tar.gz" in text
    assert "badmeta-1.0-py3-none-any.whl: invalid metadata" in text
    assert "not a version" in text


def test_zip_sdists_are_refused_like_pypi_does(tmp_path: Path) -> None:
    (tmp_path / "tp_sample-1.0.0.zip").write_bytes(b"PK")
    with pytest.raises(DistributionError) as exc:
        collect(tmp_path, verify_metadata=True, console=quiet())
    assert "PEP 625" in exc.value.render()


def test_license_file_under_metadata_2_1_is_dropped_as_twine_does(tmp_path: Path) -> None:
    meta = metadata_text(metadata_version="2.1", extra_headers="License-File: LICENSE\n")
    meta = meta.replace("License-Expression: MIT\n", "License: MIT\n")
    dist = read_distribution(make_wheel(tmp_path, metadata=meta))
    assert "license_files" not in dist.metadata
