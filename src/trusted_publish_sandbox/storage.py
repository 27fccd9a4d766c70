"""The warehouse's state: projects, releases, stored files, burnt file names and the serial.

Files live on disk under ``<storage>/packages/<b2>/<b2>/<rest>/<filename>`` as on PyPI's
file host; uploads arrive in ``<storage>/incoming``. ``Storage`` takes no lock: the
``Warehouse`` that owns it holds its lock around every use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from packaging.utils import canonicalize_name, canonicalize_version

from .body import ContentPart

__all__ = ["Project", "Release", "Storage", "StoredFile", "listed"]


@dataclass(frozen=True)
class StoredFile:
    """One distribution file as the index keeps it."""

    project: str  # normalized project name
    filename: str
    version: str
    packagetype: str
    python_version: str
    size: int
    md5: str
    sha256: str
    blake2_256: str
    form: list[tuple[str, str]]  # every non-file form field, in the order received
    path: Path
    url_path: str  # "/packages/<b2>/<b2>/<rest>/<filename>"
    upload_time: float
    requires_python: Optional[str] = None
    metadata_sha256: Optional[str] = None
    metadata_blake2_256: Optional[str] = None
    attestations: Optional[str] = None  # the form's JSON array of PEP 740 attestations
    # The trusted publisher that uploaded it with attestations, as PyPI writes it in the
    # file's provenance (pypi-attestations' Publisher model); None without attestations.
    publisher: Optional[dict[str, Optional[str]]] = None


@dataclass
class Release:
    version: str
    canonical: str
    created: float
    metadata: list[tuple[str, str]]  # the form of the upload that created it
    files: list[StoredFile] = field(default_factory=list)


@dataclass
class Project:
    name: str
    normalized: str
    created: float
    releases: dict[str, Release] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for r in self.releases.values() for f in r.files)

    def all_files(self) -> list[StoredFile]:
        return [f for r in self.releases.values() for f in r.files]


class Storage:
    """Projects by normalized name, the names of deleted files, and the files on disk."""

    def __init__(self) -> None:
        self.directory: Optional[Path] = None
        self.projects: dict[str, Project] = {}
        self.used_filenames: set[str] = set()
        self.serial = 0

    def attach(self, directory: Path) -> None:
        self.directory = directory
        (directory / "incoming").mkdir(parents=True, exist_ok=True)
        (directory / "packages").mkdir(parents=True, exist_ok=True)

    @property
    def incoming_dir(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the sandbox is not started")
        return self.directory / "incoming"

    # -- projects --------------------------------------------------------------------

    def project(self, name: str) -> Optional[Project]:
        return self.projects.get(canonicalize_name(name))

    def ensure_project(self, name: str) -> None:
        normalized = canonicalize_name(name)
        if normalized not in self.projects:
            self.projects[normalized] = Project(name, normalized, time.time())

    def files(self, project: str) -> list[StoredFile]:
        found = self.project(project)
        if found is None:
            return []
        return [
            _copy_file(f)
            for release in found.releases.values()
            for f in sorted(release.files, key=lambda f: f.upload_time)
        ]

    def release(self, project: str, version: str) -> Release:
        proj = self.project(project)
        if proj is None:
            raise KeyError(project)
        release = proj.releases.get(canonicalize_version(version))
        if release is None:
            raise KeyError(f"{project} {version}")
        return release

    def delete_file(self, filename: str) -> None:
        """Delete a file; its name stays burnt, as on PyPI."""
        for proj in self.projects.values():
            for release in proj.releases.values():
                for stored in release.files:
                    if stored.filename == filename:
                        release.files.remove(stored)
                        stored.path.unlink(missing_ok=True)
                        return
        raise KeyError(filename)

    def find_existing(self, filename: str, blake2_256: str) -> Optional[StoredFile]:
        """A stored file with this name or this content, in any project."""
        for proj in self.projects.values():
            for release in proj.releases.values():
                for stored in release.files:
                    if stored.filename == filename or stored.blake2_256 == blake2_256:
                        return stored
        return None

    def find_package(self, url_path: str) -> Optional[Path]:
        """The file on disk behind a ``/packages/...`` path (``.metadata`` included)."""
        for proj in self.projects.values():
            for release in proj.releases.values():
                for stored in release.files:
                    if url_path == stored.url_path:
                        return stored.path
                    if url_path == f"{stored.url_path}.metadata" and stored.metadata_sha256:
                        return Path(f"{stored.path}.metadata")
        return None

    # -- adding a file ---------------------------------------------------------------

    def commit(
        self,
        *,
        project: Project,
        is_new_project: bool,
        display_name: str,
        release: Optional[Release],
        version: str,
        canonical: str,
        release_metadata: list[tuple[str, str]],
        fields: list[tuple[str, str]],
        content: ContentPart,
        packagetype: str,
        python_version: str,
        requires_python: Optional[str],
        file_metadata: Optional[bytes],
        attestations: Optional[str],
        publisher: Optional[dict[str, Optional[str]]] = None,
    ) -> None:
        """Keep an accepted file: move it into place and record it (every check passed)."""
        if self.directory is None:
            raise RuntimeError("commit without storage")
        now = time.time()
        if is_new_project:
            self.projects[project.normalized] = project
        project.name = display_name
        if release is None:
            release = Release(version, canonical, now, release_metadata)
            project.releases[canonical] = release

        b2 = content.blake2_256
        relative = f"{b2[:2]}/{b2[2:4]}/{b2[4:]}/{content.filename}"
        target = self.directory / "packages" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(content.path), str(target))

        metadata_sha256 = metadata_blake2 = None
        if file_metadata is not None:
            Path(f"{target}.metadata").write_bytes(file_metadata)
            metadata_sha256 = hashlib.sha256(file_metadata).hexdigest()
            metadata_blake2 = hashlib.blake2b(file_metadata, digest_size=32).hexdigest()

        stored = StoredFile(
            project=project.normalized,
            filename=content.filename,
            version=version,
            packagetype=packagetype,
            python_version=python_version,
            size=content.size,
            md5=content.md5,
            sha256=content.sha256,
            blake2_256=b2,
            form=list(fields),
            path=target,
            url_path=f"/packages/{relative}",
            upload_time=now,
            requires_python=requires_python,
            metadata_sha256=metadata_sha256,
            metadata_blake2_256=metadata_blake2,
            attestations=attestations,
            publisher=publisher if attestations is not None else None,
        )
        release.files.append(stored)
        self.used_filenames.add(content.filename)
        self.serial += 1

    # -- faults ----------------------------------------------------------------------

    def alter_file(self, filename: str) -> None:
        """Change a stored file's bytes (and so its digests): an index that keeps other
        bytes than it received."""
        for proj in self.projects.values():
            for release in proj.releases.values():
                for i, stored in enumerate(release.files):
                    if stored.filename == filename:
                        data = stored.path.read_bytes() + b"\0altered by the sandbox"
                        stored.path.write_bytes(data)
                        release.files[i] = dataclasses.replace(
                            stored,
                            size=len(data),
                            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                            sha256=hashlib.sha256(data).hexdigest(),
                            blake2_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
                        )
                        return
        raise KeyError(filename)


def listed(project: Project, lag: float) -> Project:
    """The project as its listings show it: without the files uploaded in the last ``lag``
    seconds (a cache in front of the index); the project itself when there is no lag."""
    if lag <= 0:
        return project
    before = time.time() - lag
    return dataclasses.replace(
        project,
        releases={
            key: dataclasses.replace(
                release, files=[f for f in release.files if f.upload_time <= before]
            )
            for key, release in project.releases.items()
        },
    )


def _copy_file(stored: StoredFile) -> StoredFile:
    # Callers get their own form list: the index's records stay as received.
    return dataclasses.replace(stored, form=list(stored.form))
