"""What the index already has: file names and their SHA-256, asked before any upload.

A re-run of a partly published release must neither fail on the files that made it nor
replace one (an index never lets a file name be reused). So before the first byte, every
file is looked up: the same name with the same hash is skipped, the same name with other
bytes stops the run. PyPI and TestPyPI answer through their JSON API; other indexes through
the simple index (PEP 691 JSON, or PEP 503 HTML with `#sha256=` fragments).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Callable, Optional
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name

from . import bounded

if TYPE_CHECKING:
    import requests

    from .index import Index

_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: filename → sha256 hex (None when the index lists the file without a SHA-256).
Listing = dict[str, Optional[str]]


class Lookup:
    """Asks one index which files of which releases it holds; caches per project."""

    def __init__(
        self,
        session: requests.Session,
        index: Index,
        *,
        auth: tuple[str, str] | None = None,
        request_seconds: float = bounded.REQUEST_TIMEOUT,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._session = session
        self._seconds = request_seconds
        # Told why, when the index could not tell: a silent "unknown" hides a hostile index.
        self._warn = warn
        self._index = index
        # Static credentials go only to the upload URL's own origin (a private index may
        # need them for reading too); a minted PyPI token is never sent here.
        self._auth = auth
        self._origin = _origin(index.upload_url)
        self._cache: dict[str, Optional[Listing]] = {}
        self.source: str | None = None

    def files(self, project: str, version: str, *, fresh: bool = False) -> Optional[Listing]:
        """The files the index has for `project` (None: the index could not tell us)."""
        key = f"{canonicalize_name(project)}=={version}"
        if fresh or key not in self._cache:
            self._cache[key] = self._ask(project, version)
        return self._cache[key]

    def _ask(self, project: str, version: str) -> Optional[Listing]:
        name = canonicalize_name(project)
        try:
            if self._index.pypi:
                # PyPI and TestPyPI answer per release through their JSON API (one small
                # request, where their simple pages list every file of every version).
                return self._ask_pypi_json(name, version)
            for base in self._index.simple_urls:
                listing = self._ask_simple(base, name)
                if listing is not None:
                    self.source = base
                    return listing
        except bounded.RequestFailed as exc:
            if self._warn:
                self._warn(
                    f"The index could not tell which files of {project} {version} it has: "
                    f"{exc.reason}. Its answer to each upload will tell."
                )
            return None
        except ValueError:
            return None
        return None

    def _get(self, url: str, accept: str, what: str) -> bounded.Reply:
        auth = self._auth if self._auth and _origin(url) == self._origin else None
        return bounded.request(
            self._session,
            "GET",
            url,
            what=what,
            cap=bounded.LISTING_CAP,
            seconds=self._seconds,
            headers={"Accept": accept},
            auth=auth,
        )

    def _ask_pypi_json(self, name: str, version: str) -> Optional[Listing]:
        url = f"{self._index.web_url}/pypi/{name}/{version}/json"
        resp = self._get(url, "application/json", "the JSON API request")
        if resp.status_code == 404:
            return {}
        if resp.status_code != 200:
            return None
        self.source = url
        files = resp.json().get("urls", [])
        return {
            f["filename"]: (f.get("digests") or {}).get("sha256")
            for f in files
            if isinstance(f, dict) and "filename" in f
        }

    def _ask_simple(self, base: str, name: str) -> Optional[Listing]:
        url = urljoin(base, f"{name}/")
        resp = self._get(url, f"{_SIMPLE_JSON}, text/html;q=0.1", "the simple-index request")
        if resp.status_code in (301, 302, 303, 307, 308):
            # Only a redirect to the normalized name on the same origin is followed.
            location = urljoin(url, resp.headers.get("Location", ""))
            if _origin(location) != _origin(url):
                return None
            resp = self._get(
                location, f"{_SIMPLE_JSON}, text/html;q=0.1", "the simple-index request"
            )
        if resp.status_code == 404:
            return {}
        if resp.status_code != 200:
            return None
        content_type = resp.headers.get("Content-Type", "")
        if content_type.startswith(_SIMPLE_JSON) or content_type.startswith("application/json"):
            return _listing_from_json(resp.text)
        if "html" in content_type or resp.text.lstrip().lower().startswith("<!doctype html"):
            return _listing_from_html(resp.text)
        return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


def _listing_from_json(text: str) -> Listing:
    data = json.loads(text)
    files = data.get("files", []) if isinstance(data, dict) else []
    return {
        f["filename"]: (f.get("hashes") or {}).get("sha256")
        for f in files
        if isinstance(f, dict) and isinstance(f.get("filename"), str)
    }


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


_SHA256_FRAGMENT = re.compile(r"sha256=([0-9a-fA-F]{64})")


def _listing_from_html(text: str) -> Listing:
    parser = _Anchors()
    parser.feed(text)
    listing: Listing = {}
    for href in parser.hrefs:
        path, _, fragment = href.partition("#")
        filename = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        match = _SHA256_FRAGMENT.search(fragment)
        listing[filename] = match.group(1).lower() if match else None
    return listing
