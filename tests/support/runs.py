"""One run of the real CLI against the sandbox, and what its outputs may never hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from trusted_publish.cli import main
from trusted_publish_sandbox import Sandbox


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def secrets_of(sb: Sandbox) -> list[str]:
    return [*sb.issued_jwts, *sb.minted_tokens, sb.oidc_request_token]


def assert_no_secret(sb: Sandbox, text: str) -> None:
    visible = "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))
    for secret in secrets_of(sb):
        assert secret not in visible
        # Not even a large piece of one (a JWT's payload alone would show its claims verbatim).
        assert secret[:40] not in visible


def publish(
    sb: Sandbox,
    dist_dir: Path,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    env: dict[str, str] | None = None,
) -> Run:
    run_env = {
        "GITHUB_ACTIONS": "true",
        "TRUSTED_PUBLISH_REPOSITORY_URL": sb.repository_url,
        "TRUSTED_PUBLISH_PACKAGES_DIR": str(dist_dir),
        **sb.env(),
        **(env or {}),
    }
    capsys.readouterr()
    code = main(list(argv), env=run_env)
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    assert_no_secret(sb, run.text)
    return run


def error_lines(run: Run) -> list[str]:
    return [line for line in run.out.splitlines() if line.startswith("::error")]
