"""Why a request gave no usable answer: one exception per kind, each with a `reason` in words
safe to print (no URL, no credential). `transport` raises the first three, the readers of
each kind of answer (`answers`) the last.
"""

from __future__ import annotations


class RequestFailed(Exception):
    """No usable answer: `reason` says why, in words safe to print (no URL, no credential)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransportFailed(RequestFailed):
    """The connection failed, timed out, was reset, or the deadline passed: may pass."""


class NotOpened(TransportFailed):
    """No connection ever opened: the host name does not resolve, or the connection was
    refused. Nothing of the request was sent, so nothing of it can have arrived."""

    def __init__(self, reason: str, *, resolved: bool) -> None:
        super().__init__(reason)
        self.resolved = resolved
        """False: the host name did not resolve (a typo, most likely); True: it resolved
        and the connection was refused."""


class TooLarge(RequestFailed):
    """The answer was larger than its cap: reading stopped there."""


class ProtocolError(RequestFailed):
    """An answer that does not say what its protocol lets it say: a malformed header, a
    body that is not the JSON (or HTML) expected. `reason` says which, in words safe to
    print (never the server's text in full, never a credential).

    A `RequestFailed`: whoever treats "no usable answer" as such treats this as one too.
    """
