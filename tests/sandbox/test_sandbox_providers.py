"""The sandbox's GitLab and Google issuers, and PyPI's matching of their publishers.

Driven over loopback with `requests` like tests/sandbox/test_sandbox.py: tokens from the sandbox's
issuers (their own keys), verified with their JWKS, exchanged at `/_/oidc/mint-token`, and
refused with warehouse's texts (warehouse/oidc/models/gitlab.py and google.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any, Optional

import jwt
import pytest
import requests

from trusted_publish_sandbox import (
    GitLabIdentity,
    GitLabPublisher,
    GoogleIdentity,
    GooglePublisher,
    Sandbox,
)
from trusted_publish_sandbox.cli import parse_publisher
from trusted_publish_sandbox.google import METADATA_IDENTITY_PATH

NO_PUBLISHER = "valid token, but no corresponding publisher ({})"
NOT_FOUND = NO_PUBLISHER.format("Publisher with matching claims was not found")


def session() -> requests.Session:
    sess = requests.Session()
    sess.trust_env = False
    return sess


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def mint(sb: Sandbox, token: str) -> requests.Response:
    return session().post(f"{sb.base_url}/_/oidc/mint-token", json={"token": token})


def refusal(resp: requests.Response) -> tuple[str, str]:
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    return error["code"], error["description"]


def verified(sb: Sandbox, token: str, issuer: str) -> dict[str, Any]:
    config = session().get(f"{issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == issuer
    jwks = session().get(config["jwks_uri"]).json()
    [key] = jwks["keys"]
    claims: dict[str, Any] = jwt.decode(
        token, key=jwt.PyJWK(key), algorithms=["RS256"], audience="pypi", issuer=issuer
    )
    return claims


# --- the issuers -------------------------------------------------------------------------------


def test_each_ci_has_its_own_issuer_and_key(sb: Sandbox) -> None:
    gitlab_token = sb.gitlab_id_token("pypi")
    google_token = sb.google_id_token("pypi")
    assert verified(sb, gitlab_token, sb.gitlab_issuer)["project_path"] == "octo-group/demo"
    assert verified(sb, google_token, sb.google_issuer)["email_verified"] is True
    kids = {jwt.get_unverified_header(t)["kid"] for t in (gitlab_token, google_token)}
    assert len(kids | {sb.key.kid}) == 3
    with pytest.raises(jwt.InvalidSignatureError):
        # GitLab's key does not vouch for Google's tokens.
        jwks = session().get(f"{sb.gitlab_issuer}/.well-known/jwks").json()
        jwt.decode(
            google_token, key=jwt.PyJWK(jwks["keys"][0]), algorithms=["RS256"], audience="pypi"
        )


def test_gitlabs_claims_are_shaped_like_gitlab_coms(sb: Sandbox) -> None:
    claims = jwt.decode(sb.gitlab_id_token(), options={"verify_signature": False})
    host = sb.gitlab_issuer.split("://", 1)[1]
    assert claims["ci_config_ref_uri"] == (
        f"{host}/octo-group/demo//.gitlab-ci.yml@refs/tags/v1.0.0"
    )
    assert claims["sub"] == "project_path:octo-group/demo:ref_type:tag:ref:v1.0.0"
    assert claims["ref_path"] == "refs/tags/v1.0.0" and claims["environment"] == "pypi"
    assert claims["namespace_path"] == "octo-group" and isinstance(claims["runner_id"], int)
    no_env = GitLabIdentity(environment=None, ref="main", ref_type="branch")
    sb.gitlab_identity = no_env
    claims = jwt.decode(sb.gitlab_id_token(), options={"verify_signature": False})
    assert "environment" not in claims and "deployment_tier" not in claims
    assert claims["ref_path"] == "refs/heads/main"


def test_the_metadata_server_wants_its_header_and_an_audience(sb: Sandbox) -> None:
    url = f"http://{sb.metadata_host}{METADATA_IDENTITY_PATH}"
    assert session().get(url, params={"audience": "pypi"}).status_code == 403
    flavor = {"Metadata-Flavor": "Google"}
    assert session().get(url, headers=flavor).status_code == 400
    resp = session().get(url, params={"audience": "pypi", "format": "full"}, headers=flavor)
    assert resp.status_code == 200
    assert verified(sb, resp.text, sb.google_issuer)["email"] == GoogleIdentity().email
    assert resp.text in sb.issued_jwts


# --- GitLab publishers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "publisher", "code", "description"),
    [
        pytest.param(GitLabIdentity(), None, None, None, id="default-matches"),
        pytest.param(
            GitLabIdentity(project_path="Octo-Group/DEMO"),
            GitLabPublisher("octo-group/demo", ".gitlab-ci.yml"),
            "invalid-publisher",
            None,  # found without case, refused by ci_config_ref_uri
            id="project-case",
        ),
        pytest.param(
            GitLabIdentity(ci_config_path="CI.yml"),
            GitLabPublisher("octo-group/demo", "ci.yml"),
            "invalid-publisher",
            NOT_FOUND,
            id="pipeline-path-case",
        ),
        pytest.param(
            GitLabIdentity(environment="pypi"),
            GitLabPublisher("octo-group/demo", ".gitlab-ci.yml", "PyPI"),
            "invalid-publisher",
            NOT_FOUND,
            id="environment-exact",
        ),
        pytest.param(
            GitLabIdentity(environment=None),
            GitLabPublisher("octo-group/demo", ".gitlab-ci.yml", "pypi"),
            "invalid-publisher",
            NOT_FOUND,
            id="environment-missing",
        ),
        pytest.param(
            GitLabIdentity(sub="project_path:octo-group/other:ref_type:tag:ref:v1.0.0"),
            None,
            "invalid-publisher",
            NO_PUBLISHER.format("Check failed for required claim 'sub'"),
            id="sub-other-project",
        ),
        pytest.param(
            GitLabIdentity(sub="project_path:OCTO-GROUP/demo:custom:x"),
            None,
            None,
            None,
            id="sub-customized-and-case",
        ),
        pytest.param(
            GitLabIdentity(extra_claims={"ref_path": None}),
            None,
            "invalid-publisher",
            NO_PUBLISHER.format("Missing claim 'ref_path'"),
            id="missing-ref-path",
        ),
        pytest.param(
            GitLabIdentity(ci_config_ref_uri="gitlab.example.com/octo-group/demo//x.txt@main"),
            None,
            "invalid-publisher",
            NO_PUBLISHER.format("Could not extract workflow filename from OIDC claims"),
            id="no-pipeline-file",
        ),
        pytest.param(
            GitLabIdentity(),
            GitLabPublisher("octo-group/demo", ".gitlab-ci.yml", issuer_url="https://gitlab.com"),
            "invalid-publisher",
            NOT_FOUND,
            id="publisher-of-another-instance",
        ),
    ],
)
def test_gitlab_matching(
    sb: Sandbox,
    identity: GitLabIdentity,
    publisher: Optional[GitLabPublisher],
    code: Optional[str],
    description: Optional[str],
) -> None:
    if publisher is not None:
        sb.publishers = [publisher]
    sb.gitlab_identity = identity
    resp = mint(sb, sb.gitlab_id_token())
    if code is None:
        assert resp.status_code == 200, resp.text
        return
    got_code, got = refusal(resp)
    assert got_code == code
    if description is not None:
        assert got == description
    else:
        assert got.startswith(
            NO_PUBLISHER.format("The ci_config_ref_uri claim does not match, expecting one of [")[
                :-1
            ]
        )
        assert "/octo-group/demo//.gitlab-ci.yml@refs/tags/v1.0.0" in got
        assert got.endswith("/Octo-Group/DEMO//.gitlab-ci.yml@refs/tags/v1.0.0')")


def test_the_environments_own_gitlab_publisher_wins_and_a_token_is_used_once(
    sb: Sandbox,
) -> None:
    sb.publishers = [
        GitLabPublisher("octo-group/demo", ".gitlab-ci.yml"),
        GitLabPublisher("octo-group/demo", ".gitlab-ci.yml", "pypi"),
    ]
    token = sb.gitlab_id_token()
    assert mint(sb, token).status_code == 200
    assert sb.mint_requests[-1].publisher == "gitlab:octo-group/demo:.gitlab-ci.yml:pypi"
    assert refusal(mint(sb, token)) == ("invalid-reuse-token", "invalid token: already used")


def test_a_turned_off_provider_is_not_enabled_under_its_own_name(sb: Sandbox) -> None:
    sb.publishing.disabled_services = {"gitlab"}
    assert refusal(mint(sb, sb.gitlab_id_token())) == (
        "not-enabled",
        "gitlab trusted publishing functionality not enabled",
    )
    assert mint(sb, sb.google_id_token("pypi")).status_code == 200


# --- Google publishers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "publisher", "description"),
    [
        pytest.param(GoogleIdentity(), GooglePublisher(GoogleIdentity.email), None, id="any-sub"),
        pytest.param(
            GoogleIdentity(),
            GooglePublisher(GoogleIdentity.email, GoogleIdentity.sub),
            None,
            id="own-sub",
        ),
        pytest.param(
            GoogleIdentity(email="Publisher@demo-project.iam.gserviceaccount.com"),
            GooglePublisher(GoogleIdentity.email),
            NOT_FOUND,
            id="email-case",
        ),
        pytest.param(
            GoogleIdentity(), GooglePublisher(GoogleIdentity.email, "42"), NOT_FOUND, id="sub"
        ),
        pytest.param(
            GoogleIdentity(email_verified=False),
            GooglePublisher(GoogleIdentity.email),
            NO_PUBLISHER.format("Check failed for required claim 'email_verified'"),
            id="unverified",
        ),
        pytest.param(
            GoogleIdentity(extra_claims={"email": None}),
            GooglePublisher(GoogleIdentity.email),
            NO_PUBLISHER.format("Missing claim 'email'"),
            id="no-email",
        ),
    ],
)
def test_google_matching(
    sb: Sandbox, identity: GoogleIdentity, publisher: GooglePublisher, description: Optional[str]
) -> None:
    sb.publishers = [publisher]
    sb.google_identity = identity
    token = sb.google_id_token("pypi")
    resp = mint(sb, token)
    if description is None:
        assert resp.status_code == 200, resp.text
        # Google's tokens have no jti: PyPI can't tell a reuse.
        assert mint(sb, token).status_code == 200
    else:
        assert refusal(resp) == ("invalid-publisher", description)


# --- the command line --------------------------------------------------------------------------


def test_publisher_specs_of_every_kind() -> None:
    assert parse_publisher("gitlab:grp/sub/proj:ci/release.yml:pypi") == GitLabPublisher(
        "grp/sub/proj", "ci/release.yml", "pypi"
    )
    assert parse_publisher("google:a@b.iam.gserviceaccount.com:123") == GooglePublisher(
        "a@b.iam.gserviceaccount.com", "123"
    )
    for bad in ("gitlab:proj:.gitlab-ci.yml", "gitlab:grp/proj:/ci.yml", "gitlab:g/p:ci.txt"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_publisher(bad)
