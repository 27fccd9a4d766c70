"""Input validation: every bad value is refused with the input's name and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from trusted_publish.errors import InputError
from trusted_publish.inputs import PYPI_UPLOAD_URL, load_inputs


def test_defaults_are_pypi_dist_and_trusted_publishing() -> None:
    inputs = load_inputs({}, {})
    assert inputs.repository_url == PYPI_UPLOAD_URL
    assert inputs.packages_dir == Path("dist")
    assert inputs.user == "__token__"
    assert inputs.trusted_publishing
    assert inputs.verify_metadata and not inputs.skip_existing


@pytest.mark.parametrize("spelling", ["true", "TRUE", "True", " true "])
def test_github_boolean_spellings_are_accepted(spelling: str) -> None:
    assert load_inputs({}, {"TRUSTED_PUBLISH_SKIP_EXISTING": spelling}).skip_existing


@pytest.mark.parametrize("spelling", ["yes", "1", "on", "ture"])
def test_unknown_boolean_spelling_names_the_input_and_the_accepted_values(spelling: str) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs({}, {"TRUSTED_PUBLISH_VERBOSE": spelling})
    text = exc.value.render()
    assert "`verbose`" in text
    assert "'true' or 'false'" in text
    assert repr(spelling) in text


def test_flags_win_over_environment() -> None:
    env = {"TRUSTED_PUBLISH_PACKAGES_DIR": "from-env", "TRUSTED_PUBLISH_VERBOSE": "false"}
    inputs = load_inputs({"packages_dir": "from-flag", "verbose": "true"}, env)
    assert inputs.packages_dir == Path("from-flag")
    assert inputs.verbose


def test_empty_variables_mean_not_given() -> None:
    # GitHub passes "" for an input the workflow did not set.
    env = {"TRUSTED_PUBLISH_REPOSITORY_URL": "", "TRUSTED_PUBLISH_PASSWORD": ""}
    inputs = load_inputs({}, env)
    assert inputs.repository_url == PYPI_UPLOAD_URL
    assert inputs.trusted_publishing


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/legacy/", "https://"),
        ("http://example.org/legacy/", "loopback"),
        ("https://user:pw@example.org/legacy/", "user name or password"),
        ("https:///legacy/", "no host"),
        ("https://example.org:notaport/", "not a valid URL"),
    ],
)
def test_unusable_repository_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs({"repository_url": url}, {})
    assert "`repository-url`" in exc.value.render()
    assert reason in exc.value.render()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.9.10"])
def test_plain_http_is_allowed_to_loopback(host: str) -> None:
    url = f"http://{host}:8080/legacy/"
    assert load_inputs({"repository_url": url}, {}).repository_url == url


def test_legacy_without_slash_is_completed_rather_than_redirected() -> None:
    url = load_inputs({"repository_url": "https://test.pypi.org/legacy"}, {}).repository_url
    assert url == "https://test.pypi.org/legacy/"


def test_a_user_other_than_token_needs_a_password() -> None:
    with pytest.raises(InputError) as exc:
        load_inputs({"user": "alice"}, {})
    assert "needs a password" in exc.value.render()


def test_all_problems_are_listed_at_once() -> None:
    with pytest.raises(InputError) as exc:
        load_inputs({"verbose": "maybe", "repository_url": "ftp://x/"}, {})
    assert len(exc.value.details) == 2


def test_the_password_never_shows_in_the_model_repr() -> None:
    inputs = load_inputs({"password": "pypi-very-secret"}, {})
    assert "pypi-very-secret" not in repr(inputs)
    assert "pypi-very-secret" not in str(inputs)


@pytest.mark.parametrize("field", ["repository_url", "index_url"])
def test_a_refused_url_is_shown_without_the_credentials_it_carries(field: str) -> None:
    url = "https://__token__:pypi-SECRETVALUE@upload.example.org/legacy/?key=QUERYSECRET"
    with pytest.raises(InputError) as exc:
        load_inputs({field: url}, {})
    text = exc.value.render()
    assert "user name or password" in text
    assert "https://upload.example.org/legacy/" in text  # the user still sees which URL
    assert "SECRETVALUE" not in text
    assert "QUERYSECRET" not in text
