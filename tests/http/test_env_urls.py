"""URLs from the environment and the inputs are read as the HTTP client reads them (issue 18,
defect 5): the host we check is the host urllib3 connects to, or the URL is refused.

`GCE_METADATA_HOST=IP:PORT\\@127.0.0.1` reads as 127.0.0.1 to `urllib.parse`, while requests
connects to IP. Driven through the real CLI, and fuzzed: for any string, a URL check either
refuses it with a reason or lets through a URL whose real host passes the rules.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st
from urllib3.util import parse_url

from support.capture import CaptureServer
from support.fuzz import any_text, env_text, host_like
from support.runs import Run, assert_no_secret
from trusted_publish.cli import main
from trusted_publish.credentials import google
from trusted_publish.errors import CredentialError, InputError
from trusted_publish.http.policy import check_url, is_loopback_host
from trusted_publish.inputs import Inputs, env_name, load_inputs
from trusted_publish_sandbox import Sandbox

#: Every test here runs as on a machine that is not Google Cloud.
pytestmark = pytest.mark.usefixtures("not_on_google_cloud")


def connects_to(url: str) -> tuple[str, str, object]:
    """(scheme, host, user info) of the connection requests opens for `url`."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    parsed = parse_url(prepared.url)
    return (parsed.scheme or "", (parsed.host or "").strip("[]").lower(), parsed.auth)


def test_a_metadata_host_that_reads_local_but_connects_elsewhere_is_refused(
    sandbox: Sandbox, dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # urllib.parse reads the host after the `@` (Google's metadata address); requests
    # connects to the one before the backslash: here a server that records what it gets.
    with CaptureServer() as elsewhere:
        value = f"127.0.0.1:{elsewhere.port}\\@169.254.169.254"
        capsys.readouterr()
        code = main(
            [],
            env={
                "TRUSTED_PUBLISH_REPOSITORY_URL": sandbox.repository_url,
                "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
                "GCE_METADATA_HOST": value,
            },
        )
        out, err = capsys.readouterr()
        assert elsewhere.requests == []
    assert_no_secret(sandbox, Run(code, out, err).text)
    assert code == 4
    assert "GCE_METADATA_HOST names" in err
    assert "it holds a backslash, which URL parsers read differently" in err
    assert sandbox.mint_requests == []


@pytest.mark.parametrize(
    "value",
    [
        "evil.example:80\\@127.0.0.1",
        "evil.example\\@metadata.google.internal",
        "user:pw@127.0.0.1:8080",
        "127.0.0.1:80?x=",
        "127.0.0.1:80#",
        "127.0.0.1 .evil.example",
    ],
)
def test_a_metadata_host_the_parsers_disagree_on_is_refused(value: str) -> None:
    with pytest.raises(CredentialError, match="GCE_METADATA_HOST names"):
        google.identity_url({"GCE_METADATA_HOST": value})


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example:80\\@127.0.0.1/legacy/",
        "http://evil.example\\@localhost/legacy/",
        "https://upload.pypi.org\\@evil.example/legacy/",
    ],
)
def test_a_repository_url_with_a_backslash_is_refused(url: str) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs({"repository_url": url}, {})
    assert "it holds a backslash, which URL parsers read differently" in exc.value.render()


def test_the_runners_token_url_follows_the_same_rules(
    dist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CaptureServer() as elsewhere:
        capsys.readouterr()
        code = main(
            [],
            env={
                "GITHUB_ACTIONS": "true",
                "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
                "ACTIONS_ID_TOKEN_REQUEST_URL": (
                    f"http://127.0.0.1:{elsewhere.port}\\@127.0.0.2/token?api-version=2.0"
                ),
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-bearer-0123456789",
            },
        )
        out, _ = capsys.readouterr()
        assert elsewhere.requests == []
    assert code == 4
    assert "ACTIONS_ID_TOKEN_REQUEST_URL can't be used: it holds a backslash" in out
    shown = [line for line in out.split("\n") if not line.startswith("::add-mask::")]
    assert "runner-bearer-0123456789" not in "\n".join(shown)


# --- fuzzed ----------------------------------------------------------------------------------

any_url = st.one_of(
    any_text,
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["http://", "https://", "HTTP://", "http:/", "http:\\\\", "ftp://", ""]),
        host_like,
        st.one_of(st.just("/legacy/"), any_text),
    ),
)


@pytest.mark.fuzz
@given(url=any_url)
# Found by `make fuzz`: requests percent-encodes `"` in a host as it rebuilds the URL.
@example(url='HTTPS://"')
@example(url="http://10.0.0.1:80\\@127.0.0.1/legacy/")
def test_any_url_is_refused_or_leads_where_the_rules_allow(url: str) -> None:
    problem = check_url(url)
    if problem is not None:
        assert isinstance(problem, str) and problem
        return
    scheme, host, auth = connects_to(url)
    assert scheme in ("http", "https")
    assert host and auth is None
    if scheme == "http":
        assert is_loopback_host(host)
    # Our own code reads the URL with urllib.parse: it must see the same host.
    assert (urlsplit(url).hostname or "").lower() == host


@pytest.mark.fuzz
@given(value=st.one_of(env_text, host_like, st.builds("{}\\@{}".format, host_like, host_like)))
def test_any_metadata_host_is_refused_or_is_the_metadata_server_or_loopback(value: str) -> None:
    try:
        url = google.identity_url({"GCE_METADATA_HOST": value})
    except CredentialError as exc:
        assert "GCE_METADATA_HOST names" in exc.render()
        return
    scheme, host, auth = connects_to(url)
    assert scheme == "http" and auth is None
    assert host in ("metadata.google.internal", "metadata", "169.254.169.254") or (
        is_loopback_host(host)
    )
    assert urlsplit(url).path.endswith(google.IDENTITY_PATH)
    assert not urlsplit(url).query and not urlsplit(url).fragment


@pytest.mark.fuzz
@given(
    values=st.dictionaries(
        st.sampled_from(sorted(Inputs.model_fields)),
        st.one_of(
            env_text,
            host_like,
            st.sampled_from(["true", "FALSE", " True ", "1e400", "nan", "-0", "4", "0x10"]),
            st.sampled_from(["http://127.0.0.1:1/legacy/", "https://test.pypi.org/legacy/"]),
        ),
    )
)
def test_any_environment_is_a_named_input_error_or_valid_inputs(values: dict[str, str]) -> None:
    env = {env_name(field): value for field, value in values.items()}
    try:
        inputs = load_inputs({}, env)
    except InputError as exc:
        assert exc.render()
        return
    # What the run reads next from the inputs can't fail either.
    assert inputs.index.upload_url
    assert check_url(inputs.index.upload_url) is None
    for url in inputs.index.simple_urls:
        assert check_url(url) is None
