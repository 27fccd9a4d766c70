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
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Optional
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name

from trusted_publish.http import transport
from trusted_publish.http.policy import sanitize_url

if TYPE_CHECKING:
    import requests

    from trusted_publish.index.target import Index

_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: filename → sha256 hex (None when the index lists the file without a SHA-256).
Listing = dict[str, Optional[str]]


class Unanswered(Exception):
    """The index could not be asked (why, in words): its listing is unknown, not empty."""


class Lookup:
    """Asks one index which files of which releases it holds; caches per project."""

    def __init__(
        self,
        session: requests.Session,
        index: Index,
        *,
        auth: tuple[str, str] | None = None,
        request_seconds: float = transport.REQUEST_TIMEOUT,
    ) -> None:
        self._session = session
        self._seconds = request_seconds
        self._index = index
        # Static credentials go only to the upload URL's own origin (a private index may
        # need them for reading too); a minted PyPI token is never sent here.
        self._auth = auth
        self._origin = _origin(index.upload_url)
        self._cache: dict[str, Optional[Listing]] = {}
        self._first_upload: dict[str, Optional[datetime]] = {}
        self._is_index: dict[str, bool] = {}
        self.source: str | None = None
        self.problem: str | None = None
        """Why the index could not be asked, the last time it could not."""

    def files(self, project: str, version: str, *, fresh: bool = False) -> Optional[Listing]:
        """The files the index has for `project` (None: the index could not tell us)."""
        key = f"{canonicalize_name(project)}=={version}"
        if fresh or key not in self._cache:
            try:
                self._cache[key] = self._ask(project, version)
            except Unanswered as exc:
                self.problem = str(exc)
                self._cache[key] = None
        return self._cache[key]

    def first_upload(self, project: str, version: str) -> Optional[datetime]:
        """When the release's first file still listed was uploaded (PyPI's JSON API only;
        None when the index does not say or the release has no files)."""
        self.files(project, version)
        return self._first_upload.get(f"{canonicalize_name(project)}=={version}")

    def _ask(self, project: str, version: str) -> Listing:
        name = canonicalize_name(project)
        if self._index.pypi_like:
            # A PyPI-like index answers per release through its JSON API (one small
            # request, where its simple pages list every file of every version).
            try:
                return self._ask_pypi_json(name, version)
            except transport.RequestFailed as exc:
                raise Unanswered(exc.reason) from None
        reasons: list[str] = []
        for base in self._index.simple_urls:
            try:
                listing = self._ask_simple(base, name)
            except Unanswered as exc:
                reasons.append(str(exc))
                continue
            except transport.RequestFailed as exc:
                reasons.append(f"{sanitize_url(base)}: {exc.reason}")
                continue
            self.source = base
            return listing
        raise Unanswered("; ".join(reasons) or "no simple index to ask")

    def _get(
        self, url: str, accept: str, what: str, cap: int = transport.LISTING_CAP
    ) -> transport.Reply:
        auth = self._auth if self._auth and _origin(url) == self._origin else None
        return transport.request(
            self._session,
            "GET",
            url,
            what=what,
            cap=cap,
            seconds=self._seconds,
            headers={"Accept": accept},
            auth=auth,
        )

    def _ask_pypi_json(self, name: str, version: str) -> Listing:
        url = f"{self._index.web_url}/pypi/{name}/{version}/json"
        resp = self._get(url, "application/json", "the JSON API request")
        if resp.status_code == 404:
            return {}  # PyPI's JSON API is known to be there: the release is not
        shown = sanitize_url(url)
        if resp.status_code != 200:
            raise Unanswered(f"{shown} answered HTTP {resp.status_code}")
        self.source = url
        try:
            data = json.loads(resp.text)
        except ValueError:
            raise Unanswered(f"{shown} answered something that is not JSON") from None
        files = data.get("urls") if isinstance(data, dict) else None
        if not isinstance(files, list):
            raise Unanswered(f"{shown} answered JSON without a list of files")
        listing: Listing = {}
        times: list[datetime] = []
        for f in files:
            if not isinstance(f, dict) or not isinstance(f.get("filename"), str):
                continue
            listing[f["filename"]] = _sha256(f.get("digests"))
            when = _iso_time(f.get("upload_time_iso_8601"))
            if when is not None:
                times.append(when)
        self._first_upload[f"{name}=={version}"] = min(times) if times else None
        return listing

    def _ask_simple(self, base: str, name: str) -> Listing:
        url = urljoin(base, f"{name}/")
        resp = self._get(url, f"{_SIMPLE_JSON}, text/html;q=0.1", "the simple-index request")
        if resp.status_code in (301, 302, 303, 307, 308):
            # Only a redirect to the normalized name on the same origin is followed.
            location = urljoin(url, resp.headers.get("Location", ""))
            if _origin(location) != _origin(url):
                raise Unanswered(f"{sanitize_url(url)} redirected to another host")
            resp = self._get(
                location, f"{_SIMPLE_JSON}, text/html;q=0.1", "the simple-index request"
            )
        if resp.status_code == 404:
            # "No such project" only if the folder above it answers as a simple index: a
            # mistyped index-url answers 404 to every project, which is not "nothing there".
            if self._answers_as_index(base):
                return {}
            raise Unanswered(f"{sanitize_url(base)} does not answer as a simple index")
        if resp.status_code != 200:
            raise Unanswered(f"{sanitize_url(url)} answered HTTP {resp.status_code}")
        content_type = resp.headers.get("Content-Type", "")
        try:
            if content_type.startswith((_SIMPLE_JSON, "application/json")):
                return _listing_from_json(resp.text)
        except ValueError:
            raise Unanswered(
                f"{sanitize_url(url)} answered JSON that is not a simple page"
            ) from None
        if "html" in content_type or resp.text.lstrip().lower().startswith("<!doctype html"):
            return _listing_from_html(resp.text)
        raise Unanswered(f"{sanitize_url(url)} answered {content_type or 'an unknown type'}")

    def _answers_as_index(self, base: str) -> bool:
        """Whether `base` itself answers like a simple index's root (PEP 503/691)."""
        if base not in self._is_index:
            try:
                # Only the status and the type matter: no need to read a long project list.
                resp = self._get(
                    base,
                    f"{_SIMPLE_JSON}, text/html;q=0.1",
                    "the simple index's root page",
                    cap=transport.SMALL_JSON_CAP,
                )
            except transport.TooLarge:
                # A root page too large to read lists a great many projects: an index.
                self._is_index[base] = True
                return True
            content_type = resp.headers.get("Content-Type", "")
            self._is_index[base] = resp.status_code == 200 and (
                content_type.startswith((_SIMPLE_JSON, "application/json"))
                or "html" in content_type
            )
        return self._is_index[base]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


def _listing_from_json(text: str) -> Listing:
    data = json.loads(text)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError("no list of files")
    listing: Listing = {}
    for f in files:
        if isinstance(f, dict) and isinstance(f.get("filename"), str):
            listing[f["filename"]] = _sha256(f.get("hashes"))
    return listing


def _sha256(hashes: object) -> Optional[str]:
    """The `sha256` of a `{"sha256": hex}` mapping as we compare digests (lower case); None
    when the index gives none, or gives something of another shape."""
    value = hashes.get("sha256") if isinstance(hashes, dict) else None
    if isinstance(value, str) and _SHA256_HEX.fullmatch(value):
        return value.lower()
    return None


def _iso_time(value: object) -> Optional[datetime]:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


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
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


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
