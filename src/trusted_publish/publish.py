"""One run, in the order data flows: inputs → distributions → credentials → upload → report.

Everything that can be known before the first byte is sent is settled first: every file is
read and checked, and the upload token is minted, so a bad file or a refused publisher stops
the run with nothing published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dists import Distribution, collect, describe
from .errors import PublishError, UploadError
from .exchange import Credentials, StaticCredentials, TrustedPublishingCredentials
from .net import make_session, sanitize_url
from .upload import Outcome, send

if TYPE_CHECKING:
    import requests

    from .gha import Console
    from .inputs import Inputs


@dataclass
class Report:
    """What happened to each file."""

    repository_url: str
    uploaded: list[Distribution] = field(default_factory=list)
    skipped: list[Distribution] = field(default_factory=list)


def publish(inputs: Inputs, console: Console, env: Mapping[str, str]) -> Report:
    with console.group("Checking distributions"):
        dists = collect(
            inputs.packages_dir, verify_metadata=inputs.verify_metadata, console=console
        )
        for dist in dists:
            console.info(f"{describe(dist)}: {dist.name} {dist.version}")
            if inputs.print_hash:
                console.info(f"    sha256       {dist.sha256}")
                console.info(f"    blake2b-256  {dist.blake2_256}")

    session = make_session()
    credentials: Credentials
    if inputs.password is None:
        with console.group("Trusted publishing: exchanging the GitHub OIDC token"):
            tp = TrustedPublishingCredentials(session, inputs.repository_url, env, console)
            tp.obtain()
            console.info(f"Got a short-lived upload token from {sanitize_url(tp.web_url)}.")
        credentials = tp
    else:
        credentials = StaticCredentials(inputs.user, inputs.password.get_secret_value())

    report = Report(repository_url=inputs.repository_url)
    with console.group(f"Uploading to {sanitize_url(inputs.repository_url)}"):
        for dist in dists:
            try:
                _upload_one(
                    session,
                    inputs=inputs,
                    dist=dist,
                    credentials=credentials,
                    console=console,
                    report=report,
                )
            except PublishError as exc:
                _add_progress(exc, report, dists)
                raise
    return report


def _upload_one(
    session: requests.Session,
    *,
    inputs: Inputs,
    dist: Distribution,
    credentials: Credentials,
    console: Console,
    report: Report,
) -> None:
    console.info(f"Uploading {describe(dist)}")
    answer = send(session, inputs.repository_url, dist, credentials.auth())
    if answer.outcome is Outcome.UPLOADED:
        console.info(f"Uploaded {dist.filename}")
        report.uploaded.append(dist)
        return
    if inputs.skip_existing:
        console.notice(f"Skipped {dist.filename}: the index already has it ({answer.message}).")
        report.skipped.append(dist)
        return
    raise UploadError(
        f"The index already has a file named {dist.filename}: {answer.message}",
        fix="A released file can never be replaced: bump the version and rebuild; or, when "
        "re-running a publish that partly succeeded, set `skip-existing: true`.",
    )


def _add_progress(exc: PublishError, report: Report, dists: list[Distribution]) -> None:
    """Say which files did land, so a partly published release is visible as such."""
    done = {d.filename for d in (*report.uploaded, *report.skipped)}
    if not done:
        return
    pending = [d.filename for d in dists if d.filename not in done]
    exc.details = (
        *exc.details,
        "Already on the index: " + ", ".join(sorted(done)),
        "Not uploaded: " + ", ".join(pending),
    )
