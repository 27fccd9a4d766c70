"""The sandbox emulates GitHub's OIDC token service and PyPI: drive it over loopback.

No mocks: every test talks HTTP to a real ``Sandbox`` on 127.0.0.1 with ``requests``
(plus pip, twine and the CLI as real clients), and checks the answers PyPI would give.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import jwt
import pytest
import requests

from support.builders import make_sdist, make_wheel, metadata_text
from support.sandbox_client import (
    api_token,
    child_env,
    encode_multipart,
    id_token,
    mint,
    mint_error,
    session,
    start_cli,
    upload,
    upload_fields,
)
from trusted_publish_sandbox import Identity, RegisteredPublisher, Sandbox
from trusted_publish_sandbox.multipart import MultipartParser, PartHeaders

# --------------------------------------------------------------------------------------
# helpers: HTTP and the upload form (the distributions come from tests/builders.py)


# --------------------------------------------------------------------------------------
# GitHub: the token endpoint and the JWKS


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(users={"alice": "s3cret"}) as sandbox:
        yield sandbox


def test_token_endpoint_issues_jwt_verifiable_with_jwks(sb: Sandbox) -> None:
    token = id_token(sb)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]

    config = session().get(f"{sb.issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == sb.issuer == f"{sb.base_url}/_github"
    jwks = session().get(config["jwks_uri"]).json()
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        token, key=jwt.PyJWK(key), algorithms=["RS256"], audience="pypi", issuer=sb.issuer
    )
    assert claims["exp"] == claims["iat"] + 300 and claims["nbf"] <= claims["iat"]
    assert claims["sub"] == "repo:octo-org/demo:environment:pypi"
    assert claims["job_workflow_ref"] == (
        "octo-org/demo/.github/workflows/release.yml@refs/tags/v1.0.0"
    )
    assert claims["workflow_ref"] == claims["job_workflow_ref"]
    assert claims["repository_owner"] == "octo-org" and claims["ref_type"] == "tag"
    for claim in [
        "jti",
        "repository",
        "repository_owner_id",
        "repository_id",
        "ref",
        "sha",
        "environment",
        "event_name",
        "run_id",
        "run_attempt",
        "actor",
        "runner_environment",
    ]:
        assert claims[claim], claim
    assert token in sb.issued_jwts
    assert id_token(sb) != token  # a new jti every time


def test_token_endpoint_requires_the_request_bearer(sb: Sandbox) -> None:
    url = sb.oidc_request_url + "&audience=pypi"
    assert session().get(url).status_code == 401
    assert session().get(url, headers={"Authorization": "bearer nope"}).status_code == 401
    ok = session().get(url, headers={"Authorization": f"Bearer {sb.oidc_request_token}"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    # Without an audience GitHub uses the URL of the repository owner.
    claims = jwt.decode(id_token(sb, audience=None), options={"verify_signature": False})
    assert claims["aud"] == "https://github.com/octo-org"


def test_identity_without_environment_and_on_a_branch(sb: Sandbox) -> None:
    sb.identity = Identity(environment=None, ref="refs/heads/main", repository="Octo/Lib")
    claims = jwt.decode(id_token(sb), options={"verify_signature": False})
    assert "environment" not in claims
    assert claims["sub"] == "repo:Octo/Lib:ref:refs/heads/main"
    assert claims["ref_type"] == "branch"
    assert claims["job_workflow_ref"] == "Octo/Lib/.github/workflows/release.yml@refs/heads/main"


# --------------------------------------------------------------------------------------
# PyPI: audience and mint


def test_audience_on_disabled_absent(sb: Sandbox) -> None:
    url = f"{sb.base_url}/_/oidc/audience"
    assert session().get(url).json() == {"audience": "pypi"}
    sb.trusted_publishing = "disabled"
    resp = session().get(url)
    assert resp.status_code == 403
    assert resp.json() == {"message": "Trusted publishing functionality not enabled"}
    assert mint_error(mint(sb)) == (
        "not-enabled",
        "github trusted publishing functionality not enabled",
    )
    sb.trusted_publishing = "absent"
    assert session().get(url).status_code == 404
    assert mint(sb).status_code == 404


def test_mint_success_then_reuse_is_refused(sb: Sandbox) -> None:
    token = id_token(sb)
    before = int(time.time())
    resp = mint(sb, token)
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True and body["token"].startswith("pypi-")
    assert before + 900 <= body["expires"] <= int(time.time()) + 900
    assert sb.minted_tokens == [body["token"]]
    assert mint_error(mint(sb, token)) == ("invalid-reuse-token", "invalid token: already used")
    assert [r.code for r in sb.mint_requests] == [None, "invalid-reuse-token"]
    assert [r.status for r in sb.mint_requests] == [200, 422]


def test_mint_invalid_payload(sb: Sandbox) -> None:
    url = f"{sb.base_url}/_/oidc/mint-token"
    for payload in (b"not json", b"{}", b'{"token": 1}'):
        code, description = mint_error(session().post(url, data=payload))
        assert code == "invalid-payload" and "TokenPayload" in description
    assert mint_error(mint(sb, "not.a.jwt")) == ("invalid-payload", "malformed JWT")
    stranger = sb.sign_jwt({"iss": "https://token.actions.githubusercontent.com", "aud": "pypi"})
    assert mint_error(mint(sb, stranger)) == (
        "invalid-payload",
        "unknown trusted publishing issuer",
    )


@pytest.mark.parametrize(
    "case",
    ["bad-signature", "expired", "wrong-audience", "not-yet-valid", "missing-exp"],
)
def test_mint_invalid_token(sb: Sandbox, case: str) -> None:
    if case == "bad-signature":
        claims = sb.identity.claims(issuer=sb.issuer, audience="pypi")
        token = sb.sign_jwt(claims, foreign_key=True)
    elif case == "expired":
        sb.identity = Identity(issued_at_offset=-1000)
        token = id_token(sb)
    elif case == "wrong-audience":
        token = id_token(sb, audience="sigstore")
    elif case == "not-yet-valid":
        sb.identity = Identity(issued_at_offset=600)
        token = id_token(sb)
    else:
        claims = sb.identity.claims(issuer=sb.issuer, audience="pypi")
        del claims["exp"]
        token = sb.sign_jwt(claims)
    assert mint_error(mint(sb, token)) == ("invalid-token", "malformed or invalid token")


NOT_FOUND = (
    "valid token, but no corresponding publisher (Publisher with matching claims was not found)"
)


@pytest.mark.parametrize(
    ("identity", "publishers", "description"),
    [
        pytest.param(Identity(repository="octo-org/other"), None, NOT_FOUND, id="other-repository"),
        pytest.param(Identity(repository_owner_id="999"), None, NOT_FOUND, id="owner-id"),
        pytest.param(Identity(workflow="ci.yml"), None, NOT_FOUND, id="other-workflow"),
        pytest.param(
            Identity(environment="staging"),
            [RegisteredPublisher("octo-org/demo", "release.yml", environment="pypi")],
            NOT_FOUND,
            id="environment-mismatch",
        ),
        pytest.param(
            Identity(environment=None),
            [RegisteredPublisher("octo-org/demo", "release.yml", environment="pypi")],
            NOT_FOUND,
            id="environment-missing",
        ),
        pytest.param(
            Identity(job_workflow_ref="shared/tools/.github/workflows/release.yml@refs/heads/main"),
            None,
            "valid token, but no corresponding publisher (The job_workflow_ref claim does not "
            "match, expecting one of ['octo-org/demo/.github/workflows/release.yml@"
            "3f786850e387550fdab836ed7e6dc881de23001b', 'octo-org/demo/.github/workflows/"
            "release.yml@refs/tags/v1.0.0'], got 'shared/tools/.github/workflows/release.yml"
            "@refs/heads/main')",
            id="reusable-workflow",
        ),
        pytest.param(
            Identity(event_name="pull_request_target"),
            None,
            "valid token, but no corresponding publisher (Publishing from a workflow invoked "
            "via 'pull_request_target' is not supported.)",
            id="pull-request-target",
        ),
        pytest.param(
            Identity(
                ref="", sha="", job_workflow_ref="octo-org/demo/.github/workflows/release.yml@"
            ),
            None,
            "valid token, but no corresponding publisher (The ref and sha claims are empty)",
            id="no-ref-no-sha",
        ),
        pytest.param(
            Identity(ref=None),
            None,
            "valid token, but no corresponding publisher (Missing claim 'ref')",
            id="ref-claim-missing",
        ),
    ],
)
def test_mint_invalid_publisher(
    sb: Sandbox,
    identity: Identity,
    publishers: Optional[list[RegisteredPublisher]],
    description: str,
) -> None:
    if publishers is not None:
        sb.publishers = publishers
    sb.identity = identity
    assert mint_error(mint(sb)) == ("invalid-publisher", description)


def test_tls_and_burn_token(tmp_path: Path) -> None:
    # The burn-token endpoint answers as PyPI's (see test_sandbox_after_upload.py).
    with Sandbox(tls=True, users={"alice": "s3cret"}) as sandbox:
        assert sandbox.ca_bundle is not None
        with pytest.raises(requests.exceptions.SSLError):
            session().get(f"{sandbox.base_url}/_/oidc/audience")
        trusted = session()
        trusted.verify = str(sandbox.ca_bundle)
        token = trusted.get(
            sandbox.oidc_request_url + "&audience=pypi",
            headers={"Authorization": f"bearer {sandbox.oidc_request_token}"},
        ).json()["value"]
        minted = trusted.post(f"{sandbox.base_url}/_/oidc/mint-token", json={"token": token})
        api = minted.json()["token"]
        burn = trusted.post(f"{sandbox.base_url}/_/oidc/burn-token", json={"token": api})
        assert burn.status_code == 202 and sandbox.burned_tokens == [api]
        # A burnt token no longer authenticates; the endpoint answers 202 for unknown ones too.
        assert trusted.post(f"{sandbox.base_url}/_/oidc/burn-token", json={"token": api}).ok
        wheel = make_wheel(tmp_path, "demo")
        fields = upload_fields(wheel)
        body, content_type = encode_multipart(fields, wheel.name, wheel.read_bytes())
        resp = trusted.post(
            sandbox.repository_url,
            data=body,
            headers={"Content-Type": content_type},
            auth=("__token__", api),
        )
        assert resp.status_code == 403


def test_publisher_matching_rules(sb: Sandbox) -> None:
    sb.publishers = [
        RegisteredPublisher("octo-org/demo", "release.yml"),
        RegisteredPublisher("octo-org/demo", "release.yml", environment="PyPI"),
    ]
    # The environment-bound publisher is preferred; its environment compares without case.
    sb.identity = Identity(environment="pypi")
    assert mint(sb).status_code == 200
    assert sb.mint_requests[-1].publisher == "octo-org/demo:release.yml:pypi"
    sb.identity = Identity(environment="testpypi")
    assert mint(sb).status_code == 200
    assert sb.mint_requests[-1].publisher == "octo-org/demo:release.yml"


@pytest.mark.parametrize(
    "identity",
    [
        pytest.param(Identity(repository="Octo-Org/demo"), id="owner"),
        pytest.param(Identity(repository="octo-org/Demo"), id="repository-name"),
        pytest.param(Identity(workflow="Release.yml"), id="workflow"),
    ],
)
def test_owner_repository_and_workflow_are_matched_exactly_case_included(
    sb: Sandbox, identity: Identity
) -> None:
    # warehouse/oidc/models/github.py: lookup_by_claims filters with SQL `=` on the names
    # as registered, so a publisher typed `demo` never matches GitHub's `Demo`.
    sb.publishers = [RegisteredPublisher("octo-org/demo", "release.yml")]
    sb.identity = identity
    assert mint_error(mint(sb)) == ("invalid-publisher", NOT_FOUND)


def test_an_owner_typed_in_another_case_is_stored_as_github_spells_the_login(
    sb: Sandbox,
) -> None:
    # warehouse/oidc/forms/github.py, validate_owner: the form asks GitHub's API about the
    # owner typed and stores the login it answers, so `Octo-Org` for `octo-org` matches.
    sb.publishers = [RegisteredPublisher("Octo-Org/demo", "release.yml")]
    assert [p.repository for p in sb.publishers] == ["octo-org/demo"]
    assert mint(sb).status_code == 200
    assert sb.mint_requests[-1].publisher == "octo-org/demo:release.yml"


def test_the_repository_owner_claim_is_compared_exactly(sb: Sandbox) -> None:
    sb.identity = Identity(extra_claims={"repository_owner": "Octo-Org"})
    assert mint_error(mint(sb)) == (
        "invalid-publisher",
        "valid token, but no corresponding publisher "
        "(Check failed for required claim 'repository_owner')",
    )


@pytest.mark.parametrize(
    "sub",
    [
        "repo:octo-org/demo:environment:pypi:job_workflow_ref:x",  # customized template
        "repository_owner_id:1342004:repository_id:582394051:environment:pypi",
        "",
    ],
)
def test_the_sub_claim_is_not_checked(sb: Sandbox, sub: str) -> None:
    # An organization may customize its subject template; PyPI lists `sub` among the
    # claims it does not check.
    sb.identity = Identity(extra_claims={"sub": sub})
    assert mint(sb).status_code == 200


def test_pending_publisher_creates_project_once(sb: Sandbox, tmp_path: Path) -> None:
    sb.publishers = [
        RegisteredPublisher("octo-org/demo", "release.yml", projects={"demo"}, pending=True)
    ]
    assert "demo" not in sb.projects()
    auth = api_token(sb)
    assert sb.projects() == ["demo"]
    assert not sb.publishers[0].pending  # reified: a normal publisher from now on
    assert mint(sb).status_code == 200

    # The same pending publisher registered again, now that the project exists.
    sb.publishers = [
        RegisteredPublisher("octo-org/demo", "release.yml", projects={"demo"}, pending=True)
    ]
    assert mint_error(mint(sb)) == (
        "invalid-pending-publisher",
        "valid token, but project already exists",
    )

    # The token of the pending publisher is scoped to its project only.
    other = make_wheel(tmp_path, "other")
    resp = upload(sb, other, auth, name="other")
    assert resp.status_code == 400
    assert resp.reason.startswith("Non-user identities cannot create new projects. ")
    assert len(sb.files("other")) == 0


# --------------------------------------------------------------------------------------
# PyPI: uploads


def test_upload_wheel_and_sdist_with_a_minted_token(sb: Sandbox, tmp_path: Path) -> None:
    auth = api_token(sb)
    wheel = make_wheel(tmp_path, "demo")
    sdist = make_sdist(tmp_path, "demo")
    resp = upload(sb, wheel, auth)
    assert resp.status_code == 200, resp.reason
    assert upload(sb, sdist, auth).status_code == 200

    files = sb.files("Demo")
    assert [f.filename for f in files] == [wheel.name, sdist.name]
    stored = files[0]
    data = wheel.read_bytes()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert stored.md5 == hashlib.md5(data).hexdigest()  # noqa: S324 (what PyPI records)
    assert stored.size == len(data) and stored.packagetype == "bdist_wheel"
    assert stored.version == "1.0.0" and files[1].packagetype == "sdist"
    assert stored.form == upload_fields(wheel)  # every field, in the order sent
    assert [a.status for a in sb.upload_attempts] == [200, 200]
    assert sb.upload_attempts[0].bytes_received > len(data)
    assert sb.upload_attempts[0].identity == "token"

    # The identical file again: 200, nothing changes.
    assert upload(sb, wheel, auth).status_code == 200
    assert len(sb.files("demo")) == 2
    # Same name, other bytes: refused with PyPI's text.
    other = wheel.read_bytes() + b"\0"
    blake = hashlib.blake2b(other, digest_size=32).hexdigest()
    resp = upload(sb, wheel, auth, data=other)
    assert resp.status_code == 400
    assert resp.text == (
        f"File already exists ('{wheel.name}', with blake2_256 hash '{blake}'). "
        "See https://pypi.org/help/#file-name-reuse for more information."
    )
    assert resp.reason == resp.text


def test_upload_answers_json_when_asked(sb: Sandbox, tmp_path: Path) -> None:
    resp = upload(
        sb, make_wheel(tmp_path, "demo"), ("alice", "wrong"), headers={"Accept": "application/json"}
    )
    assert resp.status_code == 403
    message = (
        "Invalid or non-existent authentication information. "
        "See https://pypi.org/help/#invalid-auth for more information."
    )
    assert resp.json() == {"message": message, "code": f"403 {message}", "title": "Forbidden"}


def _upload_case(sb: Sandbox, tmp_path: Path, case: str) -> tuple[requests.Response, str]:
    wheel = make_wheel(tmp_path, "demo")
    core = "See https://packaging.python.org/specifications/core-metadata for more information."
    if case == "no-auth":
        return upload(sb, wheel, ("", "")), (
            "Invalid or non-existent authentication information. "
            "See https://pypi.org/help/#invalid-auth for more information."
        )
    if case == "unknown-token":
        return upload(sb, wheel, ("__token__", "pypi-nope")), (
            "Invalid or non-existent authentication information. "
            "See https://pypi.org/help/#invalid-auth for more information."
        )
    if case == "expired-token":
        sb.token_lifetime = 0
        return upload(sb, wheel, api_token(sb)), "Invalid API Token: token is expired"
    if case == "token-other-project":
        sb.publishers = [
            RegisteredPublisher("octo-org/demo", "release.yml", "pypi", projects={"demo"})
        ]
        sb.create_project("other")
        other = make_wheel(tmp_path, "other")
        return upload(sb, other, api_token(sb), name="other"), (
            "Invalid API Token: OIDC scoped token is not valid for project 'other', "
            "project-scoped token is not valid for project: 'other'"
        )
    if case == "no-action":
        return upload(sb, wheel, fields={":action": None}), "The resource could not be found."
    if case == "protocol-version":
        return upload(sb, wheel, protocol_version="2"), "Unknown protocol version."
    if case == "metadata-version":
        return upload(sb, wheel, metadata_version="3.0"), (
            f"'3.0' is not a valid metadata version. {core}"
        )
    if case == "metadata-version-2.6":
        return upload(sb, wheel, metadata_version="2.6"), (
            f"'2.6' is not a valid metadata version. {core}"
        )
    if case == "bad-name":
        return upload(sb, wheel, name="-demo"), (
            "'-demo' is an invalid value for Name. Error: Start and end with a letter or "
            f"numeral containing only ASCII numeric and '.', '_' and '-'. {core}"
        )
    if case == "bad-version":
        return upload(sb, wheel, version="one"), f"'one' is invalid for 'version'. {core}"
    if case == "local-version":
        local = make_wheel(tmp_path, "demo", "1.0.0+abc")
        # legacy.py `file_upload` points a local version at the version specifiers instead.
        return upload(sb, local, version="1.0.0+abc"), (
            "The use of local versions in '1.0.0+abc' is not allowed. See https://packaging."
            "python.org/en/latest/specifications/version-specifiers/#local-version-identifiers"
            " for more information."
        )
    if case == "filetype":
        return upload(sb, wheel, filetype="bdist_egg"), (
            "Invalid value for filetype. Error: Use a known file type."
        )
    if case == "no-digest":
        return upload(sb, wheel, sha256_digest=None, blake2_256_digest=None), (
            "Error: Include at least one message digest."
        )
    if case == "digest-mismatch":
        return upload(sb, wheel, sha256_digest="0" * 64), (
            "The digest supplied does not match a digest calculated from the uploaded file."
        )
    if case == "too-large":
        sb.max_file_size = 1024 * 1024
        return upload(sb, wheel, data=os.urandom(1024 * 1024 + 10)), (
            "File too large. Limit for project 'demo' is 1 MB. See https://docs.pypi.org/"
            "project-management/storage-limits#requesting-a-file-size-limit-increase "
            "for more information."
        )
    if case == "sdist-not-pep625":
        sdist = make_sdist(tmp_path, "demo", filename="Demo-1.0.0.tar.gz")
        return upload(sb, sdist), (
            "Filename 'Demo-1.0.0.tar.gz' is invalid, should be 'demo-1.0.0.tar.gz'."
        )
    if case == "sdist-zip":
        sdist = make_sdist(tmp_path, "demo", filename="demo-1.0.0.zip")
        return upload(sb, sdist), (
            "Filename 'demo-1.0.0.zip' is invalid, should be 'demo-1.0.0.tar.gz'."
        )
    if case == "wheel-not-normalized":
        odd = make_wheel(tmp_path, "Demo")
        return upload(sb, odd), (
            "Filename 'Demo-1.0.0-py3-none-any.whl' should contain the normalized project "
            "name 'demo', not 'Demo'."
        )
    if case == "wheel-version-mismatch":
        return upload(sb, wheel, version="1.0.1"), (
            "Version in filename should be '1.0.1' not '1.0.0'."
        )
    if case == "wheel-name-mismatch":
        return upload(sb, wheel, name="demo-two"), "Start filename for 'demo-two' with 'demo_two'."
    if case == "unsupported-platform":
        linux = wheel.with_name("demo-1.0.0-cp312-cp312-linux_x86_64.whl")
        wheel.rename(linux)
        return upload(sb, linux), (
            "Binary wheel 'demo-1.0.0-cp312-cp312-linux_x86_64.whl' has an unsupported "
            "platform tag 'linux_x86_64'."
        )
    if case == "no-record":
        bare = make_wheel(tmp_path, "demo", omit=["RECORD"])
        return upload(sb, bare), (
            "Wheel 'demo-1.0.0-py3-none-any.whl' does not contain the required RECORD file: "
            "demo-1.0.0.dist-info/RECORD"
        )
    if case == "not-a-zip":
        return upload(
            sb, wheel, data=b"not a zip"
        ), "Invalid distribution file. File is not a zipfile"
    if case == "metadata-disagrees":
        liar = make_wheel(tmp_path, "demo", metadata=metadata_text("demo", "9.9"))
        return upload(sb, liar), (
            "The metadata in 'demo-1.0.0-py3-none-any.whl' (name 'demo', version '9.9') "
            "does not match the upload form (name 'demo', version '1.0.0')."
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "no-auth",
        "unknown-token",
        "expired-token",
        "token-other-project",
        "no-action",
        "protocol-version",
        "metadata-version",
        "metadata-version-2.6",
        "bad-name",
        "bad-version",
        "local-version",
        "filetype",
        "no-digest",
        "digest-mismatch",
        "too-large",
        "sdist-not-pep625",
        "sdist-zip",
        "wheel-not-normalized",
        "wheel-version-mismatch",
        "wheel-name-mismatch",
        "unsupported-platform",
        "no-record",
        "not-a-zip",
        "metadata-disagrees",
    ],
)
def test_upload_refusals(sb: Sandbox, tmp_path: Path, case: str) -> None:
    resp, message = _upload_case(sb, tmp_path, case)
    expected_status = {
        "no-auth": 403,
        "unknown-token": 403,
        "expired-token": 403,
        "token-other-project": 403,
        "no-action": 404,
    }.get(case, 400)
    assert (resp.status_code, resp.text) == (expected_status, message)
    assert resp.reason == message
    assert sb.files("demo") == [] and sb.files("other") == []
    (attempt,) = sb.upload_attempts
    assert (attempt.status, attempt.message) == (expected_status, message)
    assert attempt.bytes_received > 0


def test_release_rules_second_sdist_old_release_deleted_file(sb: Sandbox, tmp_path: Path) -> None:
    assert upload(sb, make_sdist(tmp_path, "demo")).status_code == 200
    zipped = make_sdist(tmp_path, "demo", filename="demo-1.0.0.zip")
    resp = upload(sb, zipped)
    assert (resp.status_code, resp.text) == (400, "Only one sdist may be uploaded per release.")

    sb.release_age_days("demo", "1.0.0", 15)
    resp = upload(sb, make_wheel(tmp_path, "demo"))
    assert (resp.status_code, resp.text) == (
        400,
        "Uploading new files to releases older than 14 days is not allowed.",
    )

    wheel = make_wheel(tmp_path, "demo", "2.0.0")
    assert upload(sb, wheel, version="2.0.0").status_code == 200
    sb.delete_file(wheel.name)
    resp = upload(sb, wheel, version="2.0.0")
    assert resp.status_code == 400
    assert resp.text.startswith("This filename was previously used by a file that has since")


def test_legacy_without_slash_redirects_and_length_is_required(sb: Sandbox, tmp_path: Path) -> None:
    resp = upload(sb, make_wheel(tmp_path, "demo"), url=f"{sb.base_url}/legacy")
    assert resp.status_code == 308 and resp.headers["Location"] == "/legacy/"
    chunked = session().post(sb.repository_url, data=iter([b"x"]), auth=("alice", "s3cret"))
    assert chunked.status_code == 411
    assert sb.files("demo") == []


def test_fail_next_answers_after_reading_the_body(sb: Sandbox, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo")
    sb.fail_next("/legacy/", [503, 502], retry_after=3)
    first = upload(sb, wheel)
    assert first.status_code == 503 and first.headers["Retry-After"] == "3"
    assert upload(sb, wheel).status_code == 502
    assert upload(sb, wheel).status_code == 200
    attempts = sb.upload_attempts
    assert [a.status for a in attempts] == [503, 502, 200]
    assert attempts[0].filename == wheel.name and attempts[0].project == "demo"
    assert attempts[0].bytes_received == attempts[2].bytes_received
    sb.fail_next("/_/oidc/mint-token", [500])
    assert mint(sb).status_code == 500
    assert mint(sb).status_code == 200


def test_large_streamed_upload(sb: Sandbox, tmp_path: Path) -> None:
    """Twenty MiB through the streaming parser, in a part that spans many chunks."""
    wheel = make_wheel(tmp_path, "demo")
    payload = os.urandom(20 * 1024 * 1024)
    with zipfile.ZipFile(wheel, "a") as zfp:
        zfp.writestr("demo/blob.bin", payload, compress_type=zipfile.ZIP_STORED)
    resp = upload(sb, wheel)
    assert resp.status_code == 200, resp.reason
    assert sb.files("demo")[0].sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_multipart_parser_byte_by_byte() -> None:
    fields = [("name", "d\u00e9mo"), ("empty", ""), ("crlf", "a\r\nb\r\n--c")]
    body, content_type = encode_multipart(fields, "x.whl", b"\r\n--\r\n" * 50)
    boundary = content_type.split("boundary=")[1].encode()
    seen: dict[str, bytearray] = {}

    class Sink:
        def __init__(self, key: str) -> None:
            self.key = key
            seen[key] = bytearray()

        def write(self, data: bytes) -> None:
            seen[self.key] += data

        def close(self) -> None:
            pass

    def open_part(headers: PartHeaders) -> Sink:
        return Sink(f"{headers.name}:{headers.filename}")

    parser = MultipartParser(boundary, open_part)
    for i in range(len(body)):
        parser.feed(body[i : i + 1])
    parser.close()
    assert seen == {
        "name:None": bytearray("d\u00e9mo".encode()),
        "empty:None": bytearray(),
        "crlf:None": bytearray(b"a\r\nb\r\n--c"),
        "content:x.whl": bytearray(b"\r\n--\r\n" * 50),
    }


# --------------------------------------------------------------------------------------
# PyPI: reading the index


def installable(version: str) -> str:
    """The METADATA of a demo-pkg that pip installs alone (no requirements)."""
    return metadata_text("demo-pkg", version, requires_dist=())


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox holding demo-pkg 1.0.0 (wheel + sdist) and 2.0.0rc1 (wheel)."""
    directory = tmp_path_factory.mktemp("dists")
    with Sandbox(users={"alice": "s3cret"}) as sandbox:
        for path, version in (
            (make_wheel(directory, "demo_pkg", metadata=installable("1.0.0")), "1.0.0"),
            (make_sdist(directory, "demo_pkg", metadata=installable("1.0.0")), "1.0.0"),
            (
                make_wheel(directory, "demo_pkg", "2.0.0rc1", metadata=installable("2.0.0rc1")),
                "2.0.0rc1",
            ),
        ):
            resp = upload(
                sandbox, path, name="demo-pkg", version=version, requires_python=">=3.8,<4"
            )
            assert resp.status_code == 200, resp.reason
        yield sandbox


def test_simple_index_html_and_json(published: Sandbox) -> None:
    sess = session()
    root = sess.get(published.index_url)
    assert root.status_code == 200 and 'href="/simple/demo-pkg/"' in root.text

    page = sess.get(f"{published.index_url}demo-pkg/")
    assert page.headers["Content-Type"].startswith("text/html")
    wheel = published.files("demo-pkg")[0]
    assert f"{wheel.url_path}#sha256={wheel.sha256}" in page.text
    # PyPI stores the parsed specifier set, which sorts its parts.
    assert 'data-requires-python="&lt;4,&gt;=3.8"' in page.text
    assert f'data-core-metadata="sha256={wheel.metadata_sha256}"' in page.text

    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    doc = sess.get(f"{published.index_url}demo-pkg/", headers=accept)
    assert doc.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    data = doc.json()
    assert data["name"] == "demo-pkg" and data["versions"] == ["1.0.0", "2.0.0rc1"]
    first = data["files"][0]
    assert first["hashes"] == {"sha256": wheel.sha256} and first["requires-python"] == "<4,>=3.8"
    assert sess.get(first["url"]).content == wheel.path.read_bytes()
    assert sess.get(first["url"] + ".metadata").content == installable("1.0.0").encode()

    moved = sess.get(f"{published.index_url}Demo_Pkg/", allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == "/simple/demo-pkg/"
    assert sess.get(f"{published.index_url}nothing-here/").status_code == 404


def test_json_api(published: Sandbox) -> None:
    sess = session()
    doc = sess.get(f"{published.base_url}/pypi/demo-pkg/json").json()
    assert doc["info"]["name"] == "demo-pkg" and doc["info"]["version"] == "1.0.0"
    assert doc["info"]["project_urls"] == {"Source": "https://github.com/octo-org/demo"}
    assert sorted(doc["releases"]) == ["1.0.0", "2.0.0rc1"]
    urls = {u["filename"]: u for u in doc["urls"]}
    sdist = urls["demo_pkg-1.0.0.tar.gz"]
    assert sdist["packagetype"] == "sdist" and set(sdist["digests"]) == {
        "sha256",
        "blake2b_256",
        "md5",
    }
    assert sdist["size"] == published.files("demo-pkg")[1].size
    version_doc = sess.get(f"{published.base_url}/pypi/demo-pkg/2.0.0rc1/json").json()
    assert version_doc["info"]["version"] == "2.0.0rc1" and len(version_doc["urls"]) == 1
    assert sess.get(f"{published.base_url}/pypi/nope/json").status_code == 404
    moved = sess.get(f"{published.base_url}/pypi/Demo.Pkg/json", allow_redirects=False)
    assert moved.headers["Location"] == "/pypi/demo-pkg/json"


def test_pip_installs_from_the_sandbox(published: Sandbox, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--no-cache-dir",
            "--index-url",
            published.index_url,
            "demo-pkg",
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = subprocess.run(
        [str(python), "-c", "import demo_pkg; print(demo_pkg.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1.0.0"  # the pre-release is not picked


# --------------------------------------------------------------------------------------
# real clients


def test_twine_uploads_with_a_minted_token(sb: Sandbox, tmp_path: Path) -> None:
    twine = Path(sys.executable).with_name("twine")
    if not twine.exists():
        pytest.skip("twine is not installed next to this interpreter")
    wheel = make_wheel(tmp_path, "demo")
    sdist = make_sdist(tmp_path, "demo")
    user, password = api_token(sb)
    result = subprocess.run(
        [
            str(twine),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            sb.repository_url,
            "-u",
            user,
            "-p",
            password,
            str(wheel),
            str(sdist),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert password not in result.stdout + result.stderr
    stored = {f.filename: dict(f.form) for f in sb.files("demo")}
    assert set(stored) == {wheel.name, sdist.name}
    assert stored[wheel.name]["sha256_digest"] == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_uv_publishes_with_trusted_publishing_over_tls(tmp_path: Path) -> None:
    """uv runs the whole exchange (GitHub token, audience, mint, upload, burn).

    uv (like twine) only speaks HTTPS to the trusted-publishing endpoints, hence TLS.
    """
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not installed next to this interpreter")
    wheel = make_wheel(tmp_path, "demo")
    sdist = make_sdist(tmp_path, "demo")
    # uv burns the token when the index has the endpoint (PyPI has, and so does the sandbox).
    with Sandbox(tls=True) as sandbox:
        assert sandbox.base_url.startswith("https://") and sandbox.ca_bundle is not None
        env = child_env()
        env.update(sandbox.env())
        env.update(
            GITHUB_ACTIONS="true",
            SSL_CERT_FILE=str(sandbox.ca_bundle),
            UV_NO_CACHE="1",
        )
        result = subprocess.run(
            [
                str(uv),
                "publish",
                "--publish-url",
                sandbox.repository_url,
                "--trusted-publishing",
                "always",
                str(wheel),
                str(sdist),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert [r.status for r in sandbox.mint_requests] == [200]
        assert sandbox.burned_tokens == sandbox.minted_tokens
        assert {f.filename for f in sandbox.files("demo")} == {wheel.name, sdist.name}
        # uv registers the minted token with the runner's log masking, and prints it
        # nowhere else.
        output = "\n".join(
            line
            for line in (result.stdout + result.stderr).splitlines()
            if not line.startswith("::add-mask::")
        )
        for secret in sandbox.issued_jwts + sandbox.minted_tokens:
            assert secret not in output


STANDALONE = [sys.executable, "-m", "trusted_publish_sandbox"]
# The client's command runs the standalone one as a child process and passes SIGTERM on.
THROUGH_THE_CLIENT = [sys.executable, "-m", "trusted_publish", "sandbox"]


@pytest.mark.parametrize("command", [STANDALONE, THROUGH_THE_CLIENT], ids=["standalone", "client"])
def test_cli_prints_the_environment_and_stops_on_sigterm(command: list[str]) -> None:
    proc, values, base, _lines = start_cli(command)
    try:
        assert values["TRUSTED_PUBLISH_REPOSITORY_URL"] == f"{base}/legacy/"
        token = session().get(
            values["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=pypi",
            headers={"Authorization": f"bearer {values['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
        )
        minted = session().post(
            f"{base}/_/oidc/mint-token", data=json.dumps({"token": token.json()["value"]})
        )
        assert minted.status_code == 200, minted.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        with pytest.raises(requests.ConnectionError):
            session().get(f"{base}/simple/", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_client_command_stops_the_sandbox_on_ctrl_c_with_130() -> None:
    # Only the client's process gets SIGINT here (a terminal would signal both): it must
    # end the child itself rather than leave a sandbox running.
    proc, _values, base, _lines = start_cli(THROUGH_THE_CLIENT)
    try:
        assert session().get(f"{base}/simple/", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        with pytest.raises(requests.ConnectionError):
            session().get(f"{base}/simple/", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_client_command_shows_the_sandbox_help() -> None:
    result = subprocess.run(
        [*THROUGH_THE_CLIENT, "--help"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m trusted_publish_sandbox")
    assert "--publisher OWNER/REPO:WORKFLOW.yml[:ENV]" in result.stdout
