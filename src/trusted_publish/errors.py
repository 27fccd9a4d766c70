"""One exception tree. Every failure a user can meet is a `PublishError` that says what went
wrong and what to change; `cli.main` is the only place that turns one into an exit code.

Subclasses name the stage the run was in (inputs → distributions → credentials → upload →
verification), so
a reader of the log knows whether anything could have reached the index: only `UploadError`
can happen after the first byte was sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from trusted_publish.console import untrusted


class PublishError(Exception):
    """A failure with a message for the user and, where we know it, the fix."""

    #: Process exit code for this kind of failure; distinct per stage so scripts can tell.
    exit_code = 1
    #: Which stage of the run failed, shown as the error's title.
    stage = "publish"

    def __init__(
        self, message: str, *, fix: str | None = None, details: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        # Lines shown under the message: one per problem when several were found at once.
        self.details = tuple(details)

    def render(self) -> str:
        """The full text for the user: message, details, then the fix.

        The message and each detail are one line each: they quote file names and servers'
        answers, whose line breaks are shown escaped (`console.untrusted`). The fix is ours
        and may span lines.
        """
        parts = [untrusted(self.message)]
        parts.extend(f"  - {untrusted(line)}" for line in self.details)
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        return "\n".join(parts)


class InputError(PublishError):
    """An action input or CLI flag has a value we cannot use."""

    exit_code = 2
    stage = "inputs"


class DistributionError(PublishError):
    """The packages folder or a file in it is not something the index would accept."""

    exit_code = 3
    stage = "distributions"


class CredentialError(PublishError):
    """No upload credential: the OIDC token or the index's token exchange failed."""

    exit_code = 4
    stage = "credentials"


class SigningError(CredentialError):
    """A file could not be attested (PEP 740): the signing identity, Sigstore, or the
    libraries. Raised before any upload, like every credential failure."""

    stage = "attestations"


class UploadError(PublishError):
    """The index refused a file, or could not be reached, while uploading."""

    exit_code = 5
    stage = "upload"
    #: The file may be on the index although we have no answer saying so (the connection
    #: failed, or 5xx, after the body was sent); False: the index answered with a refusal.
    maybe_landed = False
    #: No connection to the index ever opened for the file (a host name that does not
    #: resolve, a refused connection): nothing of it was sent, so it is "not started".
    never_sent = False


class VerificationError(UploadError):
    """After the uploads, the index does not serve a file as sent: it does not list it, or
    lists it with other bytes. Exit code of the upload stage: the upload did not succeed."""

    stage = "verification"


class DoctorError(PublishError):
    """`trusted-publish doctor` found the release setup would fail (or could not check it):
    each problem and its fix were shown above the error. Nothing was published or asked."""

    exit_code = 6
    stage = "doctor"


class Interrupted(PublishError):
    """The run was stopped by a signal (a cancelled job, Ctrl-C). Exit code 128 + the
    signal's number, as a shell reports it: 130 for SIGINT, 143 for SIGTERM."""

    stage = "interrupted"

    def __init__(self, signum: int) -> None:
        import signal

        name = signal.Signals(signum).name
        super().__init__(
            f"Stopped by {name}: no file was started after it arrived.",
            fix="Re-run the publish: files already on the index are recognised by their hash "
            "and skipped, so it uploads exactly what is missing.",
        )
        self.exit_code = 128 + signum
