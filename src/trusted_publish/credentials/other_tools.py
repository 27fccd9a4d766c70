"""Settings where twine and uv users keep them: their variables and `~/.pypirc`.

`TWINE_USERNAME`, `TWINE_PASSWORD`, `TWINE_REPOSITORY_URL`, `TWINE_REPOSITORY` and
`UV_PUBLISH_USERNAME`, `UV_PUBLISH_PASSWORD`, `UV_PUBLISH_TOKEN`, `UV_PUBLISH_URL` fill in
what our own settings (flags, `TRUSTED_PUBLISH_*`) leave unsaid: ours always win. A
repository name (`-r testpypi`, `TWINE_REPOSITORY`) is looked up as twine looks it up
(twine/utils.py, `get_config` and `get_repository_from_config`): `pypi` and `testpypi` are
built in, other names are sections of `~/.pypirc` (or `--config-file`) listed under
`[distutils] index-servers`. A section's credentials are used only when trusted publishing
is not: `--trusted-publishing never`, or `auto` where no CI announces an OIDC token. Each
source used is said in one line, by its variable's name (never its value). Nothing here
touches the network.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from trusted_publish.errors import InputError
from trusted_publish.http.policy import TOKEN_USER
from trusted_publish.index.target import PYPI_UPLOAD_URL, TESTPYPI_UPLOAD_URL

#: `--trusted-publishing`, as uv spells it (`automatic` is uv's word for `auto`).
Mode = Literal["auto", "always", "never"]
MODES = ("auto", "always", "never")

#: The variables of twine and uv that may hold a secret: masked as soon as they are read.
SECRET_VARIABLES = ("TWINE_PASSWORD", "UV_PUBLISH_PASSWORD", "UV_PUBLISH_TOKEN")
#: ... and those that hold a URL (a query string may carry a token).
URL_VARIABLES = ("TWINE_REPOSITORY_URL", "UV_PUBLISH_URL")

#: A .pypirc is a few lines; a bigger file is not one.
_PYPIRC_CAP = 1024 * 1024
_SECTION_KEYS = ("username", "password", "repository")


@dataclass
class Borrowed:
    """What the other tools' settings add to ours: values for `Inputs` fields, what to say."""

    values: dict[str, str] = field(default_factory=dict)
    """`repository_url`, `user`, `password`: only those our own settings left unsaid."""
    said: list[str] = field(default_factory=list)
    """One line per source used (names of variables and files, never values)."""
    secrets: list[tuple[str, str]] = field(default_factory=list)
    """(password, user) pairs read from a file, to mask before anything prints."""


def read_pypirc(path: Path, *, required: bool) -> dict[str, dict[str, Optional[str]]]:
    """The repositories a .pypirc describes, as twine's `get_config` reads them: `pypi` (and
    `testpypi` when listed, or when no index-servers are) built in, every listed section's
    username, password and repository; `[server-login]` as everyone's default credentials.
    A missing file is an empty one unless `required`; `InputError` for one that can't be read.
    """
    parser = configparser.RawConfigParser()
    try:
        with path.open("rb") as f:
            data = f.read(_PYPIRC_CAP + 1)
        if len(data) > _PYPIRC_CAP:
            raise InputError(f"{path} is not a .pypirc: it is over 1 MiB.")
        parser.read_string(data.decode("utf-8"), source=str(path))
    except FileNotFoundError:
        if required:
            raise InputError(
                f"The config file {path} does not exist.",
                fix="Give `--config-file` the path of your .pypirc, or leave it out.",
            ) from None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise InputError(
            f"The config file {path} can't be read: {type(exc).__name__}.",
            fix="Fix the file (https://packaging.python.org/specifications/pypirc/), or "
            "give the index with `--repository-url`.",
        ) from None
    defaults = {
        "username": parser.get("server-login", "username", fallback=None),
        "password": parser.get("server-login", "password", fallback=None),
    }
    servers = parser.get("distutils", "index-servers", fallback="pypi testpypi").split()
    config: dict[str, dict[str, Optional[str]]] = {"pypi": {**defaults}}
    config["pypi"]["repository"] = PYPI_UPLOAD_URL
    if "testpypi" in servers:
        config["testpypi"] = {**defaults, "repository": TESTPYPI_UPLOAD_URL}
    for name in servers:
        section = config.setdefault(name, {**defaults})
        for key in _SECTION_KEYS:
            if parser.has_option(name, key):
                section[key] = parser.get(name, key)
    return config


def borrow_index(
    flags: Mapping[str, object],
    env: Mapping[str, str],
    *,
    repository: Optional[str],
    config_file: Optional[Path],
    out: Optional[Borrowed] = None,
) -> tuple[Borrowed, Optional[str]]:
    """The index from `-r` or twine's and uv's variables, when ours leave it unsaid; and the
    repository name whose .pypirc section may hold credentials (twine reads `pypi`'s when no
    index is named at all; None once the index is given by URL)."""
    out = out if out is not None else Borrowed()
    pypirc = _pypirc(env, config_file)
    if repository and flags.get("repository_url"):
        raise InputError(
            "`--repository` and `--repository-url` both name the index.",
            fix="Give one of them: a name (pypi, testpypi, a .pypirc section) or the URL.",
        )
    if repository:
        out.values["repository_url"] = _repository_url(repository, pypirc, config_file)
        out.said.append(f"Index: {_named(repository, pypirc)}.")
        return out, repository
    if flags.get("repository_url") or env.get("TRUSTED_PUBLISH_REPOSITORY_URL"):
        return out, None
    for variable in ("TWINE_REPOSITORY_URL", "UV_PUBLISH_URL"):
        if env.get(variable, "").strip():
            out.values["repository_url"] = env[variable].strip()
            out.said.append(f"Index: from {variable} (our own setting is not given).")
            return out, None
    name = env.get("TWINE_REPOSITORY", "").strip()
    if name:
        out.values["repository_url"] = _repository_url(name, pypirc, config_file)
        out.said.append(f"Index: TWINE_REPOSITORY, {_named(name, pypirc)}.")
        return out, name
    return out, "pypi"


def borrow_credentials(
    flags: Mapping[str, object],
    env: Mapping[str, str],
    *,
    name: Optional[str],
    config_file: Optional[Path],
    mode: Mode,
    oidc_announced: bool,
) -> Borrowed:
    """Fill in the credentials from twine's and uv's places, ours winning.

    `flags` are the parsed `Inputs` flags (`user`, `password`); `name`: the repository whose
    .pypirc section may hold them (from `borrow_index`); `oidc_announced`: a CI's OIDC token
    can be expected (see `providers.announced`).
    """
    out = Borrowed()
    ours_secret = bool(flags.get("password") or env.get("TRUSTED_PUBLISH_PASSWORD", "") != "")
    if mode == "always":
        if ours_secret:
            raise InputError(
                "`--trusted-publishing always`, and a password (or token) is given.",
                fix="Remove the password to publish with trusted publishing, or use "
                "`--trusted-publishing auto` to publish with it.",
            )
        unused = [v for v in SECRET_VARIABLES if env.get(v, "")]
        if unused:
            out.said.append(f"Not using {' and '.join(unused)}: `--trusted-publishing always`.")
        return out
    if ours_secret:
        return out
    found = _from_variables(env)
    if found is not None:
        user, password, names = found
        out.values.update(user=user, password=password)
        out.said.append(f"Credentials: {names} (our own settings are not given).")
        return out
    if name is not None and (mode == "never" or not oidc_announced):
        pypirc = _pypirc(env, config_file)
        section = _section(name, pypirc, required=config_file is not None) or {}
        saved = section.get("password")
        if saved:
            user = section.get("username") or TOKEN_USER
            out.values.update(user=user, password=saved)
            out.secrets.append((saved, user))
            out.said.append(f"Credentials: the [{name}] section of {pypirc}.")
            return out
    if mode == "never":
        raise InputError(
            "`--trusted-publishing never`, and no password or token is given.",
            fix="Pass an API token with `-t` (or TRUSTED_PUBLISH_PASSWORD, TWINE_PASSWORD, "
            "UV_PUBLISH_TOKEN, or a .pypirc section), or use trusted publishing.",
        )
    return out


def _pypirc(env: Mapping[str, str], config_file: Optional[Path]) -> Path:
    if config_file is not None:
        return config_file
    return (Path(env["HOME"]) if env.get("HOME") else Path.home()) / ".pypirc"


def _from_variables(env: Mapping[str, str]) -> Optional[tuple[str, str, str]]:
    """(user, password, the variables' names) from twine's, else uv's variables."""
    if env.get("TWINE_PASSWORD", ""):
        user = env.get("TWINE_USERNAME", "").strip() or TOKEN_USER
        names = (
            "TWINE_USERNAME and TWINE_PASSWORD" if env.get("TWINE_USERNAME") else ("TWINE_PASSWORD")
        )
        return user, env["TWINE_PASSWORD"], names
    if env.get("UV_PUBLISH_TOKEN", ""):
        return TOKEN_USER, env["UV_PUBLISH_TOKEN"], "UV_PUBLISH_TOKEN"
    if env.get("UV_PUBLISH_PASSWORD", ""):
        user = env.get("UV_PUBLISH_USERNAME", "").strip() or TOKEN_USER
        names = (
            "UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD"
            if env.get("UV_PUBLISH_USERNAME")
            else "UV_PUBLISH_PASSWORD"
        )
        return user, env["UV_PUBLISH_PASSWORD"], names
    return None


def _section(name: str, pypirc: Path, *, required: bool) -> Optional[dict[str, Optional[str]]]:
    return read_pypirc(pypirc, required=required).get(name)


def _repository_url(name: str, pypirc: Path, config_file: Optional[Path]) -> str:
    section = _section(name, pypirc, required=config_file is not None)
    if section is None:
        raise InputError(
            f"No repository named {name!r}: pypi and testpypi are built in, and {pypirc} "
            "lists no such section under `[distutils] index-servers`.",
            fix="Use `-r pypi`, `-r testpypi` or a section of your .pypirc "
            "(https://packaging.python.org/specifications/pypirc/), or `--repository-url`.",
        )
    url = section.get("repository")
    if not url:
        raise InputError(
            f"The [{name}] section of {pypirc} has no `repository =` URL.",
            fix=f"Add `repository = <upload URL>` to [{name}], or use `--repository-url`.",
        )
    return url


def _named(name: str, pypirc: Path) -> str:
    if name in ("pypi", "testpypi"):
        return f"{name} (built in, or as {pypirc} sets it)"
    return f"the [{name}] section of {pypirc}"
