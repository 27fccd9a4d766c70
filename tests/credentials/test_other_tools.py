"""Where twine and uv users keep their settings (`TWINE_*`, `UV_PUBLISH_*`, `~/.pypirc`): the
boundary that reads them, fuzzed. Whatever a variable or a .pypirc holds, the result is what
to use or an `InputError` that says why, never another exception. The behaviour of each
source is tested through the real CLI in tests/test_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support.fuzz import any_text, env_text
from trusted_publish.credentials.other_tools import Borrowed, borrow_credentials, borrow_index
from trusted_publish.errors import InputError

pytestmark = pytest.mark.fuzz

#: What a .pypirc is made of, drawn more often than chance, between any text.
_PYPIRC_BITS = st.sampled_from(
    ["[distutils]\n", "index-servers =", " pypi", " testpypi", " private", "\n", "[pypi]\n",
     "[testpypi]\n", "[private]\n", "[server-login]\n", "username = ", "password = ",
     "repository = ", "https://", "__token__", "%(x)s", "=", ":", "[", "]", "\t", "\x00"]
)  # fmt: skip
_VARIABLES = st.sampled_from(
    ["TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_REPOSITORY_URL", "TWINE_REPOSITORY",
     "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD", "UV_PUBLISH_TOKEN", "UV_PUBLISH_URL",
     "TRUSTED_PUBLISH_PASSWORD", "TRUSTED_PUBLISH_REPOSITORY_URL"]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(pypirc="[distutils]\nindex-servers = private\n[private]\n", env={}, repository="x")
@example(pypirc="\x00[", env={"TWINE_REPOSITORY": "private"}, repository=None)
@given(
    pypirc=st.lists(st.one_of(_PYPIRC_BITS, any_text), max_size=25).map("".join),
    env=st.dictionaries(_VARIABLES, env_text, max_size=5),
    repository=st.one_of(st.none(), st.sampled_from(["pypi", "testpypi", "private"]), env_text),
)
def test_any_settings_of_twine_and_uv_are_used_or_refused_by_name(
    tmp_path: Path, pypirc: str, env: dict[str, str], repository: str | None
) -> None:
    config = tmp_path / ".pypirc"
    config.write_text(pypirc, encoding="utf-8", errors="surrogatepass")
    for given_file in (config, None):
        home = {"HOME": str(tmp_path), **env}
        try:
            borrowed, name = borrow_index(
                {}, home, repository=repository or None, config_file=given_file
            )
            for mode in ("auto", "always", "never"):
                try:
                    found = borrow_credentials(
                        {}, home, name=name, config_file=given_file, mode=mode,  # type: ignore[arg-type]
                        oidc_announced=False,
                    )  # fmt: skip
                except InputError:
                    continue
                assert isinstance(found, Borrowed)
                assert set(found.values) <= {"user", "password"}
        except InputError:
            continue
        assert set(borrowed.values) <= {"repository_url"}
        # What is said names sources, never a secret's value.
        for secret in (env.get("TWINE_PASSWORD"), env.get("UV_PUBLISH_TOKEN")):
            if secret and len(secret) >= 8:
                assert all(secret not in line for line in borrowed.said)
