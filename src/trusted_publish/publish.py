"""One run, in the order data flows: inputs → distributions → credentials → upload →
verification → report.

Everything that can be known before the first byte is sent is settled first: every file is
read and checked, the upload token is minted, the index is asked which files it already
has, and every file to upload is attested (PEP 740), so a bad file, a refused publisher, a
file-name clash or a file that can't be signed stops the run with nothing published. Then
the first file of each release goes alone (it creates the release on the index) and the rest
go in parallel, each retried on its own when the network or the index falters. Then the
index is asked again whether it serves every file with our bytes (see `verify`), and the
minted upload token is burned, whatever happened, where the index offers it. Each stage's
duration goes to the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from trusted_publish.credentials import api_token, attestations
from trusted_publish.credentials.credential import (
    Credentials,
    StaticCredentials,
    TrustedPublishingCredentials,
)
from trusted_publish.dists.digests import file_digests
from trusted_publish.dists.discover import Distribution, collect, describe
from trusted_publish.errors import InputError, PublishError, UploadError
from trusted_publish.http.policy import sanitize_url
from trusted_publish.http.transport import RetryPolicy, make_session
from trusted_publish.index.listing import Lookup
from trusted_publish.index.scheduler import UploadRun, clash
from trusted_publish.index.verify import VerifyPolicy, verify_listing, verify_provenance
from trusted_publish.report import Report, Status, Verified
from trusted_publish.runtime.signals import StopRequest

if TYPE_CHECKING:
    import requests

    from trusted_publish.console import Console
    from trusted_publish.credentials.attestations import Signer
    from trusted_publish.index.target import Index
    from trusted_publish.inputs import Inputs


#: PyPI closes a release to new files this long after it was created.
RELEASE_UPLOAD_WINDOW = timedelta(days=14)


def publish(
    inputs: Inputs,
    console: Console,
    env: Mapping[str, str],
    report: Report | None = None,
    *,
    signer: Signer | None = None,
    stop: StopRequest | None = None,
    verify_policy: VerifyPolicy | None = None,
    paths: Sequence[Path] = (),
) -> Report:
    """Run the whole publish; `report` (when given) is filled in as the run goes, so a caller
    still has it when this raises.

    `signer` makes the attestations; None means Sigstore with this workflow's identity
    (`attestations.SigstoreSigner`), set up only if a file needs signing. `stop` is the signals'
    stop request (see `interrupt`); None: the run is never asked to stop. `verify_policy`:
    how long to wait for the index to list the files (see `verify`). `paths`: the files
    and folders named on the command line, in place of `packages-dir`.
    """
    stop = stop or StopRequest()
    verify_policy = verify_policy or VerifyPolicy()
    report = report or Report(index=inputs.index, dry_run=inputs.dry_run)
    # The one description of the index this run publishes to, shared with the report.
    index = report.index
    with console.group("Checking distributions"), _timed(report, "checks"):
        dists = collect(
            list(paths) or inputs.packages_dir,
            verify_metadata=inputs.verify_metadata,
            console=console,
            index=index,
        )
        for dist in dists:
            console.info(f"{describe(dist)}: {dist.name} {dist.version}")

    report.planned(dists)
    if inputs.print_hash:
        _print_hashes(dists, console)
    if inputs.password is not None:
        # Before anything is sent: a PyPI API token scoped elsewhere, or expired, is named.
        api_token.check_before_sending(
            inputs.password.get_secret_value(),
            index=index,
            projects=sorted({d.name for d in dists}),
            console=console,
            dry_run=inputs.dry_run,
        )

    session = make_session()
    policy = RetryPolicy(
        max_retries=inputs.max_retries,
        max_seconds=inputs.retry_timeout,
        request_seconds=inputs.request_timeout,
    )
    credentials: Credentials
    static_auth: tuple[str, str] | None = None
    minted: TrustedPublishingCredentials | None = None
    if inputs.password is None:
        with (
            console.group("Trusted publishing: exchanging the CI's OIDC token"),
            _timed(report, "exchange"),
        ):
            minted = TrustedPublishingCredentials(
                session,
                index,
                env,
                console,
                projects=sorted({d.name for d in dists}),
                provider=inputs.trusted_publishing_provider,
                gitlab_id_token_variable=inputs.gitlab_id_token_variable,
                policy=policy,
            )
            console.info(f"OIDC token from {minted.source.name}.")
            minted.obtain()
            console.info(f"Got a short-lived upload token from {index.web_url}.")
        credentials = minted
    else:
        credentials = StaticCredentials(inputs.user, inputs.password.get_secret_value())
        static_auth = credentials.auth()

    try:
        _after_exchange(
            inputs,
            dists,
            index=index,
            session=session,
            credentials=credentials,
            static_auth=static_auth,
            console=console,
            report=report,
            env=env,
            stop=stop,
            signer=signer,
            policy=policy,
            verify_policy=verify_policy,
            minted=minted,
        )
    finally:
        if minted is not None:
            # Whatever happened: nothing needs the token after the run (only the tokens this
            # run minted are burned, never a user's own password or API token).
            with stop.deferred():
                minted.burn(hurry=stop.requested)
    return report


def _after_exchange(
    inputs: Inputs,
    dists: list[Distribution],
    *,
    index: Index,
    session: requests.Session,
    credentials: Credentials,
    static_auth: tuple[str, str] | None,
    console: Console,
    report: Report,
    env: Mapping[str, str],
    stop: StopRequest,
    signer: Signer | None,
    policy: RetryPolicy,
    verify_policy: VerifyPolicy,
    minted: TrustedPublishingCredentials | None,
) -> None:
    """The stages that hold an upload token: look-up, signing, uploads, verification."""
    source = minted.source if minted else None
    lookup = Lookup(session, index, auth=static_auth, request_seconds=inputs.request_timeout)
    with console.group("Asking the index which files it already has"), _timed(report, "look-up"):
        todo = _drop_existing(
            dists,
            lookup,
            index=index,
            skip_existing=inputs.skip_existing,
            console=console,
            report=report,
        )

    with _timed(report, "signing"):
        made = attestations.stage(
            todo,
            attestations.decide(
                inputs.attestations,
                trusted_publishing=inputs.trusted_publishing,
                index=index,
                unavailable=source.sigstore_unavailable(index) if source else None,
            ),
            console,
            explicit=inputs.attestations is True,
            dry_run=inputs.dry_run,
            make_signer=lambda: (
                signer or attestations.SigstoreSigner(session, env, console, source=source)
            ),
        )

    if inputs.dry_run:
        with console.group("Dry run: nothing is uploaded"):
            for dist in todo:
                console.info(f"Would upload {describe(dist)}")
                report.mark(dist, Status.WOULD_UPLOAD)
        return

    uploads = UploadRun(
        session,
        index=index,
        current_auth=credentials.auth,
        lookup=lookup,
        console=console,
        report=report,
        attestations=made,
        policy=policy,
        max_parallel=inputs.max_parallel,
        skip_existing=inputs.skip_existing,
        stop=stop,
    )
    with console.group(f"Uploading to {index.name}"), _timed(report, "uploads"):
        try:
            uploads.run(todo)
        except PublishError as exc:
            exc.details = (*exc.details, *report.progress_lines())
            raise

    if not inputs.verify:
        console.info("Not checking that the index serves the files (`verify: false`).")
        return
    published = report.files(Status.UPLOADED, Status.SKIPPED)
    if not published:
        return
    with (
        console.group(f"Checking that {index.name} serves every file"),
        _timed(report, "verification"),
    ):
        verify_listing(published, lookup, policy=verify_policy, console=console, report=report)
        attested = [
            d
            for d in report.files_verified(Verified.YES)
            if d.filename in made and report.status.get(d.filename) is Status.UPLOADED
        ]
        verify_provenance(
            session,
            index,
            attested,
            publisher=minted.publisher() if minted else None,
            console=console,
            report=report,
        )


@contextmanager
def _timed(report: Report, stage: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.timed(stage, time.monotonic() - started)


def _print_hashes(dists: list[Distribution], console: Console) -> None:
    with console.group("Digests"):
        for dist in dists:
            md5 = file_digests(dist.path, md5=True).md5
            console.info(dist.filename)
            console.info(f"    sha256       {dist.sha256}")
            console.info(f"    blake2b-256  {dist.blake2_256}")
            console.info(f"    md5          {md5}")


def _drop_existing(
    dists: list[Distribution],
    lookup: Lookup,
    *,
    index: Index,
    skip_existing: bool,
    console: Console,
    report: Report,
) -> list[Distribution]:
    """The files still to upload; a file-name clash with other bytes, or a release PyPI
    takes no more files into, stops the run here."""
    todo: list[Distribution] = []
    clashes: list[str] = []
    unanswered = False
    for dist in dists:
        listing = lookup.files(dist.name, dist.version)
        unanswered = unanswered or listing is None
        if listing is None or dist.filename not in listing:
            todo.append(dist)
            continue
        theirs = listing[dist.filename]
        if theirs == dist.sha256:
            console.notice(f"Skipping {dist.filename}: the index already has it, byte for byte.")
            report.mark(dist, Status.SKIPPED)
        elif theirs is None and skip_existing:
            console.notice(f"Skipping {dist.filename}: the index has a file of that name.")
            report.mark(dist, Status.SKIPPED)
        elif theirs is None:
            todo.append(dist)  # the index's own answer will say whether it is the same file
        else:
            clashes.append(f"{dist.filename}: {clash(dist, theirs)}")
    if unanswered:
        _could_not_ask(lookup, index, console)
    if clashes:
        raise UploadError(
            "Nothing was uploaded: the index already has files of these names with other "
            "contents, and a file name can never be reused.",
            details=clashes,
            fix="Bump the version and rebuild. (A rebuild of the same version changes the "
            "bytes: publish the files that were built for the first upload, or a new version.)",
        )
    if index.pypi_like:
        _refuse_closed_releases(todo, lookup)
    if lookup.source:
        console.info(f"Asked {sanitize_url(lookup.source)}: {len(todo)} of {len(dists)} to upload.")
    return todo


def _could_not_ask(lookup: Lookup, index: Index, console: Console) -> None:
    """The index's listing is unknown: never read as "nothing there"."""
    if index.simple_url_given:
        raise InputError(
            f"`index-url` {index.simple_urls[0]} does not answer as the index's simple API "
            f"({lookup.problem}).",
            fix="Correct `index-url` (the simple API of the index you upload to, e.g. "
            "https://host/simple/), or leave it empty to derive it from `repository-url`.",
        )
    console.warning(
        f"Could not ask the index which files it already has ({lookup.problem}). Every file "
        "is uploaded and the index's own answer decides: a file is reported as already there "
        "only if the index lists it. Set `index-url` to the index's simple API to check first."
    )


def _refuse_closed_releases(todo: list[Distribution], lookup: Lookup) -> None:
    """PyPI takes no new file into a release created more than 14 days ago
    (warehouse/forklift/legacy.py, file_upload); its JSON API says when it was."""
    now = datetime.now(timezone.utc)
    closed: dict[tuple[str, str], list[str]] = {}
    for dist in todo:
        first = lookup.first_upload(dist.name, dist.version)
        if first is not None and now - first > RELEASE_UPLOAD_WINDOW:
            closed.setdefault((dist.name, dist.version), []).append(dist.filename)
    if closed:
        raise UploadError(
            'Nothing was uploaded: PyPI would refuse these files with "Uploading new files '
            'to releases older than 14 days is not allowed."',
            details=[
                f"{name} {version} (first file uploaded more than 14 days ago): " + ", ".join(names)
                for (name, version), names in closed.items()
            ],
            fix="Publish these files under a new version: bump the version, rebuild, and "
            "publish every file of it.",
        )
