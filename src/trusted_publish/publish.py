"""One run, in the order data flows: inputs → distributions → credentials → upload → report.

Everything that can be known before the first byte is sent is settled first: every file is
read and checked, the upload token is minted, the index is asked which files it already
has, and every file to upload is attested (PEP 740), so a bad file, a refused publisher, a
file-name clash or a file that can't be signed stops the run with nothing published. Then
the first file of each release goes alone (it creates the release on the index) and the rest
go in parallel, each retried on its own when the network or the index falters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Callable

from packaging.utils import canonicalize_name

from . import attest
from .bounded import RetryPolicy
from .credentials import Credentials, StaticCredentials, TrustedPublishingCredentials
from .digests import file_digests
from .dists import Distribution, collect, describe
from .errors import PublishError, UploadError
from .existing import Lookup
from .net import make_session, sanitize_url
from .report import Report, Status
from .upload import Outcome, send

if TYPE_CHECKING:
    import requests

    from .attest import Signer
    from .console import Console
    from .index import Index
    from .inputs import Inputs

#: Files at least this large report their progress while they upload.
PROGRESS_FROM = 16 * 1024 * 1024


def publish(
    inputs: Inputs,
    console: Console,
    env: Mapping[str, str],
    report: Report | None = None,
    *,
    signer: Signer | None = None,
) -> Report:
    """Run the whole publish; `report` (when given) is filled in as the run goes, so a caller
    still has it when this raises.

    `signer` makes the attestations; None means Sigstore with this workflow's identity
    (`attest.SigstoreSigner`), set up only if a file needs signing.
    """
    index = inputs.index
    report = report or Report(index=index, dry_run=inputs.dry_run)
    with console.group("Checking distributions"):
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
    policy = RetryPolicy(
        max_retries=inputs.max_retries,
        max_seconds=inputs.retry_timeout,
        request_seconds=inputs.request_timeout,
    )
    credentials: Credentials
    static_auth: tuple[str, str] | None = None
    if inputs.password is None:
        with console.group("Trusted publishing: exchanging the GitHub OIDC token"):
            tp = TrustedPublishingCredentials(
                session,
                index,
                env,
                console,
                projects=sorted({d.name for d in dists}),
                policy=policy,
            )
            tp.obtain()
            console.info(f"Got a short-lived upload token from {index.web_url}.")
        credentials = tp
    else:
        credentials = StaticCredentials(inputs.user, inputs.password.get_secret_value())
        static_auth = credentials.auth()

    lookup = Lookup(
        session,
        index,
        auth=static_auth,
        request_seconds=inputs.request_timeout,
        warn=console.warning,
    )
    with console.group("Asking the index which files it already has"):
        todo = _drop_existing(
            dists, lookup, skip_existing=inputs.skip_existing, console=console, report=report
        )

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
        return report

    uploads = _UploadRun(
        session,
        index=index,
        current_auth=credentials.auth,
        lookup=lookup,
        console=console,
        report=report,
        attestations=attestations,
        policy=policy,
        max_parallel=inputs.max_parallel,
        skip_existing=inputs.skip_existing,
    )
    with console.group(f"Uploading to {index.name}"):
        try:
            uploads.run(todo)
        except PublishError as exc:
            _add_progress(exc, report)
            raise
    return report


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
            clashes.append(f"{dist.filename}: {_clash(dist, theirs)}")
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


class _UploadRun:
    """Runs the uploads: first file of each release alone, then the rest in parallel."""

    def __init__(
        self,
        session: requests.Session,
        *,
        index: Index,
        current_auth: Callable[[], tuple[str, str]],
        lookup: Lookup,
        console: Console,
        report: Report,
        attestations: Mapping[str, str],
        policy: RetryPolicy,
        max_parallel: int,
        skip_existing: bool,
    ) -> None:
        self._session = session
        self._index = index
        self._current_auth = current_auth
        self._lookup = lookup
        self._console = console
        self._report = report
        # File name → the `attestations` form field (empty when this run makes none).
        self._attestations = attestations
        self._policy = policy
        self._max_parallel = max_parallel
        self._skip_existing = skip_existing
        # Set when one file fails for good: files not yet started are then left alone, so
        # a broken release stops growing as soon as we know it is broken.
        self._stop = threading.Event()

    def run(self, dists: list[Distribution]) -> None:
        first: dict[tuple[str, str], Distribution] = {}
        rest: list[Distribution] = []
        for dist in dists:
            key = (str(canonicalize_name(dist.name)), dist.version)
            if key in first:
                rest.append(dist)
            else:
                first[key] = dist
        self._in_parallel(list(first.values()))
        self._in_parallel(rest)

    def _in_parallel(self, dists: list[Distribution]) -> None:
        if not dists:
            return
        workers = min(self._max_parallel, len(dists))
        if workers == 1:
            for dist in dists:
                self._one(dist)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
            futures: list[Future[None]] = [pool.submit(self._one, d) for d in dists]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                self._stop.set()
                for future in futures:
                    future.cancel()
                wait(futures)
                failed[0].result()  # re-raises the first failure

    def _one(self, dist: Distribution) -> None:
        if self._stop.is_set():
            return
        console = self._console
        console.info(f"Uploading {describe(dist)}")
        started = time.monotonic()
        answer = send(
            self._session,
            self._index.upload_url,
            dist,
            self._current_auth,
            policy=self._policy,
            progress=_progress_printer(dist, console),
            on_retry=console.info,
            attestations=self._attestations.get(dist.filename),
        )
        seconds = time.monotonic() - started
        if answer.outcome is Outcome.UPLOADED:
            # A rate for a small file would measure the round trip, not the bandwidth.
            rate = (
                f" ({dist.size / seconds / 1024 / 1024:.1f} MiB/s)"
                if dist.size >= 1024 * 1024 and seconds > 0
                else ""
            )
            console.info(f"Uploaded {dist.filename} in {seconds:.1f} s{rate}")
            self._report.mark(dist, Status.UPLOADED)
            return
        self._already_there(dist, answer.message)

    def _already_there(self, dist: Distribution, message: str) -> None:
        """The index says the name is taken: the hash decides whether that is fine."""
        listing = self._lookup.files(dist.name, dist.version, fresh=True)
        theirs = listing.get(dist.filename) if listing else None
        if theirs == dist.sha256 or (theirs is None and self._skip_existing):
            self._console.notice(f"Skipped {dist.filename}: the index already has it ({message}).")
            self._report.mark(dist, Status.SKIPPED)
            return
        detail = _clash(dist, theirs) if theirs else message
        raise UploadError(
            f"The index already has a file named {dist.filename}: {detail}",
            fix="A released file can never be replaced: bump the version and rebuild; or, when "
            "re-running a publish that partly succeeded, set `skip-existing: true`.",
        )


def _clash(dist: Distribution, theirs: str) -> str:
    """The two digests of a taken file name, said the same way before and after uploading."""
    return f"the index has sha256 {theirs}, this file has {dist.sha256}"


def _progress_printer(dist: Distribution, console: Console) -> Callable[[int], None] | None:
    """Progress lines at each quarter of a large file: readable in a CI log, no TTY bar."""
    if dist.size < PROGRESS_FROM:
        return None
    marks = iter((25, 50, 75))
    state = {"next": next(marks)}

    def report(sent: int) -> None:
        percent = sent * 100 // dist.size
        while state["next"] and percent >= state["next"]:
            console.info(f"  {dist.filename}: {state['next']}% sent")
            state["next"] = next(marks, 0)

    return report


def _add_progress(exc: PublishError, report: Report) -> None:
    """Say which files did land, so a partly published release is visible as such."""
    done = [d.filename for d in (*report.uploaded, *report.skipped)]
    if not done:
        return
    pending = [d.filename for d in report.files(Status.PENDING)]
    exc.details = (
        *exc.details,
        "Already on the index: " + ", ".join(sorted(done)),
        "Not uploaded: " + ", ".join(pending),
    )
