"""Command line: start a sandbox, say who it is and how to reach it, serve until told to stop.

Standard output is a shell script: ``#`` comments say which identities and publishers the
sandbox has, and ``export NAME='value'`` lines (shell-quoted) set the environment a client
needs, so ``eval`` can load it. ``--env-file PATH`` also writes the variables as plain
``NAME=value`` lines (for ``docker --env-file``, ``$GITHUB_ENV``, dotenv). The last line,
``# sandbox ready on URL``, is what scripts wait for before they start the code under test.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Optional

from .checks import MAX_FILE_SIZE
from .core import TRUSTED_PUBLISHING_MODES, Sandbox
from .faults import UPLOAD_FAULTS
from .gitlab import GitLabIdentity
from .google import GoogleIdentity
from .oidc import Identity
from .publishing import AnyPublisher, GitLabPublisher, GooglePublisher, RegisteredPublisher

__all__ = ["is_loopback", "main", "parse_publisher"]


PUBLISHER_FORMS = (
    "OWNER/REPO:WORKFLOW.yml[:ENV]",
    "gitlab:NAMESPACE/PROJECT:PATH/.gitlab-ci.yml[:ENV]",
    "google:EMAIL[:SUB]",
)


def parse_publisher(spec: str) -> AnyPublisher:
    """One of ``PUBLISHER_FORMS`` -> that kind of publisher (open to any project)."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "gitlab":
            parts = rest.split(":")
            if len(parts) in (2, 3) and all(parts[:2]):
                env = parts[2] if len(parts) == 3 else None
                return GitLabPublisher(parts[0], parts[1], env)
        elif kind == "google":
            email, _, sub = rest.partition(":")
            if email:
                return GooglePublisher(email, sub or None)
        else:
            parts = spec.split(":")
            if len(parts) in (2, 3) and all(parts[:2]):
                env = parts[2] if len(parts) == 3 else None
                return RegisteredPublisher(parts[0], parts[1], env)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    raise argparse.ArgumentTypeError(f"expected {' or '.join(PUBLISHER_FORMS)}, got {spec!r}")


def is_loopback(host: str) -> bool:
    """`host` (a name or an address to bind) reaches this machine only."""
    name = host.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _user(spec: str) -> tuple[str, str]:
    name, sep, password = spec.partition(":")
    if not (name and sep and password) or name == "__token__":
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {spec!r}")
    return name, password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trusted_publish_sandbox",
        description="Local OIDC issuers (GitHub's token service, a GitLab instance, Google's "
        "metadata server) + PyPI with trusted publishing.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (127.0.0.1: loopback only). Another address lets other "
        "machines upload to the sandbox and ask its token services (a warning says so)",
    )
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--publisher",
        action="append",
        type=parse_publisher,
        default=[],
        metavar="OWNER/REPO:WORKFLOW.yml[:ENV]",
        help="trusted publisher (repeatable): GitHub's as shown, or "
        "gitlab:NAMESPACE/PROJECT:PATH/.gitlab-ci.yml[:ENV] or google:EMAIL[:SUB]; "
        "default: each identity's own",
    )
    parser.add_argument("--repository", default="octo-org/demo", help="identity: OWNER/REPO")
    parser.add_argument("--workflow", default="release.yml", help="identity: workflow file")
    parser.add_argument("--ref", default="refs/tags/v1.0.0", help="identity: git ref")
    parser.add_argument(
        "--environment", default="pypi", help="identity: job environment ('' for none)"
    )
    parser.add_argument("--event", default="push", help="identity: event_name")
    parser.add_argument(
        "--gitlab-project", default="octo-group/demo", help="GitLab identity: NAMESPACE/PROJECT"
    )
    parser.add_argument(
        "--gitlab-pipeline", default=".gitlab-ci.yml", help="GitLab identity: pipeline file"
    )
    parser.add_argument(
        "--google-email",
        default=GoogleIdentity.email,
        help="Google identity: the service account's email",
    )
    parser.add_argument("--token-lifetime", type=int, default=900, help="minted token seconds")
    parser.add_argument("--audience", default="pypi", help="audience PyPI announces")
    parser.add_argument(
        "--user",
        action="append",
        type=_user,
        default=[],
        metavar="NAME:PASSWORD",
        help="password account for non-OIDC uploads (repeatable)",
    )
    parser.add_argument("--storage-dir", default=None, help="keep uploaded files here")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the variables to PATH as NAME=value lines (mode 0600: it holds the "
        "token request bearer), for `docker --env-file`, $GITHUB_ENV or dotenv",
    )
    parser.add_argument(
        "--max-file-size", type=int, default=MAX_FILE_SIZE, help="upload limit in bytes"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throw-away CA (printed as SSL_CERT_FILE=...)",
    )
    parser.add_argument(
        "--trusted-publishing",
        choices=TRUSTED_PUBLISHING_MODES,
        default="on",
        help="on, disabled (403/not-enabled) or absent (404)",
    )
    parser.add_argument(
        "--no-burn-token",
        dest="burn_token",
        action="store_false",
        help="answer POST /_/oidc/burn-token with 404, as an index without it (PyPI has it)",
    )
    parser.add_argument(
        "--upload-fault",
        choices=UPLOAD_FAULTS,
        default=None,
        help="answer 200 to uploads but store nothing (drop) or other bytes (alter)",
    )
    parser.add_argument(
        "--listing-lag",
        type=float,
        default=0.0,
        help="seconds a new file stays out of the simple index, JSON API and Integrity API",
    )
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    identity = Identity(
        repository=args.repository,
        workflow=args.workflow,
        ref=args.ref,
        environment=args.environment or None,
        event_name=args.event,
    )
    if not is_loopback(args.host):
        # Said first, on stderr, where a script reading the NAME=value lines won't hide it.
        print(
            f"sandbox: WARNING: --host {args.host} is not loopback: other machines can reach "
            "this sandbox, upload to it and, with the bearers it prints, mint tokens from "
            "it. Leave --host at 127.0.0.1 unless that is what you want.",
            file=sys.stderr,
            flush=True,
        )
    try:
        sandbox = Sandbox(
            publishers=args.publisher or None,
            identity=identity,
            gitlab_identity=GitLabIdentity(
                project_path=args.gitlab_project,
                ci_config_path=args.gitlab_pipeline,
                environment=args.environment or None,
            ),
            google_identity=GoogleIdentity(email=args.google_email),
            token_lifetime=args.token_lifetime,
            host=args.host,
            port=args.port,
            audience=args.audience,
            users=dict(args.user),
            storage_dir=args.storage_dir,
            max_file_size=args.max_file_size,
            trusted_publishing=args.trusted_publishing,
            tls=args.tls,
            burn_token=args.burn_token,
            upload_fault=args.upload_fault,
            listing_lag=args.listing_lag,
        )
        sandbox.start()
    except (OSError, ValueError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, frame: Optional[FrameType]) -> None:
        sandbox.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    variables = environment(sandbox)
    if args.env_file is not None:
        try:
            write_env_file(args.env_file, variables)
        except OSError as exc:
            print(f"sandbox: cannot write {args.env_file}: {exc}", file=sys.stderr)
            sandbox.stop()
            return 1
    lines = [
        *(f"# {line}" for line in who(sandbox)),
        *(f"export {key}={shlex.quote(value)}" for key, value in variables.items()),
        f"# sandbox ready on {sandbox.base_url}",
    ]
    print("\n".join(lines), flush=True)
    sandbox.serve_forever()
    return 0


def environment(sandbox: Sandbox) -> dict[str, str]:
    """The variables a client needs, each read by something (README, "The sandbox")."""
    variables = {
        # Read by trusted-publish (and any GitHub OIDC client): the runner's token service.
        **sandbox.env(),
        # Read by trusted-publish, `check` included: the index, and PyPI's rules for it.
        "TRUSTED_PUBLISH_REPOSITORY_URL": sandbox.repository_url,
        "TRUSTED_PUBLISH_PYPI_LIKE": "true",
        # Read by a script: GitLab hands a job its ID token in a variable; this gives one
        # (GET ?audience=pypi, with the bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN) to put in
        # PYPI_ID_TOKEN.
        "GITLAB_ID_TOKEN_URL": f"{sandbox.gitlab_issuer}/token",
        # Read by trusted-publish's Google source and google-auth: the metadata server.
        **sandbox.google_env(),
    }
    if sandbox.ca_bundle is not None:
        # Read by requests (and so trusted-publish) and by Python's ssl.
        variables["SSL_CERT_FILE"] = variables["REQUESTS_CA_BUNDLE"] = str(sandbox.ca_bundle)
    return variables


def who(sandbox: Sandbox) -> list[str]:
    """Which identities the sandbox's issuers sign for, and the publishers it trusts."""
    github, gitlab, google = sandbox.identity, sandbox.gitlab_identity, sandbox.google_identity
    lines = [
        f"trusted-publish sandbox on {sandbox.base_url}",
        f"GitHub identity: repository {github.repository}, workflow {github.workflow}, "
        f"environment {github.environment or '(none)'}, ref {github.ref or '(none)'}",
        f"GitLab identity: project {gitlab.project_path}, pipeline {gitlab.ci_config_path}, "
        f"environment {gitlab.environment or '(none)'}",
        f"Google identity: service account {google.email}",
        "Trusted publishers registered:",
    ]
    lines += [f"  {describe_publisher(p)}" for p in sandbox.publishers]
    return lines


def describe_publisher(publisher: AnyPublisher) -> str:
    """One publisher as PyPI's publishing page would list it."""
    if isinstance(publisher, GitLabPublisher):
        text = f"GitLab {publisher.project_path} {publisher.workflow_filepath}"
    elif isinstance(publisher, GooglePublisher):
        text = f"Google {publisher.email}" + (f" (sub {publisher.sub})" if publisher.sub else "")
    else:
        text = f"GitHub {publisher.repository} {publisher.workflow}"
    environment = getattr(publisher, "environment", None)
    if environment:
        text += f", environment {environment}"
    projects = publisher.projects
    shown = "any project" if projects is None else ", ".join(sorted(projects))
    return f"{text} ({shown})"


def write_env_file(path: Path, variables: dict[str, str]) -> None:
    """`NAME=value` lines, readable by the owner only (the token request bearer is in it)."""
    for key, value in variables.items():
        if "\n" in value or "\r" in value:
            raise OSError(f"{key} holds a line break")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(f"{key}={value}\n" for key, value in variables.items())
