"""PEP 740 attestations on upload, checked as PyPI checks them, short of the cryptography.

PyPI (warehouse ``forklift/legacy.py`` and ``attestations/services.py``) reads the
``attestations`` form field with pypi-attestations' models, allows it only with a trusted
publishing token, at most one attestation per predicate type, and verifies each with
``Attestation.verify``: the signature against Sigstore's roots of trust and the certificate
against the trusted publisher (cryptography), then the statement's one subject against the
uploaded file's name and SHA-256. The sandbox does all of that but the cryptography: it has
no Sigstore roots offline, and its test signatures come from a local certificate. The texts
and the status code are PyPI's, so a client meets here the refusals it would meet there.
"""

from __future__ import annotations

import json
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

__all__ = ["MAX_ATTESTATIONS", "PREDICATE_TYPES", "AttestationRefusal", "check_attestations"]

#: The predicate types PyPI takes (warehouse's SUPPORTED_ATTESTATION_TYPES).
PREDICATE_TYPES = (
    "https://docs.pypi.org/attestations/publish/v1",
    "https://slsa.dev/provenance/v1",
)
#: At most one attestation per supported predicate type.
MAX_ATTESTATIONS = len(PREDICATE_TYPES)

# warehouse/forklift/legacy.py wraps every AttestationUploadError in this (HTTP 400).
_PREFIX = "Invalid attestations supplied during upload: "
# warehouse/attestations/services.py, around pypi-attestations' VerificationError, whose
# text starts "Verification failed: ".
_NOT_VERIFIED = "Could not verify the uploaded artifact using the included attestation: "


class AttestationRefusal(Exception):
    """The upload's attestations are refused; ``message`` is PyPI's full text."""

    def __init__(self, reason: str) -> None:
        self.message = _PREFIX + reason
        super().__init__(self.message)


def check_attestations(
    raw: str, *, trusted_publishing: bool, filename: str, sha256: str
) -> list[dict[str, Any]]:
    """The attestations of one upload, decoded, or an ``AttestationRefusal``."""
    if not trusted_publishing:
        raise AttestationRefusal("Attestations are only supported when using Trusted Publishing")
    try:
        from pydantic import TypeAdapter, ValidationError
        from pypi_attestations import Attestation
    except ImportError:
        # Not PyPI's text: PyPI always can. Refusing beats storing what was never checked.
        raise AttestationRefusal(
            "this sandbox can't check attestations: the pypi-attestations package is not "
            "installed where it runs (pip install pypi-attestations)"
        ) from None
    try:
        attestations = TypeAdapter(list[Attestation]).validate_json(raw)
    except ValidationError as exc:
        raise AttestationRefusal(f"Malformed attestations: {exc}") from None
    if not attestations:
        raise AttestationRefusal(
            "Malformed attestations: an empty attestation set is not permitted"
        )
    if len(attestations) > MAX_ATTESTATIONS:
        raise AttestationRefusal(
            f"A maximum of {MAX_ATTESTATIONS} attestations per file are supported"
        )
    seen: set[str] = set()
    for attestation in attestations:
        try:
            predicate_type = _verify_statement(attestation.envelope.statement, filename, sha256)
        except _VerificationError as exc:
            raise AttestationRefusal(f"{_NOT_VERIFIED}Verification failed: {exc}") from None
        if predicate_type in seen:
            raise AttestationRefusal(
                "Multiple attestations for the same file with the same predicate type "
                f"({predicate_type}) are not supported"
            )
        seen.add(predicate_type)
    decoded: list[dict[str, Any]] = json.loads(raw)
    return decoded


class _VerificationError(Exception):
    pass


def _verify_statement(statement: bytes, filename: str, sha256: str) -> str:
    """The checks of pypi-attestations' ``Attestation.verify`` after the signature's, with
    its texts; returns the statement's predicate type."""
    try:
        parsed = json.loads(statement)
        subjects = parsed["subject"]
        predicate_type = parsed["predicateType"]
        if parsed.get("_type") != "https://in-toto.io/Statement/v1":
            raise ValueError("_type must be https://in-toto.io/Statement/v1")
        if not isinstance(subjects, list) or not isinstance(predicate_type, str):
            raise TypeError("subject must be a list and predicateType a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise _VerificationError(f"invalid statement: {exc}") from None
    if len(subjects) != 1:
        raise _VerificationError("too many subjects in statement (must be exactly one)")
    subject = subjects[0] if isinstance(subjects[0], dict) else {}
    name = subject.get("name")
    if not name or not isinstance(name, str):
        raise _VerificationError("invalid subject: missing name")
    try:
        subject_parsed = _parse_dist_filename(name)
    except ValueError as exc:
        raise _VerificationError(f"invalid subject: {exc}") from None
    # Equal once parsed (so a non-normalized spelling of the same file passes), as PyPI does.
    if subject_parsed != _parse_dist_filename(filename):
        raise _VerificationError(f"subject does not match distribution name: {name} != {filename}")
    digests = subject.get("digest")
    if not isinstance(digests, dict) or digests.get("sha256") != sha256:
        raise _VerificationError("subject does not match distribution digest")
    if predicate_type not in PREDICATE_TYPES:
        raise _VerificationError(f"unknown attestation type: {predicate_type}")
    return predicate_type


def _parse_dist_filename(name: str) -> tuple[Any, ...]:
    if name.endswith(".whl"):
        try:
            return parse_wheel_filename(name)
        except InvalidWheelFilename as exc:
            raise ValueError(str(exc)) from None
    if name.endswith((".tar.gz", ".zip")):
        try:
            return parse_sdist_filename(name)
        except InvalidSdistFilename as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"unknown distribution format: {name}")
