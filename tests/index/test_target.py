"""The index, described once from `repository-url` and `index-url`."""

from __future__ import annotations

import pytest

from trusted_publish.index.target import Index


def test_pypi_is_known_by_its_upload_host_and_served_from_its_web_host() -> None:
    index = Index.from_urls("https://upload.pypi.org/legacy/")
    assert (index.pypi_like, index.pypi_deployment) == (True, "pypi")
    assert index.web_url == "https://pypi.org"
    assert index.release_url("Tp_Demo", "1.0") == "https://pypi.org/project/tp-demo/1.0/"
    assert index.publisher_form_url("Tp_Demo") == (
        "https://pypi.org/manage/project/tp-demo/settings/publishing/"
    )


def test_testpypi_is_pypi_too_with_its_own_web_host() -> None:
    index = Index.from_urls("https://test.pypi.org/legacy")
    assert index.upload_url == "https://test.pypi.org/legacy/"  # PyPI would redirect there
    assert (index.pypi_like, index.pypi_deployment) == (True, "testpypi")
    assert index.web_url == "https://test.pypi.org"


def test_another_index_has_no_pypi_rules_pages_or_links() -> None:
    index = Index.from_urls("https://devpi.example.org/alice/dev/")
    assert not index.pypi_like
    assert index.web_url == "https://devpi.example.org"
    assert index.release_url("x", "1") is None
    assert index.publisher_form_url("x") is None
    assert index.pending_publisher_url is None


@pytest.mark.parametrize(
    ("upload", "first_guess"),
    [
        ("https://example.org/legacy/", "https://example.org/simple/"),
        ("http://127.0.0.1:3141/alice/dev/", "http://127.0.0.1:3141/alice/dev/+simple/"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/simple/"),
    ],
    ids=["pypi-like", "devpi", "pypiserver"],
)
def test_the_simple_index_is_guessed_for_the_servers_people_run(
    upload: str, first_guess: str
) -> None:
    index = Index.from_urls(upload)
    assert index.simple_urls[0] == first_guess
    assert not index.simple_url_given


def test_a_given_index_url_is_the_only_place_asked() -> None:
    index = Index.from_urls("https://example.org/legacy/", "https://example.org/mirror/simple")
    assert index.simple_urls == ("https://example.org/mirror/simple/",)
    assert index.simple_url_given


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/", "http://example.org/legacy/", "https://user:pw@example.org/legacy/"],
)
def test_urls_that_would_expose_credentials_are_refused_without_echoing_a_secret(url: str) -> None:
    with pytest.raises(ValueError, match="can't be used") as exc:
        Index.from_urls(url)
    assert "pw" not in str(exc.value)


def test_the_name_shown_in_messages_is_sanitized() -> None:
    assert Index.from_urls("https://example.org/legacy/?token=abc#x").name == (
        "https://example.org/legacy/"
    )


def test_the_install_line_names_the_index_unless_it_is_pypi() -> None:
    pypi = Index.from_urls()
    assert pypi.pip_install("tp-demo", "1.0") == "pip install tp-demo==1.0"
    assert pypi.pip_install_note is None
    test = Index.from_urls("https://test.pypi.org/legacy/")
    assert test.pip_install("tp-demo", "1.0") == (
        "pip install --index-url https://test.pypi.org/simple/ tp-demo==1.0"
    )
    assert test.pip_install_note is not None
    assert "--extra-index-url https://pypi.org/simple/" in test.pip_install_note
    devpi = Index.from_urls("https://pkgs.example.com/alice/prod/")
    assert devpi.pip_install("tp-demo", "1.0") == (
        "pip install --index-url https://pkgs.example.com/alice/prod/+simple/ tp-demo==1.0"
    )
    given = Index.from_urls("https://pkgs.example.com/upload/", "https://pkgs.example.com/s/?t=1")
    # Sanitized: no query string (where a token could hide), no user info.
    assert given.pip_install("tp-demo", "1.0") == (
        "pip install --index-url https://pkgs.example.com/s/ tp-demo==1.0"
    )
