"""The sandbox after an upload: the Integrity API, burn-token, and an index that lies.

Driven over loopback with `requests`, like tests/sandbox/test_sandbox.py: the answers are the ones
warehouse gives (warehouse/api/integrity.py), and the faults are the ones only a read-back
can catch.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.attestations import attestation_of, subject_of
from support.builders import make_wheel
from support.sandbox_client import api_token, mint, session, upload
from trusted_publish_sandbox import Sandbox

INTEGRITY = "application/vnd.pypi.integrity.v1+json"
DEAD_TOKEN = (
    "Invalid or non-existent authentication information. "
    "See https://pypi.org/help/#invalid-auth for more information."
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sandbox:
        yield sandbox


def attested_upload(sb: Sandbox, wheel: Path) -> tuple[requests.Response, dict[str, object]]:
    attestation = attestation_of(wheel)
    resp = upload(
        sb, wheel, api_token(sb), name="tp_sample", attestations=json.dumps([attestation])
    )
    return resp, attestation


def provenance(sb: Sandbox, filename: str, accept: str | None = INTEGRITY) -> requests.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return session().get(
        sb.provenance_url("tp-sample", "1.0.0", filename), headers=headers, allow_redirects=False
    )


# --- the Integrity API ---------------------------------------------------------------------


def test_provenance_of_an_attested_file_is_one_bundle_from_the_uploading_publisher(
    sb: Sandbox, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    resp, attestation = attested_upload(sb, wheel)
    assert resp.status_code == 200, resp.text

    answer = provenance(sb, wheel.name)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == INTEGRITY
    assert answer.headers["Cache-Control"] == "max-age=600, public"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    expected = {
        "attestation_bundles": [
            {
                "attestations": [attestation],
                "publisher": {
                    "environment": "pypi",
                    "kind": "GitHub",
                    "repository": "octo-org/demo",
                    "workflow": "release.yml",
                },
            }
        ],
        "version": 1,
    }
    # Warehouse's json renderer: sorted keys, compact, no trailing newline.
    assert answer.content == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [
        (None, 200, INTEGRITY),
        ("*/*", 200, INTEGRITY),
        ("application/json", 200, "application/json"),
        (f"{INTEGRITY}; q=0.1, application/json", 200, "application/json"),
        (f"text/xml, {INTEGRITY}", 200, INTEGRITY),
        ("text/xml", 406, "application/json"),
    ],
)
def test_provenance_content_negotiation(
    sb: Sandbox, tmp_path: Path, accept: str | None, status: int, content_type: str
) -> None:
    wheel = make_wheel(tmp_path)
    assert attested_upload(sb, wheel)[0].status_code == 200
    answer = provenance(sb, wheel.name, accept)
    assert (answer.status_code, answer.headers["Content-Type"]) == (status, content_type)
    if status == 406:
        assert answer.content == b'{"message":"Request not acceptable"}'


def test_no_provenance_for_a_file_without_attestations_and_html_404_for_unknown_files(
    sb: Sandbox, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    assert upload(sb, wheel, name="tp_sample").status_code == 200
    answer = provenance(sb, wheel.name)
    assert answer.status_code == 404
    assert answer.json() == {"message": f"No provenance available for {wheel.name}"}
    unknown = provenance(sb, "tp_sample-9.0-py3-none-any.whl")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"].startswith("text/html")


# --- burn-token ----------------------------------------------------------------------------


def test_burn_token_answers_202_by_default_as_pypi_does_and_the_token_is_dead(
    sb: Sandbox, tmp_path: Path
) -> None:
    # warehouse PR #20197 ("Allow burning of TP tokens"): 202, also for an unknown token.
    auth = api_token(sb)
    burn = session().post(f"{sb.base_url}/_/oidc/burn-token", json={"token": auth[1]})
    assert burn.status_code == 202
    assert sb.burned_tokens == [auth[1]]
    again = session().post(f"{sb.base_url}/_/oidc/burn-token", json={"token": auth[1]})
    assert again.status_code == 202
    refused = upload(sb, make_wheel(tmp_path), auth, name="tp_sample")
    assert (refused.status_code, refused.reason) == (403, DEAD_TOKEN)


def test_an_index_without_burn_token_answers_404_and_the_token_keeps_working(
    tmp_path: Path,
) -> None:
    with Sandbox(burn_token=False) as sb:
        auth = api_token(sb)
        burn = session().post(f"{sb.base_url}/_/oidc/burn-token", json={"token": auth[1]})
        assert burn.status_code == 404
        assert sb.burned_tokens == []
        assert upload(sb, make_wheel(tmp_path), auth, name="tp_sample").status_code == 200


def test_a_burned_token_is_refused_with_warehouses_text(tmp_path: Path) -> None:
    with Sandbox() as sb:
        auth = api_token(sb)
        burn = session().post(f"{sb.base_url}/_/oidc/burn-token", json={"token": auth[1]})
        assert burn.status_code == 202 and sb.burned_tokens == [auth[1]]
        refused = upload(sb, make_wheel(tmp_path), auth, name="tp_sample")
        assert refused.status_code == 403
        assert refused.reason == DEAD_TOKEN
        assert sb.files("tp-sample") == []
        assert mint(sb).status_code == 200  # a new exchange still works


# --- an index that lies ----------------------------------------------------------------------


def listed_sha256(sb: Sandbox, filename: str) -> str | None:
    page = session().get(
        f"{sb.base_url}/simple/tp-sample/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    if page.status_code == 404:
        return None
    files = {f["filename"]: f["hashes"]["sha256"] for f in page.json()["files"]}
    return files.get(filename)


def test_drop_answers_200_and_stores_nothing(tmp_path: Path) -> None:
    with Sandbox(users={"alice": "s3cret"}, upload_fault="drop") as sb:
        wheel = make_wheel(tmp_path)
        resp = upload(sb, wheel, name="tp_sample")
        assert resp.status_code == 200
        assert sb.files("tp-sample") == []
        assert [a.status for a in sb.upload_attempts] == [200]
        assert listed_sha256(sb, wheel.name) is None


def test_alter_stores_other_bytes(tmp_path: Path) -> None:
    with Sandbox(users={"alice": "s3cret"}, upload_fault="alter") as sb:
        wheel = make_wheel(tmp_path)
        assert upload(sb, wheel, name="tp_sample").status_code == 200
        ours = hashlib.sha256(wheel.read_bytes()).hexdigest()
        theirs = listed_sha256(sb, wheel.name)
        assert theirs is not None and theirs != ours
        [stored] = sb.files("tp-sample")
        assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == theirs


def test_listing_lag_hides_a_new_file_for_that_long(tmp_path: Path) -> None:
    with Sandbox(users={"alice": "s3cret"}, listing_lag=1.0) as sb:
        wheel = make_wheel(tmp_path)
        assert upload(sb, wheel, name="tp_sample").status_code == 200
        ours = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert listed_sha256(sb, wheel.name) is None
        json_api = session().get(f"{sb.base_url}/pypi/tp-sample/1.0.0/json")
        assert json_api.status_code == 404
        time.sleep(1.2)
        assert listed_sha256(sb, wheel.name) == ours
        json_api = session().get(f"{sb.base_url}/pypi/tp-sample/1.0.0/json")
        assert [f["digests"]["sha256"] for f in json_api.json()["urls"]] == [ours]


def test_provenance_faults_serve_another_publisher_or_other_bytes(
    sb: Sandbox, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path)
    resp, _ = attested_upload(sb, wheel)
    assert resp.status_code == 200, resp.text
    ours = hashlib.sha256(wheel.read_bytes()).hexdigest()

    sb.faults.provenance_fault = "other-publisher"
    [bundle] = provenance(sb, wheel.name).json()["attestation_bundles"]
    assert bundle["publisher"] == {
        "environment": "pypi",
        "kind": "GitHub",
        "repository": "mallory/demo",
        "workflow": "other.yml",
    }
    assert [subject_of(a) for a in bundle["attestations"]] == [(wheel.name, ours)]

    sb.faults.provenance_fault = "other-digest"
    [bundle] = provenance(sb, wheel.name).json()["attestation_bundles"]
    assert bundle["publisher"]["repository"] == "octo-org/demo"
    [(name, theirs)] = [subject_of(a) for a in bundle["attestations"]]
    assert name == wheel.name and theirs != ours and len(theirs) == 64

    with pytest.raises(ValueError, match="provenance_fault must be None or one of"):
        sb.faults.provenance_fault = "forged"
