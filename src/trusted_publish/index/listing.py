"""What the index already has: file names and their SHA-256, asked before any upload.

A re-run of a partly published release must neither fail on the files that made it nor
replace one (an index never lets a file name be reused). So before the first byte, every
file is looked up: the same name with the same hash is skipped, the same name with other
bytes stops the run. PyPI and TestPyPI answer through their JSON API; other indexes through
the simple index (PEP 691 JSON, or PEP 503 HTML with `#sha256=` fragments). `triage` reads
those answers for the run: what is still to upload, what is there already, and what stops
the run before the first byte (a taken file name, a release PyPI closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, StrictStr

from trusted_publish.errors import InputError, PublishError, UploadError
from trusted_publish.http import transport
from trusted_publish.http.answers import ProtocolError, decode_json, parse_model, read_json
from trusted_publish.http.policy import sanitize_url

if TYPE_CHECKING:
    from collections.abc import Sequence

    import requests

    from trusted_publish.console import Console
    from trusted_publish.dists.discover import Distribution
    from trusted_publish.index.target import Index

_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: filename → sha256 hex (None when the index lists the file without a SHA-256).
Listing = dict[str, Optional[str]]
#: PyPI closes a release to new files this long after it was created.
RELEASE_UPLOAD_WINDOW = timedelta(days=14)


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
            release = read_json_api(resp.text)
        except ProtocolError as exc:
            raise Unanswered(f"{shown} {exc.reason}") from None
        self._first_upload[f"{name}=={version}"] = release.first_upload
        return release.files

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
                return read_simple_json(resp.text)
            if "html" in content_type or resp.text.lstrip().lower().startswith("<!doctype html"):
                return read_simple_html(resp.text)
        except ProtocolError as exc:
            raise Unanswered(f"{sanitize_url(url)} {exc.reason}") from None
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


@dataclass(frozen=True)
class Triage:
    """What the index's listing says of the run's files before any upload."""

    todo: list[Distribution]
    """Still to upload, in the order given."""
    there: list[Distribution]
    """Already on the index (with our bytes, or, with `skip-existing`, by name): skipped."""


def triage(
    dists: Sequence[Distribution],
    lookup: Lookup,
    *,
    index: Index,
    skip_existing: bool,
    console: Console,
) -> Triage:
    """The files still to upload and those already there; a file-name clash with other
    bytes, or a release PyPI takes no more files into, stops the run here (`UploadError`)."""
    todo: list[Distribution] = []
    there: list[Distribution] = []
    clashes: list[str] = []
    unanswered = False
    for dist in dists:
        listing = lookup.files(dist.name, dist.version)
        unanswered = unanswered or listing is None
        if listing is None or dist.filename not in listing:
            todo.append(dist)
            continue
        theirs = listing[dist.filename]
        if theirs == dist.sha256:
            console.notice(f"Skipping {dist.filename}: the index already has it, byte for byte.")
            there.append(dist)
        elif theirs is None and skip_existing:
            console.notice(f"Skipping {dist.filename}: the index has a file of that name.")
            there.append(dist)
        elif theirs is None:
            todo.append(dist)  # the index's own answer will say whether it is the same file
        else:
            clashes.append(f"{dist.filename}: {clash(dist, theirs)}")
    if unanswered:
        _listing_unknown(lookup, index, console)
    if clashes:
        raise UploadError(
            "Nothing was uploaded: the index already has files of these names with other "
            "contents, and a file name can never be reused.",
            details=clashes,
            fix="Bump the version and rebuild. (A rebuild of the same version changes the "
            "bytes: publish the files that were built for the first upload, or a new version.)",
        )
    if index.pypi_like:
        closed = closed_releases(todo, lookup, datetime.now(timezone.utc))
        if closed:
            raise UploadError(
                'Nothing was uploaded: PyPI would refuse these files with "Uploading new files '
                'to releases older than 14 days is not allowed."',
                details=[
                    f"{name} {version} (first file uploaded more than 14 days ago): "
                    + ", ".join(names)
                    for (name, version), names in closed.items()
                ],
                fix="Publish these files under a new version: bump the version, rebuild, and "
                "publish every file of it.",
            )
    if lookup.source:
        console.info(f"Asked {sanitize_url(lookup.source)}: {len(todo)} of {len(dists)} to upload.")
    return Triage(todo=todo, there=there)


def clash(dist: Distribution, theirs: str) -> str:
    """The two digests of a taken file name, said the same way before and after uploading."""
    return f"the index has sha256 {theirs}, this file has {dist.sha256}"


def _listing_unknown(lookup: Lookup, index: Index, console: Console) -> None:
    """The index's listing is unknown: never read as "nothing there". A mistyped `index-url`
    stops the run; otherwise the index's answer to each upload decides (a warning says so)."""
    if index.simple_url_given:
        raise InputError(
            f"`index-url` {index.simple_urls[0]} does not answer as the index's simple API "
            f"({lookup.problem}).",
            fix="Correct `index-url` (the simple API of the index you upload to, e.g. "
            "https://host/simple/), or leave it empty to derive it from `repository-url`.",
        )
    console.warning(
        f"Could not ask the index which files it already has ({lookup.problem}). Every file "
        "is uploaded and the index's own answer decides: a file is reported as already there "
        "only if the index lists it. Set `index-url` to the index's simple API to check first."
    )


def closed_releases(
    todo: Sequence[Distribution], lookup: Lookup, now: datetime
) -> dict[tuple[str, str], list[str]]:
    """(name, version) → the files of `todo` in a release PyPI takes no new file into: one
    created more than 14 days before `now` (warehouse/forklift/legacy.py, file_upload); its
    JSON API says when it was."""
    closed: dict[tuple[str, str], list[str]] = {}
    for dist in todo:
        first = lookup.first_upload(dist.name, dist.version)
        if first is not None and now - first > RELEASE_UPLOAD_WINDOW:
            closed.setdefault((dist.name, dist.version), []).append(dist.filename)
    return closed


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


# --- the answers, each read at one boundary into a typed value -----------------------------


class _JsonApiFile(BaseModel):
    """One of `urls` in PyPI's JSON API (warehouse/legacy/api/json.py)."""

    model_config = ConfigDict(extra="ignore")

    filename: StrictStr
    digests: Any = None
    upload_time_iso_8601: Any = None


class _JsonApiRelease(BaseModel):
    model_config = ConfigDict(extra="ignore")

    urls: list[Any]


class _SimpleFile(BaseModel):
    """One of `files` in a PEP 691 project page."""

    model_config = ConfigDict(extra="ignore")

    filename: StrictStr
    hashes: Any = None


class _SimplePage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    files: list[Any]


@dataclass(frozen=True)
class Release:
    """A release as PyPI's JSON API describes it."""

    files: Listing
    first_upload: Optional[datetime]
    """When its first file still listed was uploaded (None: no file says)."""


def read_json_api(body: str | bytes) -> Release:
    """PyPI's JSON API answer for one release (`/pypi/<name>/<version>/json`); a
    `ProtocolError` whose reason ends "answered ..." when it is not one. Entries that are
    not files (no `filename`) are passed over."""
    what = "the JSON API request"
    try:
        data = decode_json(body, what=what)
    except ProtocolError:
        raise ProtocolError("answered something that is not JSON") from None
    try:
        urls = parse_model(_JsonApiRelease, data, what=what).urls
    except ProtocolError:
        raise ProtocolError("answered JSON without a list of files") from None
    listing: Listing = {}
    times: list[datetime] = []
    for item in urls:
        try:
            f = parse_model(_JsonApiFile, item, what=what)
        except ProtocolError:
            continue
        listing[f.filename] = _sha256(f.digests)
        when = _iso_time(f.upload_time_iso_8601)
        if when is not None:
            times.append(when)
    return Release(files=listing, first_upload=min(times) if times else None)


def read_simple_json(body: str | bytes) -> Listing:
    """A PEP 691 project page: file name → SHA-256; `ProtocolError` ("answered ...") when
    it is not one."""
    what = "the simple-index request"
    try:
        page = read_json(body, _SimplePage, what=what)
    except ProtocolError:
        raise ProtocolError("answered JSON that is not a simple page") from None
    listing: Listing = {}
    for item in page.files:
        try:
            f = parse_model(_SimpleFile, item, what=what)
        except ProtocolError:
            continue
        listing[f.filename] = _sha256(f.hashes)
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
    except (ValueError, OverflowError):
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


def read_simple_html(text: str) -> Listing:
    """A PEP 503 project page: file name → SHA-256 (from `#sha256=` fragments);
    `ProtocolError` ("answered ...") when the parser fails on it."""
    parser = _Anchors()
    try:
        parser.feed(text)
    except PublishError:
        raise  # a signal's `Interrupted`, raised while reading: the run's, not the answer's
    except Exception:  # noqa: BLE001 - whatever the HTML parser raises is one outcome
        raise ProtocolError("answered HTML that could not be read as a simple page") from None
    listing: Listing = {}
    for href in parser.hrefs:
        path, _, fragment = href.partition("#")
        filename = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        match = _SHA256_FRAGMENT.search(fragment)
        listing[filename] = match.group(1).lower() if match else None
    return listing
