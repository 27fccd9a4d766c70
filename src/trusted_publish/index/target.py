"""The index a run publishes to, described once: every stage takes this value.

`Index.from_urls` is the one place that reads `repository-url`, `index-url` and
`pypi-like`: which index it is (PyPI, TestPyPI or another), whether it answers as PyPI's
warehouse does (PyPI's upload rules, JSON API, Integrity API and pages), where its web app
is (the token exchange lives there), where to ask which files it has (PyPI's JSON API, or a
simple index), where its release pages are, and the name to show in messages (sanitized:
no user info, no query). No other module asks "is this pypi.org?": they read `pypi_like`
or `pypi_deployment`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal, Optional
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from trusted_publish.http.policy import check_url, sanitize_url

#: PyPI's upload endpoint: the default index.
PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
#: TestPyPI's upload endpoint (`--repository testpypi`).
TESTPYPI_UPLOAD_URL = "https://test.pypi.org/legacy/"

#: The `pypi-like` input: `auto` (PyPI and TestPyPI), `true` (any index), `false` (none).
PypiLike = Literal["auto", "true", "false"]

#: PyPI's deployments: upload host → (name, the web host that serves their token exchange,
#: JSON API and project pages). The one place that knows which indexes are PyPI's own.
_DEPLOYMENTS: dict[str, tuple[Literal["pypi", "testpypi"], str]] = {
    "upload.pypi.org": ("pypi", "pypi.org"),
    "test.pypi.org": ("testpypi", "test.pypi.org"),
}


def upload_url(value: str) -> str:
    """`repository-url` as we use it; `ValueError` (safe to print) when it can't be used."""
    value = _usable(value)
    # PyPI answers `/legacy` with a redirect to `/legacy/`, and we never follow redirects
    # on upload; asking for the right URL up front is what the redirect would have done.
    return value + "/" if value.endswith("/legacy") else value


def simple_url(value: str) -> str:
    """`index-url` as we use it (a folder: ends in `/`); `ValueError` when it can't be used."""
    value = _usable(value)
    return value if value.endswith("/") else value + "/"


def _usable(value: str) -> str:
    value = value.strip()
    problem = check_url(value)
    if problem:
        # Shown sanitized: a refused URL may be refused precisely for carrying a secret.
        raise ValueError(f"{sanitize_url(value)!r} can't be used: {problem}")
    return value


@dataclass(frozen=True)
class Index:
    """Where and what the index is; immutable, built once per run by `from_urls`."""

    upload_url: str
    """The legacy upload endpoint files are POSTed to."""
    web_url: str
    """Scheme and host of the index's web app: the OIDC endpoints (`/_/oidc/...`) and, for
    PyPI, the JSON API and project pages. PyPI's web host for its upload host."""
    pypi_like: bool
    """The index answers as PyPI's warehouse does: PyPI's upload rules are checked before
    the first byte, its JSON API lists the files (before the upload and for the read-back),
    its Integrity API serves provenance and its release pages exist. PyPI and TestPyPI with
    `pypi-like: auto`; any index with `true` (the sandbox, a proxy in front of PyPI); none
    with `false`."""
    pypi_deployment: Optional[Literal["pypi", "testpypi"]]
    """Which of PyPI's own deployments this is (by its upload host), if one: what only they
    do follows from it (attestations made without being asked, their status page, the plain
    `pip install` line)."""
    simple_urls: tuple[str, ...]
    """Where the simple index (PEP 503/691) is, or probably is, in the order to ask."""
    simple_url_given: bool
    """`simple_urls` is the user's own `index-url`, not a guess."""

    @classmethod
    def from_urls(
        cls,
        repository_url: str = PYPI_UPLOAD_URL,
        index_url: Optional[str] = None,
        pypi_like: PypiLike = "auto",
    ) -> Index:
        """The index behind `repository-url` (and `index-url`, when given)."""
        upload = upload_url(repository_url)
        parts = urlsplit(upload)
        deployment, pypi_web = _DEPLOYMENTS.get(parts.hostname or "", (None, None))
        web = (
            f"https://{pypi_web}"
            if pypi_web
            else urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        )
        given = simple_url(index_url) if index_url else None
        return cls(
            upload_url=upload,
            web_url=web,
            pypi_like=deployment is not None if pypi_like == "auto" else pypi_like == "true",
            pypi_deployment=deployment,
            simple_urls=(given,) if given else _simple_index_candidates(upload),
            simple_url_given=given is not None,
        )

    @property
    def name(self) -> str:
        """The upload URL as shown in messages."""
        return sanitize_url(self.upload_url)

    def release_url(self, project: str, version: str) -> Optional[str]:
        """The release's page on a PyPI-like index; None elsewhere (no such page we know)."""
        if not self.pypi_like:
            return None
        return f"{self.web_url}/project/{canonicalize_name(project)}/{version}/"

    def publisher_form_url(self, project: str) -> Optional[str]:
        """PyPI's "add a trusted publisher" page for `project`; None elsewhere."""
        if not self.pypi_like:
            return None
        return f"{self.web_url}/manage/project/{canonicalize_name(project)}/settings/publishing/"

    def pip_install(self, project: str, version: str) -> str:
        """The command that installs this release from this index (no credentials in it).

        Shell-quoted: the name and version come from the files' metadata, and a version is
        only checked for what it can hold with `verify-metadata: true`."""
        requirement = shlex.quote(f"{project}=={version}")
        if self.pypi_deployment == "pypi":
            return f"pip install {requirement}"
        simple = (
            f"{self.web_url}/simple/"
            if self.pypi_like and not self.simple_url_given
            else sanitize_url(self.simple_urls[0])
        )
        return f"pip install --index-url {shlex.quote(simple)} {requirement}"

    @property
    def pip_install_note(self) -> Optional[str]:
        """What to know about `pip_install`'s line: TestPyPI lacks most dependencies."""
        if self.pypi_deployment != "testpypi":
            return None
        return (
            "Dependencies that are not on TestPyPI need `--extra-index-url "
            "https://pypi.org/simple/` too (then a name on TestPyPI wins over PyPI's: use it "
            "only to test)."
        )

    @property
    def pending_publisher_url(self) -> Optional[str]:
        """PyPI's page for a pending publisher (a project that does not exist yet)."""
        return f"{self.web_url}/manage/account/publishing/" if self.pypi_like else None


def _simple_index_candidates(upload: str) -> tuple[str, ...]:
    """Where the simple index probably is, for the index servers people run.

    `…/legacy/` → `…/simple/` (PyPI-like, the sandbox); `/<user>/<index>/` → its
    `+simple/` (devpi); the root → `/simple/` (pypiserver).
    """
    parts = urlsplit(upload)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    paths: list[str] = []
    if path.endswith("/legacy/"):
        paths.append(path[: -len("legacy/")] + "simple/")
    segments = [s for s in path.split("/") if s]
    if len(segments) == 2 and segments[1] != "legacy":
        paths.append(path + "+simple/")
    paths.append(path + "simple/" if path != "/" else "/simple/")
    seen: list[str] = []
    for p in paths:
        url = urlunsplit((parts.scheme, parts.netloc, p, "", ""))
        if url not in seen:
            seen.append(url)
    return tuple(seen)
