"""Command line: start a sandbox, print how to reach it, serve until told to stop.

Scripts read the ``NAME=value`` lines for their environment and wait for the line
``sandbox ready on URL`` before they start the code under test.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Optional

from .checks import MAX_FILE_SIZE
from .core import TRUSTED_PUBLISHING_MODES, Sandbox
from .faults import UPLOAD_FAULTS
from .gitlab import GitLabIdentity
from .google import GoogleIdentity
from .oidc import Identity
from .publishing import AnyPublisher, GitLabPublisher, GooglePublisher, RegisteredPublisher

__all__ = ["main", "parse_publisher"]


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
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
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

    lines = [
        *(f"{key}={value}" for key, value in sandbox.env().items()),
        f"TRUSTED_PUBLISH_REPOSITORY_URL={sandbox.repository_url}",
        f"INDEX_URL={sandbox.index_url}",
        # GitLab puts a job's ID token in a variable; a script fetches one from here
        # (with the bearer above) and sets PYPI_ID_TOKEN and GITLAB_CI=true itself.
        f"GITLAB_ID_TOKEN_URL={sandbox.gitlab_issuer}/token",
        *(f"{key}={value}" for key, value in sandbox.google_env().items()),
    ]
    if sandbox.ca_bundle is not None:
        lines += [f"SSL_CERT_FILE={sandbox.ca_bundle}", f"REQUESTS_CA_BUNDLE={sandbox.ca_bundle}"]
    lines.append(f"sandbox ready on {sandbox.base_url}")
    print("\n".join(lines), flush=True)
    sandbox.serve_forever()
    return 0
