"""Every request we make, bounded: a total deadline, a size cap on the answer, the retry policy.

`request` is the one way the client talks HTTP (OIDC token, audience, mint-token, the index's
listing, uploads). A read timeout alone bounds nothing: it restarts at every byte, so a server
sending one byte every 20 s holds a caller forever. Here a watchdog shuts the socket down at
the deadline, whatever the server is doing, and the answer is read streamed, chunk by chunk,
never past its cap, so memory stays flat whatever the server sends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from trusted_publish.http.answers import ProtocolError, content_length, decode_json, retry_after

# Re-exported: every caller catches these as `transport.<name>`.
from trusted_publish.http.failures import NotOpened as NotOpened  # noqa: PLC0414
from trusted_publish.http.failures import RequestFailed as RequestFailed  # noqa: PLC0414
from trusted_publish.http.failures import TooLarge as TooLarge  # noqa: PLC0414
from trusted_publish.http.failures import TransportFailed as TransportFailed  # noqa: PLC0414
from trusted_publish.http.policy import describe_transport_error, never_opened, user_agent
from trusted_publish.http.watchdog import Watch, current, watched_adapter

if TYPE_CHECKING:
    import requests

MiB = 1024 * 1024

#: The answers of the audience, OIDC token and mint-token endpoints are a few hundred bytes of
#: JSON (a JWT is one or two KiB); anything near a MiB is not one of them.
SMALL_JSON_CAP = 1 * MiB
#: PyPI's largest simple pages (projects with thousands of files) are tens of MB; a release's
#: JSON API page is smaller. Four times the largest seen leaves room without letting a hostile
#: answer take the runner's memory.
LISTING_CAP = 64 * MiB
#: An upload's answer is a status line and a short message (PyPI: a sentence; others: a small
#: HTML page).
UPLOAD_ANSWER_CAP = 1 * MiB

#: Default total seconds for one request, from connecting to the last byte of the answer
#: (`request-timeout`). PyPI answers these calls in well under a second.
REQUEST_TIMEOUT = 60.0
#: Seconds to wait for a TCP (and TLS) connection; never more than the request's deadline.
CONNECT_TIMEOUT = 10.0

_CHUNK = 64 * 1024
#: Seconds before the one retry of an attempt that opened no connection (`NotOpened`).
NOT_OPENED_RETRY = 1.0

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """A complete answer, read within its cap: what callers used of `requests.Response`."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        from requests.structures import CaseInsensitiveDict
        from requests.utils import get_encoding_from_headers

        encoding = get_encoding_from_headers(CaseInsensitiveDict(self.headers)) or "utf-8"
        try:
            return self.content.decode(encoding, errors="replace")
        except (LookupError, UnicodeError):
            # A charset Python does not know, or one whose codec ignores errors="replace"
            # (`idna` raises on bytes it can't take): the body read as UTF-8 then.
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; `ValueError` when it is not (however it is not: see
        `answers.decode_json`). A reader of one kind of answer uses `answers` instead."""
        try:
            return decode_json(self.content, what="the request")
        except ProtocolError as exc:
            raise ValueError(exc.reason) from None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: each attempt's deadline, how many retries, for how long in all."""

    max_retries: int = 5
    """Retries after the first attempt (0: never retry)."""
    max_seconds: float = 600.0
    """No retry starts later than this many seconds after the first attempt; an upload's wait
    for its answer ends there too (but is never shorter than `request_seconds`)."""
    request_seconds: float = REQUEST_TIMEOUT
    """Each attempt's total deadline, from connecting to the answer's last byte (an upload:
    from the body's last byte)."""
    base_delay: float = 1.0
    """The first back-off; each retry doubles it (with jitter), up to `max_delay`."""
    max_delay: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if retry_after is not None:
            # The server said when; it knows its own load better than our formula.
            return max(0.0, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        # "Equal jitter": never less than half the back-off, so clients that failed
        # together do not all come back at the same instant.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not crypto


class Retryable(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        reply: Reply | None = None,
        *,
        not_opened: NotOpened | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.reply = reply
        """The answer that said "try again" (a 5xx or 429); None for a transport failure."""
        self.not_opened = not_opened
        """The attempt opened no connection (see `NotOpened`)."""

    @classmethod
    def failed(cls, exc: TransportFailed) -> Retryable:
        """A transport failure as a reason to retry."""
        return cls(exc.reason, not_opened=exc if isinstance(exc, NotOpened) else None)


class GaveUp(Exception):
    """Retries are exhausted; `last` is the last attempt's failure."""

    def __init__(
        self, last: Retryable, attempts: int, seconds: float, *, opened: bool = True
    ) -> None:
        super().__init__(last.reason)
        self.last = last
        self.attempts = attempts
        self.seconds = seconds
        self.opened = opened
        """Some attempt opened a connection (False: none did, so nothing was sent)."""

    @property
    def never_opened(self) -> NotOpened | None:
        """Why no attempt ever opened a connection; None when one did."""
        return None if self.opened else self.last.not_opened

    @property
    def reason(self) -> str:
        return self.last.reason

    @property
    def tries(self) -> str:
        return f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"


def with_retries(
    policy: RetryPolicy,
    attempt: Callable[[float], T],
    *,
    on_retry: Callable[[str, int, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt(seconds_left)` until it returns, retrying each `Retryable` with back-off.

    `seconds_left` is what remains of `policy.max_seconds` since the first attempt. Raises
    `GaveUp` when a retry would exceed `max_retries` or start after `max_seconds`.
    `on_retry(reason, retry, wait)` is told before each back-off.

    An attempt that opened no connection (`NotOpened`: a name that does not resolve, a port
    nothing listens on) is retried once, after `NOT_OPENED_RETRY` seconds: a blip of the
    resolver passes by then, and a wrong URL stays wrong however long we back off.
    """
    started = clock()
    retry = 0
    opened = False
    not_opened = 0
    while True:
        try:
            return attempt(policy.max_seconds - (clock() - started))
        except Retryable as exc:
            retry += 1
            elapsed = clock() - started
            if exc.not_opened is None:
                opened = True
                wait = policy.delay(retry, exc.retry_after)
            else:
                not_opened += 1
                wait = NOT_OPENED_RETRY
            if (
                retry > policy.max_retries
                or elapsed + wait > policy.max_seconds
                or (exc.not_opened is not None and not_opened > 1)
            ):
                raise GaveUp(exc, retry, elapsed, opened=opened) from None
            if on_retry:
                on_retry(exc.reason, retry, wait)
            sleep(wait)


def announce(
    say: Callable[[str], None] | None, label: str, policy: RetryPolicy
) -> Callable[[str, int, float], None] | None:
    """The `on_retry` of `with_retries` that tells each retry in one line, the same line for
    every request we retry (`label`: what is being retried); None when nothing is told."""
    if say is None:
        return None

    def note(reason: str, retry: int, wait: float) -> None:
        say(f"{label}: {reason}; retry {retry} of {policy.max_retries} in {wait:.1f} s")

    return note


def call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    policy: RetryPolicy,
    cap: int = SMALL_JSON_CAP,
    request_kwargs: Callable[[], dict[str, Any]] = dict,
    on_retry: Callable[[str, int, float], None] | None = None,
) -> Reply:
    """One small request, bounded, retried on connection failures, timeouts, 5xx and 429.

    `request_kwargs()` gives each attempt its own arguments (a token exchange sends a fresh,
    single-use OIDC token each time). Raises `TooLarge` or `answers.ProtocolError` (both
    `RequestFailed`), or `GaveUp` when retries ran out (its `last.reply` is the last answer,
    if one came).
    """

    def attempt(_: float) -> Reply:
        try:
            reply = request(
                session,
                method,
                url,
                what=what,
                cap=cap,
                seconds=policy.request_seconds,
                **request_kwargs(),
            )
        except TransportFailed as exc:
            raise Retryable.failed(exc) from None
        return raise_for_retry(reply)

    return with_retries(policy, attempt, on_retry=on_retry)


def raise_for_retry(reply: Reply, message: str = "") -> Reply:
    """`reply`, or `Retryable` when it is a 5xx or 429: an answer that may differ next time.

    `message` is what the server said, for the reason ("HTTP 503 <message>")."""
    status = reply.status_code
    if status == 429 or status >= 500:
        raise Retryable(
            f"HTTP {status} {message}".rstrip(),
            retry_after(reply.headers.get("Retry-After")),
            reply,
        )
    return reply


#: How much longer a socket's read timeout is than the request's deadline (see `request`).
_WATCHDOG_FIRST = 0.5


def size(cap: int) -> str:
    return f"{cap // MiB} MiB" if cap >= MiB else f"{cap} bytes"


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    cap: int,
    seconds: float,
    from_answer: bool = False,
    **kwargs: Any,
) -> Reply:
    """One HTTP request, its whole answer read within `seconds` and `cap` bytes.

    `what` names the request in errors ("the audience request"). The deadline runs from the
    start; with `from_answer` it runs from the moment the request's body is sent (an upload's
    body takes as long as the file needs). Redirects are never followed. Raises
    `TransportFailed` (connection, reset, timeout, deadline), `TooLarge`, or
    `answers.ProtocolError` (a `Content-Length` that is no length).
    """
    import requests

    seconds = max(seconds, 0.001)
    watch = Watch(None if from_answer else time.monotonic() + seconds, seconds)
    current.watch = watch
    resp: Optional[requests.Response] = None
    try:
        resp = session.request(
            method,
            url,
            stream=True,
            allow_redirects=False,
            # The read timeout bounds the wait for the headers where no watchdog runs (a
            # session whose transport is not ours); the watchdog bounds everything else. It
            # is a moment longer than the deadline, so that where the watchdog runs it is
            # the watchdog that ends the wait, and the error names the deadline.
            timeout=(min(CONNECT_TIMEOUT, seconds), seconds + _WATCHDOG_FIRST),
            **kwargs,
        )
        body = _read(resp, cap, watch, what)
        return Reply(resp.status_code, resp.reason or "", resp.headers, body)
    except requests.RequestException as exc:
        if watch.fired:
            raise TransportFailed(watch.missed()) from None
        if watch.send_error is not None:
            # No answer came after sending failed: the sending failure is the story.
            raise TransportFailed(describe_transport_error(watch.send_error)) from None
        unopened = never_opened(exc)
        if unopened is not None:
            raise NotOpened(describe_transport_error(exc), resolved=unopened) from None
        raise TransportFailed(describe_transport_error(exc)) from None
    finally:
        current.watch = None
        watch.disarm()
        if resp is not None:
            # A complete answer returns the connection to the pool; an aborted one closes it.
            resp.close()


def _read(resp: requests.Response, cap: int, watch: Watch, what: str) -> bytes:
    # A length that is no number is a `ProtocolError` (an answer without framing to trust).
    length = content_length(resp.headers, what=what)
    if length is not None and length > cap:
        raise TooLarge(f"the answer to {what} was too large (over {size(cap)})")
    body = bytearray()
    for chunk in resp.iter_content(_CHUNK):
        body += chunk
        if len(body) > cap:
            raise TooLarge(f"the answer to {what} was too large (over {size(cap)})")
        if watch.passed():
            # A drip that stays under every read timeout still ends here.
            raise TransportFailed(watch.missed())
    if watch.fired:
        # The watchdog cut the connection and the body happened to look complete.
        raise TransportFailed(watch.missed())
    return bytes(body)


def make_session() -> requests.Session:
    """A requests session with our User-Agent; requests go through `request`."""
    # Imported here so `trusted-publish check` and `--help` never pay for requests' import.
    import requests

    class _NoNetrc(requests.auth.AuthBase):
        # requests consults ~/.netrc only when a request has no auth at all; a no-op auth
        # keeps a stray netrc entry from attaching credentials we never chose to send, while
        # trust_env still honours the runner's proxy and CA-bundle variables.
        def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
            return r

    session = requests.Session()
    session.headers["User-Agent"] = user_agent()
    session.auth = _NoNetrc()
    # Every connection arms `request`'s deadline watchdog as it waits for an answer.
    for prefix in ("https://", "http://"):
        session.mount(prefix, watched_adapter())
    return session
