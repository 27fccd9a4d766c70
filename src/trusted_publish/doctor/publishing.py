"""Tell which steps publish to an index, with which tool, to which index, and which build.

One step (a GitHub `uses:`/`run:` step, a GitLab script) is looked at on its own: this
action (`<owner>/trusted-publish@…`, or `./` in trusted-publish's own repository),
`pypa/gh-action-pypi-publish`, `uv publish`, `twine upload`, or the `trusted-publish` CLI
(not its `doctor`, `check` or `sandbox` commands). The index is PyPI unless the step names
TestPyPI (`repository-url`, `--publish-url`, `-r testpypi`...) or another index's URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

TRUSTED_PUBLISH = "trusted-publish"
PYPA_ACTION = "pypa/gh-action-pypi-publish"

_PYPI_HOSTS = {"upload.pypi.org": "pypi", "pypi.org": "pypi", "test.pypi.org": "testpypi"}

_CLI = re.compile(
    r"(?:^|[\s;&|(`])(?:"
    r"(?P<uv>uv\s+publish\b)"
    r"|(?P<twine>(?:python3?\s+-m\s+)?twine\s+upload\b)"
    r"|(?P<tp>(?:python3?\s+-m\s+trusted_publish|trusted-publish)(?![\w.-])"
    r"(?!\s+(?:doctor|check|sandbox|--help|-h|--version)\b))"
    r")"
)
_URL = re.compile(r"https?://[^\s'\"`]+")
_TEST_NAME = re.compile(r"(?:-r|--repository|--index)[\s=]+['\"]?testpypi\b")
_BUILD = re.compile(
    r"(?:^|[\s;&|(])(?:python3?\s+-m\s+build\b|pyproject-build\b|uv\s+build\b|pip3?\s+wheel\b"
    r"|hatch\s+build\b|poetry\s+build\b|pdm\s+build\b|flit\s+build\b|cibuildwheel\b"
    r"|maturin\s+build\b|setup\.py\s+(?:sdist|bdist_wheel)\b)"
)
_BUILD_ACTIONS = (
    "pypa/cibuildwheel",
    "hynek/build-and-inspect-python-package",
    "pyo3/maturin-action",
)
#: Where each tool takes a password or token instead of trusted publishing.
_PASSWORD_ENV = (
    "TWINE_PASSWORD",
    "UV_PUBLISH_TOKEN",
    "UV_PUBLISH_PASSWORD",
    "TRUSTED_PUBLISH_PASSWORD",
)
_URL_ENV = ("TWINE_REPOSITORY_URL", "UV_PUBLISH_URL", "TRUSTED_PUBLISH_REPOSITORY_URL")


@dataclass(frozen=True)
class Publish:
    tool: str
    index: str
    """`pypi`, `testpypi`, or `other` (an index that is neither: no trusted publishing)."""
    token: bool
    """A password or API token is passed: this step does not use trusted publishing."""
    line: int


def index_of_url(url: str) -> str:
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return "other"
    return _PYPI_HOSTS.get(host.lower(), "other")


def _index(texts: list[str]) -> str:
    for text in texts:
        if _TEST_NAME.search(text):
            return "testpypi"
        for url in _URL.findall(text):
            found = index_of_url(url)
            if found != "pypi":
                return found
    return "pypi"


def action_name(uses: str) -> str:
    """`owner/repo` of a `uses:` value (`owner/repo/path@ref` → `owner/repo`), lower case."""
    name = uses.split("@", 1)[0].strip()
    return "/".join(name.split("/")[:2]).lower()


def from_uses(
    uses: str,
    with_: Mapping[str, str],
    env: Mapping[str, str],
    line: int,
    *,
    is_self: bool,
) -> Optional[Publish]:
    """The step `uses: <uses>` publishes: how and where; None when it does not."""
    name = action_name(uses)
    local_self = is_self and uses.strip().rstrip("/") in (".", "./.")
    if local_self or (name.endswith("/trusted-publish") and "@" in uses):
        tool = TRUSTED_PUBLISH
    elif name == PYPA_ACTION:
        tool = PYPA_ACTION
    else:
        return None
    url = with_.get("repository-url") or with_.get("repository_url") or ""
    index = index_of_url(url) if url.strip() else "pypi"
    token = bool(with_.get("password")) or any(env.get(name) for name in _PASSWORD_ENV)
    return Publish(tool, index, token, line)


def from_script(script: str, env: Mapping[str, str], line: int) -> list[Publish]:
    """Each publishing command of a shell script (one per tool found)."""
    found: list[Publish] = []
    env_urls = [env[name] for name in _URL_ENV if env.get(name)]
    token = any(env.get(name) for name in _PASSWORD_ENV)
    for command in _commands(script):
        match = _CLI.search(command)
        if match is None:
            continue
        tool = "uv publish" if match.group("uv") else "twine upload"
        if match.group("tp"):
            tool = f"{TRUSTED_PUBLISH} (CLI)"
        cmd_token = token or bool(re.search(r"\s(?:-p|--password|--token)[\s=]", command))
        found.append(Publish(tool, _index([command, *env_urls]), cmd_token, line))
    return found


def _commands(script: str) -> list[str]:
    # Continuation lines (`\` at the end) belong to the command they continue.
    return script.replace("\\\n", " ").splitlines()


def builds(script: str) -> bool:
    """The script builds distributions (in the job that publishes them, that is a warning)."""
    return any(_BUILD.search(command) for command in _commands(script))


def builds_with(uses: str) -> bool:
    return action_name(uses) in _BUILD_ACTIONS
