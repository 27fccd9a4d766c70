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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import attest
from .credentials import Credentials, StaticCredentials, TrustedPublishingCredentials
from .digests import file_digests
from .dists import Distribution, collect, describe
from .errors import PublishError, UploadError
from .existing import Lookup
from .interrupt import StopRequest
from .net import make_session, sanitize_url
from .report import Report, Status, Verified
from .scheduler import UploadRun, clash
from .upload import RetryPolicy
from .verify import VerifyPolicy, verify_listing, verify_provenance

if TYPE_CHECKING:
    import requests

    from .attest import Signer
    from .console import Console
    from .inputs import Inputs


def publish(
    inputs: Inputs,
    console: Console,
    env: Mapping[str, str],
    report: Report | None = None,
    *,
    signer: Signer | None = None,
    stop: StopRequest | None = None,
    verify_policy: VerifyPolicy | None = None,
) -> Report:
    """Run the whole publish; `report` (when given) is filled in as the run goes, so a caller
    still has it when this raises.

    `signer` makes the attestations; None means Sigstore with this workflow's identity
    (`attest.SigstoreSigner`), set up only if a file needs signing. `stop` is the signals'
    stop request (see `interrupt`); None: the run is never asked to stop. `verify_policy`:
    how long to wait for the index to list the files (see `verify`).
    """
    stop = stop or StopRequest()
    verify_policy = verify_policy or VerifyPolicy()
    index = inputs.index
    report = report or Report(index=index, dry_run=inputs.dry_run)
    with console.group("Checking distributions"), _timed(report, "checks"):
        dists = collect(
            inputs.packages_dir,
            verify_metadata=inputs.verify_metadata,
            console=console,
            index=index,
        )
        for dist in dists:
            console.info(f"{describe(dist)}: {dist.name} {dist.version}")

    report.planned(dists)
    if inputs.print_hash:
        _print_hashes(dists, console)

    session = make_session()
    credentials: Credentials
    static_auth: tuple[str, str] | None = None
    minted: TrustedPublishingCredentials | None = None
    if inputs.password is None:
        with (
            console.group("Trusted publishing: exchanging the GitHub OIDC token"),
            _timed(report, "exchange"),
        ):
            minted = TrustedPublishingCredentials(
                session, index, env, console, projects=sorted({d.name for d in dists})
            )
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
            session=session,
            credentials=credentials,
            static_auth=static_auth,
            console=console,
            report=report,
            env=env,
            stop=stop,
            signer=signer,
            verify_policy=verify_policy,
            publisher=minted.publisher() if minted else None,
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
    session: requests.Session,
    credentials: Credentials,
    static_auth: tuple[str, str] | None,
    console: Console,
    report: Report,
    env: Mapping[str, str],
    stop: StopRequest,
    signer: Signer | None,
    verify_policy: VerifyPolicy,
    publisher: Mapping[str, str] | None,
) -> None:
    """The stages that hold an upload token: look-up, signing, uploads, verification."""
    index = inputs.index
    lookup = Lookup(session, index, auth=static_auth)
    with console.group("Asking the index which files it already has"), _timed(report, "look-up"):
        todo = _drop_existing(
            dists, lookup, skip_existing=inputs.skip_existing, console=console, report=report
        )

    with _timed(report, "signing"):
        attestations = attest.stage(
            todo,
            attest.decide(
                inputs.attestations, trusted_publishing=inputs.trusted_publishing, index=index
            ),
            console,
            explicit=inputs.attestations is True,
            dry_run=inputs.dry_run,
            make_signer=lambda: signer or attest.SigstoreSigner(session, env, console),
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
        attestations=attestations,
        policy=RetryPolicy(max_retries=inputs.max_retries, max_seconds=inputs.retry_timeout),
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
            if d.filename in attestations and report.status.get(d.filename) is Status.UPLOADED
        ]
        verify_provenance(
            session, index, attested, publisher=publisher, console=console, report=report
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
    skip_existing: bool,
    console: Console,
    report: Report,
) -> list[Distribution]:
    """The files still to upload; a file-name clash with other bytes stops the run here."""
    todo: list[Distribution] = []
    clashes: list[str] = []
    for dist in dists:
        listing = lookup.files(dist.name, dist.version)
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
    if clashes:
        raise UploadError(
            "Nothing was uploaded: the index already has files of these names with other "
            "contents, and a file name can never be reused.",
            details=clashes,
            fix="Bump the version and rebuild. (A rebuild of the same version changes the "
            "bytes: publish the files that were built for the first upload, or a new version.)",
        )
    if lookup.source:
        console.info(f"Asked {sanitize_url(lookup.source)}: {len(todo)} of {len(dists)} to upload.")
    return todo


def _clash(dist: Distribution, theirs: str) -> str:
    """The two digests of a taken file name, said the same way before and after uploading."""
    return f"the index has sha256 {theirs}, this file has {dist.sha256}"
