"""The reading side of PyPI: the simple index (HTML and PEP 691 JSON), the JSON API and the
Integrity API (PEP 740 provenance).

Pages are built from the warehouse's ``Project`` records; the caller holds its lock.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, NamedTuple, Optional

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from .form import UploadForm
from .multipart import parse_header_params
from .storage import Project, Release, StoredFile

__all__ = [
    "INTEGRITY_JSON",
    "SIMPLE_JSON",
    "Answer",
    "project_json",
    "provenance",
    "simple_index",
    "simple_project",
    "wants_json",
]

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_SIMPLE_TYPES = {
    SIMPLE_JSON: "json",
    "application/vnd.pypi.simple.latest+json": "json",
    "application/vnd.pypi.simple.v1+html": "html",
    "application/vnd.pypi.simple.latest+html": "html",
    "text/html": "html",
    "*/*": "html",
}


def wants_json(accept: Optional[str], query: dict[str, list[str]]) -> bool:
    """Whether a simple-index request asks for PEP 691 JSON (``?format=`` or Accept)."""
    if "format" in query:
        return query["format"][0] in (SIMPLE_JSON, "application/vnd.pypi.simple.latest+json")
    if not accept:
        return False
    best = {"json": 0.0, "html": 0.0}
    for item in accept.split(","):
        media, params = parse_header_params(item)
        kind = _SIMPLE_TYPES.get(media.lower())
        if kind is None:
            continue
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        best[kind] = max(best[kind], quality)
    return best["json"] > 0 and best["json"] >= best["html"]


class Answer(NamedTuple):
    """A whole HTTP answer, for the server to send as it is."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


INTEGRITY_JSON = "application/vnd.pypi.integrity.v1+json"
_INTEGRITY_OFFERS = (INTEGRITY_JSON, "application/json")
# warehouse/api/integrity.py: cache_control(10 * 60) and add_vary("Accept") wrap every answer
# of the view; the CORS headers (warehouse/utils/cors.py) come with a provenance only.
_INTEGRITY_CACHE = {"Cache-Control": "max-age=600, public", "Vary": "Accept"}
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": (
        "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since"
    ),
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Max-Age": "86400",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
}
# Warehouse's HTML 404 page answers a path its traversal can't resolve (unknown project,
# release or file); the JSON "No provenance" 404 is for a known file only.
_HTML_404 = (
    b"<!DOCTYPE html>\n<html>\n  <head><title>404 Not Found</title></head>\n"
    b"  <body><h1>We looked everywhere but we couldn't find this page</h1></body>\n</html>\n"
)


def provenance(
    proj: Optional[Project], version: str, filename: str, accept: Optional[str]
) -> Answer:
    """``GET /integrity/<project>/<version>/<filename>/provenance`` as warehouse's
    ``provenance_for_file`` answers it (warehouse/api/integrity.py)."""
    stored = _find_file(proj, version, filename)
    if stored is None:
        return Answer(404, _HTML_404, "text/html; charset=UTF-8", {})
    content_type = _negotiate(accept, _INTEGRITY_OFFERS)
    if content_type is None:
        body = _compact({"message": "Request not acceptable"})
        return Answer(406, body, "application/json", dict(_INTEGRITY_CACHE))
    if stored.attestations is None or stored.publisher is None:
        body = _compact({"message": f"No provenance available for {filename}"})
        return Answer(404, body, "application/json", dict(_INTEGRITY_CACHE))
    # IntegrityService.build_provenance: one bundle, the uploading publisher's, holding the
    # attestations as uploaded; warehouse's json renderer sorts the keys.
    document = {
        "attestation_bundles": [
            {"attestations": json.loads(stored.attestations), "publisher": stored.publisher}
        ],
        "version": 1,
    }
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return Answer(200, body, content_type, {**_INTEGRITY_CACHE, **_CORS})


def _find_file(proj: Optional[Project], version: str, filename: str) -> Optional[StoredFile]:
    if proj is None:
        return None
    try:
        canonical = canonicalize_version(version)
    except InvalidVersion:
        canonical = version
    release = proj.releases.get(canonical)
    for stored in release.files if release is not None else ():
        if stored.filename == filename:
            return stored
    return None


def _negotiate(accept: Optional[str], offers: tuple[str, ...]) -> Optional[str]:
    """The offer webob's ``acceptable_offers`` puts first: the highest quality, ties in the
    order offered; no Accept header takes the first offer."""
    if accept is None or not accept.strip():
        return offers[0]
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, params = parse_header_params(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            continue
        ranges.append((media.lower(), quality))
    scored: list[tuple[float, int, str]] = []
    for position, offer in enumerate(offers):
        kind = offer.split("/")[0]
        # The most specific range that matches an offer sets its quality.
        for pattern in (offer, f"{kind}/*", "*/*"):
            qualities = [q for media, q in ranges if media == pattern]
            if qualities:
                if qualities[0] > 0:
                    scored.append((-qualities[0], position, offer))
                break
    return min(scored)[2] if scored else None


def _compact(payload: Any) -> bytes:
    # webob's json= answers: json.dumps with compact separators.
    return json.dumps(payload, separators=(",", ":")).encode()


def simple_index(projects: Iterable[Project], serial: int, json_format: bool) -> tuple[str, str]:
    """``/simple/``: every project; returns the text and its content type."""
    names = sorted(projects, key=lambda p: p.normalized)
    if json_format:
        payload = {
            "meta": {"api-version": "1.1", "_last-serial": serial},
            "projects": [{"name": p.name, "_last-serial": serial} for p in names],
        }
        return json.dumps(payload), SIMPLE_JSON
    links = "\n".join(
        f'    <a href="/simple/{p.normalized}/">{html.escape(p.name)}</a><br />' for p in names
    )
    page = (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        "    <title>Simple index</title>\n  </head>\n  <body>\n"
        f"{links}\n  </body>\n</html>\n"
    )
    return page, "text/html; charset=utf-8"


def simple_project(proj: Project, serial: int, base_url: str, json_format: bool) -> tuple[str, str]:
    """``/simple/<project>/``: its files; returns the text and its content type."""
    files = sorted(
        (f for r in proj.releases.values() for f in r.files),
        key=lambda f: (Version(f.version), f.filename),
    )
    if json_format:
        payload = {
            "meta": {"api-version": "1.1", "_last-serial": serial},
            "name": proj.normalized,
            "versions": sorted({r.version for r in proj.releases.values() if r.files}, key=Version),
            "files": [
                {
                    "filename": f.filename,
                    "url": f"{base_url}{f.url_path}",
                    "hashes": {"sha256": f.sha256},
                    "requires-python": f.requires_python,
                    "core-metadata": (
                        {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
                    ),
                    # PEP 714: pip 23.0 crashes on a dict under the PEP 691
                    # name "dist-info-metadata"; PyPI serves this one instead.
                    "data-dist-info-metadata": (
                        {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
                    ),
                    "size": f.size,
                    "upload-time": _iso(f.upload_time),
                    "yanked": False,
                }
                for f in files
            ],
        }
        return json.dumps(payload), "application/vnd.pypi.simple.v1+json"
    lines = []
    for f in files:
        attributes = ""
        if f.requires_python:
            attributes += f' data-requires-python="{html.escape(f.requires_python)}"'
        if f.metadata_sha256:
            attributes += (
                f' data-dist-info-metadata="sha256={f.metadata_sha256}"'
                f' data-core-metadata="sha256={f.metadata_sha256}"'
            )
        href = html.escape(f"{base_url}{f.url_path}#sha256={f.sha256}")
        lines.append(f'    <a href="{href}"{attributes}>{html.escape(f.filename)}</a><br />')
    title = html.escape(proj.normalized)
    page = (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>Links for {title}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {title}</h1>\n" + "\n".join(lines) + "\n  </body>\n</html>\n"
    )
    return page, "text/html; charset=utf-8"


def project_json(
    proj: Project, serial: int, base_url: str, version: Optional[str] = None
) -> Optional[dict[str, Any]]:
    """The ``/pypi/<project>[/<version>]/json`` document, or None (404)."""
    releases = {k: r for k, r in proj.releases.items() if r.files}
    if not releases:
        return None
    if version is None:
        chosen = _latest(list(releases.values()))
    else:
        try:
            chosen_or_none = releases.get(canonicalize_version(version))
        except InvalidVersion:
            chosen_or_none = None
        if chosen_or_none is None:
            return None
        chosen = chosen_or_none
    document: dict[str, Any] = {
        "info": _release_info(proj, chosen, base_url),
        "last_serial": serial,
        "urls": [_file_json(f, base_url) for f in chosen.files],
        "vulnerabilities": [],
    }
    if version is None:
        document["releases"] = {
            r.version: [_file_json(f, base_url) for f in r.files]
            for r in sorted(releases.values(), key=lambda r: Version(r.version))
        }
    return document


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _latest(releases: list[Release]) -> Release:
    stable = [r for r in releases if not Version(r.version).is_prerelease]
    return max(stable or releases, key=lambda r: Version(r.version))


def _file_json(f: StoredFile, base_url: str) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": {"blake2b_256": f.blake2_256, "md5": f.md5, "sha256": f.sha256},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "size": f.size,
        "upload_time": datetime.fromtimestamp(f.upload_time, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S"
        ),
        "upload_time_iso_8601": _iso(f.upload_time),
        "url": f"{base_url}{f.url_path}",
        "yanked": False,
        "yanked_reason": None,
    }


def _release_info(proj: Project, release: Release, base_url: str) -> dict[str, Any]:
    form = UploadForm(release.metadata)

    def listed(key: str) -> Optional[list[str]]:
        values = form.getall(key)
        return values or None

    project_urls: dict[str, str] = {}
    for value in form.getall("project_urls"):
        label, _, url = (part.strip() for part in value.partition(","))
        project_urls[label] = url
    return {
        "author": form.get("author") or "",
        "author_email": form.get("author_email") or "",
        "bugtrack_url": None,
        "classifiers": form.getall("classifiers"),
        "description": form.get("description") or "",
        "description_content_type": form.get("description_content_type"),
        "docs_url": None,
        "download_url": form.get("download_url") or "",
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": listed("dynamic"),
        "home_page": form.get("home_page") or "",
        "keywords": form.get("keywords") or "",
        "license": form.get("license") or "",
        "license_expression": form.get("license_expression"),
        "license_files": listed("license_file") or listed("license_files"),
        "maintainer": form.get("maintainer") or "",
        "maintainer_email": form.get("maintainer_email") or "",
        "name": proj.name,
        "package_url": f"{base_url}/project/{proj.normalized}/",
        "platform": form.get("platform"),
        "project_url": f"{base_url}/project/{proj.normalized}/",
        "project_urls": project_urls or None,
        "provides_extra": listed("provides_extra"),
        "release_url": f"{base_url}/project/{proj.normalized}/{release.version}/",
        "requires_dist": listed("requires_dist"),
        "requires_python": form.get("requires_python") or "",
        "summary": form.get("summary") or "",
        "version": release.version,
        "yanked": False,
        "yanked_reason": None,
    }
