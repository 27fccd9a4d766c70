"""The action's inputs (and the CLI's flags, which mirror them one to one), validated once.

The action passes every input through `env:` as `TRUSTED_PUBLISH_<NAME>`; a CLI flag wins
over its variable. An empty variable means "not given": that is what GitHub passes for an
input the workflow did not set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from trusted_publish.credentials.gitlab import valid_variable_name
from trusted_publish.errors import InputError
from trusted_publish.http.policy import TOKEN_USER
from trusted_publish.index.target import (
    PYPI_UPLOAD_URL,
    Index,
    PypiLike,
    simple_url,
    upload_url,
)

ENV_PREFIX = "TRUSTED_PUBLISH_"


def input_name(field: str) -> str:
    """The action input (and CLI flag, without dashes) that sets a model field."""
    return field.replace("_", "-")


def env_name(field: str) -> str:
    """The environment variable the action uses to pass a model field."""
    return ENV_PREFIX + field.upper()


class Inputs(BaseModel):
    """Everything a run is told by its caller. Immutable once validated."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    repository_url: str = PYPI_UPLOAD_URL
    """The index's upload URL. PyPI's is the default; TestPyPI's is
    https://test.pypi.org/legacy/. Must be https:// (http:// only to a loopback address)."""

    packages_dir: Path = Path("dist")
    """The folder holding the wheels and sdists to upload, relative to the workspace. Its
    sub-folders are searched too (an artifact download makes one per artifact); other files
    are skipped with a notice, and a file name found twice is refused. A folder, not a glob
    pattern."""

    user: str = TOKEN_USER
    """User name for an upload with `password`. Leave it at `__token__` for trusted publishing
    and for API tokens; only an index that takes real passwords needs another name."""

    password: Optional[SecretStr] = None
    """An API token (or password) from a secret, e.g. `secrets.PYPI_API_TOKEN`. Leave it empty
    for trusted publishing (OIDC), which needs `permissions: id-token: write` on the job and
    no secret at all."""

    skip_existing: bool = False
    """Also skip a file the index has under the same name when its hash can't be compared, so
    that a release that was only partly published can be re-run. A file the index has byte
    for byte is always skipped; one with other contents always stops the run."""

    verify_metadata: bool = True
    """Check every distribution's metadata before the first upload: each core-metadata field
    and, on PyPI and TestPyPI, PyPI's own rules (among them: the README renders). A bad file
    stops the run with nothing published. File names and the fields the upload needs are
    checked either way."""

    verbose: bool = False
    """Print debug lines (never a credential)."""

    print_hash: bool = False
    """Print each file's SHA-256, BLAKE2b-256 and MD5 digests before the first upload."""

    dry_run: bool = False
    """Do everything but upload: check the files, exchange the OIDC token (which proves the
    index's trusted-publisher configuration), ask which files the index has, and report
    what would be uploaded."""

    max_parallel: int = Field(default=4, ge=1, le=32)
    """How many files upload at once (1 to 32). The first file of each release always goes
    alone, since it creates the release; 1 uploads one file at a time."""

    max_retries: int = Field(default=5, ge=0, le=20)
    """How often one file is retried (0 to 20) after a connection error, a timeout, a 5xx or
    a 429 answer, with back-off."""

    retry_timeout: float = Field(default=600.0, ge=0, le=3600)
    """Seconds after a file's first attempt past which no retry starts; an upload's wait for
    the index's answer ends there too (but lasts at least `request-timeout`). Also bounds the
    retries of the token exchange."""

    request_timeout: float = Field(default=60.0, gt=0, le=600)
    """Seconds one request may take in all, from connecting to the last byte of the answer
    (the OIDC token, the token exchange, asking the index which files it has; an upload's
    wait for its answer). A server that answers slowly, byte by byte, is cut off there."""

    index_url: Optional[str] = None
    """The index's simple API (PEP 503/691), asked which files it already has. Empty means
    derived from `repository-url`; PyPI and TestPyPI are asked through their JSON API."""

    verify: bool = True
    """After the last upload, ask the index for each release's files and check that it serves
    every file with our SHA-256 (waiting a little for a cache), and read back the provenance
    of attested files. A file it does not serve as sent fails the run; `false` skips it."""

    attestations: Optional[bool] = None
    """Sign every file with the workflow's Sigstore identity and upload its PEP 740
    attestation (signed provenance, shown on PyPI). Empty (the default, automatic): made
    with trusted publishing to PyPI or TestPyPI, skipped with one notice elsewhere. `true`:
    made with trusted publishing to any index (it must take them), an error with a
    `password`. `false`: never. An existing `<file>.publish.attestation` is checked and
    uploaded instead of signing again."""

    trusted_publishing_provider: Literal["auto", "github", "gitlab", "google"] = "auto"
    """Where the trusted-publishing OIDC token comes from: `auto` (the default) detects the
    CI (GitHub Actions, GitLab CI/CD, Google Cloud); `github`, `gitlab` or `google` names
    it."""

    gitlab_id_token_variable: Optional[str] = None
    """GitLab CI/CD: the variable holding the job's ID token for the index, declared under
    `id_tokens:`. Empty: named after the index's audience, as twine and uv look for it
    (`PYPI_ID_TOKEN`, `TESTPYPI_ID_TOKEN`)."""

    pypi_like: PypiLike = "auto"
    """Whether the index answers as PyPI does: PyPI's upload rules checked before the first
    byte, its JSON API asked which files it has (and for the read-back), its Integrity API
    for provenance. `auto` (the default): PyPI and TestPyPI. `true`: any index (the sandbox,
    a proxy in front of PyPI). `false`: none. Attestations stay automatic for PyPI and
    TestPyPI only."""

    @field_validator("trusted_publishing_provider", "pypi_like", mode="before")
    @classmethod
    def _provider_any_case(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return str(value).lower()
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("gitlab_id_token_variable")
    @classmethod
    def _variable_name(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip()
        if not valid_variable_name(value):
            raise ValueError(
                f"{value!r} is not a variable name (letters, digits and _, not starting "
                "with a digit)"
            )
        return value

    @field_validator(
        "skip_existing",
        "verify_metadata",
        "verbose",
        "print_hash",
        "dry_run",
        "verify",
        mode="before",
    )
    @classmethod
    def _github_boolean(cls, value: Any) -> bool:
        return _github_boolean(value)

    @field_validator("attestations", mode="before")
    @classmethod
    def _github_tristate(cls, value: Any) -> Optional[bool]:
        # Empty means "not given", i.e. automatic: that is what the action passes by default.
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _github_boolean(value)

    @field_validator("retry_timeout", mode="before")
    @classmethod
    def _a_number_of_seconds(cls, value: Any) -> Any:
        # float("nan") and float("inf") parse, and nan would slip past every bound.
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value  # pydantic names the problem
        if math.isnan(number):
            raise ValueError(f"must be a number of seconds, and {value!r} is not a number")
        if math.isinf(number):
            raise ValueError(f"must be a finite number of seconds, not {value!r}")
        return value

    @field_validator("repository_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        return upload_url(value)

    @field_validator("index_url")
    @classmethod
    def _usable_index_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else simple_url(value)

    @field_validator("user")
    @classmethod
    def _nonempty_user(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"must not be empty (use {TOKEN_USER!r} with a token)")
        return value.strip()

    @model_validator(mode="after")
    def _basic_auth_can_carry(self) -> Inputs:
        # requests sends the user and password of Basic auth encoded as Latin-1
        # (requests.auth._basic_auth_str): any other character raises UnicodeEncodeError
        # deep inside the first request. Said here, before any request; the message names
        # no character of the password.
        if self.password is None:
            return self
        outside = [c for c in self.user if not _latin1(c)]
        if outside:
            raise ValueError(
                f"`user` {self.user!r} holds {outside[0]!r}, which HTTP Basic authentication "
                "can't carry: the user and password are sent encoded as Latin-1 "
                "(ISO-8859-1). Use a user name in Latin-1"
            )
        if not _latin1(self.password.get_secret_value()):
            raise ValueError(
                "`password` holds a character HTTP Basic authentication can't carry: the "
                "password is sent encoded as Latin-1 (ISO-8859-1), which has no `€` and no "
                "letters outside the Latin alphabet. Use a token or password made of Latin-1 "
                "characters (an API token always is)"
            )
        return self

    @model_validator(mode="after")
    def _password_for_user(self) -> Inputs:
        if self.user != TOKEN_USER and self.password is None:
            raise ValueError(
                f"user {self.user!r} needs a password; leave `user` at {TOKEN_USER!r} for "
                "trusted publishing"
            )
        if self.password is not None and self.index.pypi_deployment:
            # PyPI stopped accepting account passwords for uploads; both mistakes below
            # would otherwise surface as a bare 403 after the first file's bytes.
            if self.user != TOKEN_USER:
                raise ValueError(
                    "PyPI does not accept account passwords for uploads. Remove `user` and "
                    "`password` to use trusted publishing (recommended), or keep `user` at "
                    "__token__ and pass an API token (pypi-...) as `password`"
                )
            if not self.password.get_secret_value().startswith("pypi-"):
                raise ValueError(
                    "`password` does not look like a PyPI API token (they start with "
                    "'pypi-'); check the secret's value, or remove `password` to use trusted "
                    "publishing"
                )
        if self.attestations is True and self.password is not None:
            # Asked for explicitly, so silently publishing without them would be a surprise:
            # the index verifies each attestation against the trusted publisher's identity,
            # which a password upload does not have.
            raise ValueError(
                "`attestations: true` needs trusted publishing, and a `password` is set: an "
                "index accepts attestations only from a trusted publisher. Remove `password` "
                "(and `user`) to publish with trusted publishing, or remove `attestations` "
                "(or set it to false) to publish with the password and without attestations"
            )
        return self

    @property
    def index(self) -> Index:
        """The index `repository-url`, `index-url` and `pypi-like` describe."""
        return Index.from_urls(self.repository_url, self.index_url, self.pypi_like)

    @property
    def trusted_publishing(self) -> bool:
        """No password given: the credential comes from the OIDC exchange."""
        return self.password is None


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _github_boolean(value: Any) -> bool:
    # GitHub inputs are strings; YAML's `true` arrives as "true". Anything else ("yes", "1")
    # is more likely a typo than a wish, so it is refused rather than guessed at.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"must be 'true' or 'false' (any case), got {value!r}")


def load_inputs(flags: Mapping[str, Any], env: Mapping[str, str]) -> Inputs:
    """Merge environment and flags (flags win) and validate; `InputError` names every problem."""
    values: dict[str, Any] = {}
    for field in Inputs.model_fields:
        raw = env.get(env_name(field), "")
        if raw != "":
            values[field] = raw
        flag = flags.get(field)
        if flag is not None:
            values[field] = flag
    if values.get("password") == "":
        del values["password"]
    try:
        return Inputs(**values)
    except ValidationError as exc:
        raise InputError(
            "Some inputs have values that can't be used:",
            details=[_describe(err) for err in exc.errors(include_input=False)],
            fix="Correct the inputs named above in the workflow's `with:` block "
            "(or the matching --flags on the command line).",
        ) from None


def _describe(err: Mapping[str, Any]) -> str:
    loc = err.get("loc") or ()
    msg = str(err.get("msg", "invalid value"))
    # pydantic prefixes messages from our validators; the prefix tells the user nothing.
    msg = msg.removeprefix("Value error, ")
    if not loc:
        return msg
    field = str(loc[0])
    return f"`{input_name(field)}` (env {env_name(field)}): {msg}"
