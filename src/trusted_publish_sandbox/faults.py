"""Fault injection: error statuses for the next requests, and an index that lies.

A test calls ``Sandbox.fail_next("/legacy/", [503, 503])``; the server asks ``Faults.take``
before routing each request, and answers an ``InjectedFailure`` after reading the body
(PyPI's front end fails after the bytes, too).

Three faults only a read-back after the upload can see: ``upload_fault="drop"`` answers 200
to every upload and stores nothing (a proxy or a sign-in page in front of an index does
that); ``"alter"`` stores other bytes than it received; ``listing_lag`` hides each file from
the simple index, the JSON API and the Integrity API for that many seconds after its upload
(a cache in front of the index).

Two more lie in the Integrity API's answer, so that a client's reading of a provenance can
be seen to refuse what is not its own: ``provenance_fault="other-publisher"`` serves each
file's provenance as uploaded but from another repository's workflow; ``"other-digest"``
serves attestations whose statement names other bytes (another SHA-256) than the file's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Optional, Union

__all__ = ["PROVENANCE_FAULTS", "UPLOAD_FAULTS", "Faults", "InjectedFailure", "falsify_provenance"]

#: What the upload endpoint may do wrong while it answers 200 (None: nothing).
UPLOAD_FAULTS = ("drop", "alter")
#: What the Integrity API may serve instead of the provenance PyPI built (None: nothing).
PROVENANCE_FAULTS = ("other-publisher", "other-digest")
#: The publisher ``"other-publisher"`` names: another repository, another workflow (GitHub,
#: GitLab), another service account (Google).
OTHER_PUBLISHER = {"repository": "mallory/demo", "workflow": "other.yml"}
OTHER_GOOGLE_PUBLISHER = {"email": "mallory@evil.iam.gserviceaccount.com"}


@dataclass(frozen=True)
class InjectedFailure:
    """The answer chosen for one request: a status and maybe a Retry-After."""

    status: int
    retry_after: Optional[str]

    @property
    def reason(self) -> str:
        known = self.status in HTTPStatus._value2member_map_
        return HTTPStatus(self.status).phrase if known else "Error"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after is not None else {}

    @property
    def body(self) -> bytes:
        return f"{self.status} {self.reason}".encode()


@dataclass
class _FailureRule:
    prefix: str
    statuses: deque[int]
    retry_after: Optional[str]


class Faults:
    """The pending failure rules of one sandbox, first added first used."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._rules: list[_FailureRule] = []
        self._upload_fault: Optional[str] = None
        self._listing_lag = 0.0
        self._provenance_fault: Optional[str] = None

    @property
    def upload_fault(self) -> Optional[str]:
        """ "drop", "alter" (see ``UPLOAD_FAULTS``) or None."""
        with self._lock:
            return self._upload_fault

    @upload_fault.setter
    def upload_fault(self, value: Optional[str]) -> None:
        if value is not None and value not in UPLOAD_FAULTS:
            raise ValueError(f"upload_fault must be None or one of {UPLOAD_FAULTS}")
        with self._lock:
            self._upload_fault = value

    @property
    def listing_lag(self) -> float:
        """Seconds a new file stays out of every listing."""
        with self._lock:
            return self._listing_lag

    @listing_lag.setter
    def listing_lag(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("listing_lag must not be negative")
        with self._lock:
            self._listing_lag = float(seconds)

    @property
    def provenance_fault(self) -> Optional[str]:
        """ "other-publisher", "other-digest" (see ``PROVENANCE_FAULTS``) or None."""
        with self._lock:
            return self._provenance_fault

    @provenance_fault.setter
    def provenance_fault(self, value: Optional[str]) -> None:
        if value is not None and value not in PROVENANCE_FAULTS:
            raise ValueError(f"provenance_fault must be None or one of {PROVENANCE_FAULTS}")
        with self._lock:
            self._provenance_fault = value

    def add(
        self,
        path_prefix: str,
        statuses: Sequence[int],
        retry_after: Optional[Union[int, str]] = None,
    ) -> None:
        """Answer the next ``len(statuses)`` requests under ``path_prefix`` with these."""
        with self._lock:
            self._rules.append(
                _FailureRule(
                    path_prefix,
                    deque(statuses),
                    None if retry_after is None else str(retry_after),
                )
            )

    def take(self, path: str) -> Optional[InjectedFailure]:
        """The failure for a request to ``path``, used up; None to answer it normally."""
        with self._lock:
            for rule in self._rules:
                if path.startswith(rule.prefix) and rule.statuses:
                    status = rule.statuses.popleft()
                    if not rule.statuses:
                        self._rules.remove(rule)
                    return InjectedFailure(status, rule.retry_after)
            return None


def falsify_provenance(body: bytes, fault: str) -> bytes:
    """The provenance document `body` as the ``provenance_fault`` `fault` serves it."""
    document = json.loads(body)
    for bundle in document["attestation_bundles"]:
        if fault == "other-publisher":
            publisher = bundle["publisher"]
            other = OTHER_GOOGLE_PUBLISHER if publisher.get("kind") == "Google" else OTHER_PUBLISHER
            bundle["publisher"] = {**publisher, **other}
        else:
            for attestation in bundle["attestations"]:
                envelope = attestation["envelope"]
                statement = json.loads(base64.b64decode(envelope["statement"]))
                for subject in statement["subject"]:
                    digest = subject["digest"]["sha256"]
                    # A digest, but of other bytes: this one's own digest.
                    subject["digest"]["sha256"] = hashlib.sha256(digest.encode()).hexdigest()
                envelope["statement"] = base64.b64encode(
                    json.dumps(statement, separators=(",", ":")).encode()
                ).decode()
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
