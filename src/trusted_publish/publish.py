"""One run, in the order data flows: inputs → distributions → credentials → upload →
verification → report.

Everything that can be known before the first byte is sent is settled first: every file is
read and checked, the upload token is minted, the index is asked which files it already
has, and every file to upload is attested (PEP 740), so a bad file, a refused publisher, a
file-name clash or a file that can't be signed stops the run with nothing published. Then
the first file of each release goes alone (it creates the release on the index) and the rest
go in parallel, each retried on its own when the network or the index falters. Then the
index is asked again whether it serves every file with our bytes (see `verify`), and the
minted upload token is burned, whatever happened, where the index offers it.

This module conducts: each stage takes plain values and returns its results (the upload
stage also announces each file as it goes, for a signal may end the run at any moment), and
only this module writes them into the report, with each stage's duration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from packaging.utils import canonicalize_name

from trusted_publish.credentials import api_token, attestations
from trusted_publish.credentials.credential import (
    Credentials,
    StaticCredentials,
    TrustedPublishingCredentials,
)
from trusted_publish.dists.digests import file_digests
from trusted_publish.dists.discover import Distribution, collect, describe
from trusted_publish.errors import Interrupted, PublishError
from trusted_publish.http.transport import RetryPolicy, make_session
from trusted_publish.index import continuity, provenance
from trusted_publish.index.listing import Lookup, triage
from trusted_publish.index.scheduler import Status, UploadRun, UploadSettings, UploadTarget
from trusted_publish.index.verify import Verified, VerifyPolicy, verify_listing
from trusted_publish.report import Report
from trusted_publish.runtime.signals import StopRequest

T = TypeVar("T")

if TYPE_CHECKING:
    from trusted_publish.console import Console
    from trusted_publish.credentials.attestations import Signer
    from trusted_publish.credentials.providers import TokenSource
    from trusted_publish.inputs import Inputs


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
    stop request (see `signals`); None: the run is never asked to stop. `verify_policy`:
    how long to wait for the index to list the files (see `verify`). `paths`: the files
    and folders named on the command line, in place of `packages-dir`.
    """
    stop = stop or StopRequest()
    report = report or Report(index=inputs.index, dry_run=inputs.dry_run)
    run = _Run(inputs, console, env, report)
    dists = run.check_distributions(paths)

    minted: TrustedPublishingCredentials | None = None
    credentials: Credentials
    if inputs.password is None:
        credentials = minted = run.exchange_oidc_token(dists)
        lookup = Lookup(run.session, run.index, request_seconds=inputs.request_timeout)
    else:
        credentials = StaticCredentials(inputs.user, inputs.password.get_secret_value())
        # A user's own credentials may be needed to read a private index too.
        lookup = Lookup(
            run.session,
            run.index,
            auth=credentials.auth(),
            request_seconds=inputs.request_timeout,
        )
    source = minted.source if minted else None
    # The publisher the upload token was minted for: what provenance is compared with.
    publisher = minted.publisher() if minted else None
    try:
        todo = run.ask_what_is_there(dists, lookup)
        made = run.sign(todo, source, signer)
        run.check_continuity(todo, made, publisher)
        if inputs.dry_run:
            run.show_dry_run(todo)
            return report
        published = run.upload(todo, lookup, credentials, made, stop)
        if not inputs.verify:
            console.info("Not checking that the index serves the files (`verify: false`).")
            return report
        if published:
            run.verify(published, lookup, made, publisher, verify_policy or VerifyPolicy())
    finally:
        if minted is not None:
            # Whatever happened: nothing needs the token after the run (only the tokens this
            # run minted are burned, never a user's own password or API token). A signal,
            # before or during it, cuts it short: the report comes first.
            minted.burn(stop)
    return report


class _Run:
    """What every stage of one run shares, and each stage called with the plain values it
    needs; the one writer of the report."""

    def __init__(
        self, inputs: Inputs, console: Console, env: Mapping[str, str], report: Report
    ) -> None:
        self.inputs = inputs
        self.console = console
        self.env = env
        self.report = report
        # The one description of the index this run publishes to, shared with the report.
        self.index = report.index
        self.session = make_session()
        self.policy = RetryPolicy(
            max_retries=inputs.max_retries,
            max_seconds=inputs.retry_timeout,
            request_seconds=inputs.request_timeout,
        )
        # Files that landed: already there before the upload, or uploaded now.
        self.landed: dict[str, Status] = {}
        self.decision = attestations.Decision(make=False)

    def check_distributions(self, paths: Sequence[Path]) -> list[Distribution]:
        inputs, console = self.inputs, self.console
        with console.group("Checking distributions"), self._timed("checks"):
            dists = collect(
                list(paths) or inputs.packages_dir,
                verify_metadata=inputs.verify_metadata,
                console=console,
                index=self.index,
            )
            for dist in dists:
                console.info(f"{describe(dist)}: {dist.name} {dist.version}")
        self.report.planned(dists)
        if inputs.print_hash:
            _print_hashes(dists, console)
        if inputs.password is not None:
            # Before anything is sent: a PyPI API token scoped elsewhere, or expired, is named.
            api_token.check_before_sending(
                inputs.password.get_secret_value(),
                index=self.index,
                projects=sorted({d.name for d in dists}),
                console=console,
                dry_run=inputs.dry_run,
            )
        return dists

    def exchange_oidc_token(self, dists: list[Distribution]) -> TrustedPublishingCredentials:
        inputs, console = self.inputs, self.console
        with (
            console.group("Trusted publishing: exchanging the CI's OIDC token"),
            self._timed("exchange"),
        ):
            minted = TrustedPublishingCredentials(
                self.session,
                self.index,
                self.env,
                console,
                projects=sorted({d.name for d in dists}),
                provider=inputs.trusted_publishing_provider,
                gitlab_id_token_variable=inputs.gitlab_id_token_variable,
                policy=self.policy,
            )
            console.info(f"OIDC token from {minted.source.name}.")
            minted.obtain()
            console.info(f"Got a short-lived upload token from {self.index.web_url}.")
        return minted

    def ask_what_is_there(self, dists: list[Distribution], lookup: Lookup) -> list[Distribution]:
        """The files still to upload; those already there are reported as skipped."""
        with (
            self.console.group("Asking the index which files it already has"),
            self._timed("look-up"),
        ):
            found = triage(
                dists,
                lookup,
                index=self.index,
                skip_existing=self.inputs.skip_existing,
                console=self.console,
            )
        for dist in found.there:
            self.report.mark(dist, Status.SKIPPED)
            self.landed[dist.filename] = Status.SKIPPED
        return found.todo

    def sign(
        self, todo: list[Distribution], source: Optional[TokenSource], signer: Signer | None
    ) -> dict[str, str]:
        """File name → its `attestations` form field (none when this run makes none)."""
        inputs, index, console = self.inputs, self.index, self.console
        with self._timed("signing"):
            self.decision = attestations.decide(
                inputs.attestations,
                trusted_publishing=inputs.trusted_publishing,
                index=index,
                unavailable=source.sigstore_unavailable(index) if source else None,
            )
            return attestations.stage(
                todo,
                self.decision,
                console,
                explicit=inputs.attestations is True,
                dry_run=inputs.dry_run,
                make_signer=lambda: (
                    signer
                    or attestations.SigstoreSigner(self.session, self.env, console, source=source)
                ),
            )

    def check_continuity(
        self,
        todo: list[Distribution],
        made: Mapping[str, str],
        publisher: Optional[dict[str, str]],
    ) -> None:
        """Warn when this run would lose or change the provenance of the release before
        each of its releases (see `continuity`); before the first upload, dry run included."""
        inputs = self.inputs
        if not todo or not self.index.pypi_like:  # a JSON API and an Integrity API to ask
            return
        # A dry run signs nothing: what it would make is what the decision says.
        attests = self.decision.make if inputs.dry_run else bool(made)
        if inputs.attestations is False:
            why = "`attestations: false`"
        elif not inputs.trusted_publishing:
            why = "it is uploaded with a password, and only trusted publishing attests"
        elif self.decision.why_not:
            why = self.decision.why_not.removeprefix("No attestations are made: ")
        else:
            why = "this run makes no attestations"
        releases = list(dict.fromkeys((str(canonicalize_name(d.name)), d.version) for d in todo))
        with self.console.group("Provenance: what the release before this one has"):
            continuity.check_continuity(
                self.session,
                self.index,
                releases,
                continuity.Plan(attests, publisher, why),
                console=self.console,
                request_seconds=inputs.request_timeout,
            )

    def show_dry_run(self, todo: list[Distribution]) -> None:
        with self.console.group("Dry run: nothing is uploaded"):
            for dist in todo:
                self.console.info(f"Would upload {describe(dist)}")
                self.report.mark(dist, Status.WOULD_UPLOAD)

    def upload(
        self,
        todo: list[Distribution],
        lookup: Lookup,
        credentials: Credentials,
        made: Mapping[str, str],
        stop: StopRequest,
    ) -> list[Distribution]:
        """Every file that landed (already there, or uploaded now), in the run's order."""
        inputs = self.inputs
        uploads = UploadRun(
            UploadTarget(self.session, self.index, lookup, credentials.auth),
            UploadSettings(self.policy, inputs.max_parallel, inputs.skip_existing),
            attestations=made,
            # The report hears of each file as it starts and ends: a signal may come at any
            # moment, and the report then says what was known at that moment.
            events=self.report,
            console=self.console,
            stop=stop,
        )
        with self.console.group(f"Uploading to {self.index.name}"), self._timed("uploads"):
            try:
                self.landed.update(uploads.run(todo))
            except PublishError as exc:
                exc.details = (*exc.details, *self.report.progress_lines())
                raise
        return [d for d in self.report.dists if d.filename in self.landed]

    def verify(
        self,
        published: list[Distribution],
        lookup: Lookup,
        made: Mapping[str, str],
        publisher: Optional[dict[str, str]],
        policy: VerifyPolicy,
    ) -> None:
        """The index serves every landed file with our bytes; then, for the files uploaded
        with attestations now, their provenance."""
        report = self.report
        console = self.console
        with (
            console.group(f"Checking that {self.index.name} serves every file"),
            self._timed("verification"),
        ):
            checked = only_a_warning(
                console,
                "reading the index's listing back",
                lambda: verify_listing(published, lookup, policy=policy, console=console),
            )
            if checked is None:
                for dist in published:
                    report.verify_result(dist, Verified.NOT_CHECKED)
                return
            for dist in published:
                report.verify_result(dist, checked.files.get(dist.filename, Verified.NOT_CHECKED))
            if checked.error is not None:
                # The one failure after the uploads: the index does not serve a file as sent.
                raise checked.error
            files = checked.files
            only_a_warning(
                console,
                "reading the provenance back",
                lambda: self._verify_provenance(published, files, made, publisher),
            )

    def _verify_provenance(
        self,
        published: list[Distribution],
        files: Mapping[str, Verified],
        made: Mapping[str, str],
        publisher: Optional[dict[str, str]],
    ) -> None:
        report = self.report
        attested = [
            d
            for d in published
            if files.get(d.filename) is Verified.YES
            and d.filename in made
            and self.landed.get(d.filename) is Status.UPLOADED
        ]
        if not attested:
            return
        found = provenance.verify_provenance(
            self.session,
            self.index,
            attested,
            publisher=publisher,
            console=self.console,
            request_seconds=self.inputs.request_timeout,
            check=provenance.available_check(),
        )
        for dist in attested:
            report.provenance_result(dist, found[dist.filename])

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.timed(stage, time.monotonic() - started)


def only_a_warning(console: Console, doing: str, step: Callable[[], T]) -> Optional[T]:
    """The after-upload boundary (a finished release stays finished): `step()`, and
    whatever goes wrong in it is said as a warning (None returned); the run's result
    stands. Only a signal's `Interrupted` passes; a file the index does not serve is
    raised outside it."""
    try:
        return step()
    except Interrupted:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing here may fail the run
        said = str(exc)[:200]
        console.warning(
            f"Something went wrong while {doing} ({type(exc).__name__}"
            f"{': ' + said if said else ''}). It does not change the run's result.",
            title="trusted-publish: after the upload",
        )
        return None


def _print_hashes(dists: list[Distribution], console: Console) -> None:
    with console.group("Digests"):
        for dist in dists:
            md5 = file_digests(dist.path, md5=True).md5
            console.info(dist.filename)
            console.info(f"    sha256       {dist.sha256}")
            console.info(f"    blake2b-256  {dist.blake2_256}")
            console.info(f"    md5          {md5}")
