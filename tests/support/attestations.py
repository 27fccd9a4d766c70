"""A local signer: PEP 740 attestations made offline, shaped exactly like Sigstore's.

Sigstore signs with an ephemeral key, a certificate from Fulcio and an entry in Rekor; none
of them can be reached from a test. This signer does the same with a key and a self-signed
certificate of its own, and a transparency-log entry of the right shape: every model of
pypi-attestations takes the result, which is all the code under test and the sandbox check
(neither verifies Sigstore's cryptography offline). The statement is what
`pypi_attestations.Attestation.sign` builds: one subject, the file name and its SHA-256.

Beside it, the rest of the offline Sigstore setup the tests share: an attestation of a file
on disk, one written where an earlier step leaves it (`<file>.publish.attestation`), the
subject read back out of one, and `sigstore_unreachable` for a test that runs the real
Sigstore signer up to the point where it would leave the machine.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import time
from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pypi_attestations import Attestation

from trusted_publish.credentials.attestations import PUBLISH_PREDICATE, SUFFIX, SigningError
from trusted_publish.dists.discover import Distribution

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


class LocalSigner:
    """A `Signer` that never touches the network; it records the files it signed."""

    def __init__(self, *, fail_on: Container[str] = ()) -> None:
        self.signed: list[str] = []
        self._fail_on = fail_on
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.local")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(minutes=10))  # as long as Fulcio's
            .sign(self._key, hashes.SHA256())
        )

    def sign(self, dist: Distribution) -> dict[str, Any]:
        if dist.filename in self._fail_on:
            raise SigningError(
                "Sigstore's transparency log could not be reached: the connection was refused.",
                fix="Re-run the job later.",
            )
        self.signed.append(dist.filename)
        return self.attestation(dist.filename, dist.sha256)

    def attestation(
        self, name: str, sha256: str, *, predicate_type: str = PUBLISH_PREDICATE
    ) -> dict[str, Any]:
        """The attestation of a file called `name` with this digest (any name, any digest)."""
        statement = json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": name, "digest": {"sha256": sha256}}],
                "predicateType": predicate_type,
                "predicate": None,
            },
            separators=(",", ":"),
        ).encode()
        signature = self._key.sign(_pae(PAYLOAD_TYPE, statement), ec.ECDSA(hashes.SHA256()))
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"payloadHash": {"algorithm": "sha256", "value": sha256}},
        }
        entry = {
            "logIndex": "1",
            "logId": {"keyId": _b64(hashlib.sha256(der).digest())},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(int(time.time())),
            "inclusionPromise": {"signedEntryTimestamp": _b64(b"local")},
            "canonicalizedBody": _b64(json.dumps(body).encode()),
        }
        attestation = {
            "version": 1,
            "verification_material": {"certificate": _b64(der), "transparency_entries": [entry]},
            "envelope": {"statement": _b64(statement), "signature": _b64(signature)},
        }
        # Through pypi-attestations' own model, as the real signer's output goes.
        shaped: dict[str, Any] = json.loads(
            Attestation.model_validate(attestation).model_dump_json()
        )
        return shaped


def attestation_of(path: Path, signer: LocalSigner | None = None) -> dict[str, Any]:
    """The local signer's attestation of the file at `path` (its name, its bytes' SHA-256)."""
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return (signer or LocalSigner()).attestation(path.name, sha256)


def write_attestation(path: Path, attestation: dict[str, Any]) -> Path:
    """`attestation` beside the distribution at `path`, as an earlier step (a build job)
    leaves it for the publish to use; the attestation file's path."""
    target = Path(f"{path}{SUFFIX}")
    target.write_text(json.dumps(attestation), encoding="utf-8")
    return target


def subject_of(attestation: dict[str, Any]) -> tuple[str, str]:
    """(file name, SHA-256) that the attestation's one statement subject names."""
    statement = json.loads(base64.b64decode(attestation["envelope"]["statement"]))
    [subject] = statement["subject"]
    return subject["name"], subject["digest"]["sha256"]


def sigstore_unreachable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Sigstore out of reach, whatever network the machine has: every request beyond
    loopback goes through a proxy on a closed port (Sigstore's TUF repository is the first
    it would ask), and sigstore's TUF cache lives under `tmp_path`, not this user's folders.
    """
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def local_sigstore_check(
    attestation: Mapping[str, Any], publisher: object, filename: str, sha256: str
) -> Optional[str]:
    """`provenance.sigstore_check` with the local signer's trust in place of Sigstore's: the
    certificate must be one of the local signer's (organization `sigstore.local`), the DSSE
    signature must hold under its key, and the statement's one subject must be the file.
    Real cryptography, with a root of trust the tests made (it binds no publisher: that
    comparison is the bundle's, done before)."""
    try:
        der = base64.b64decode(attestation["verification_material"]["certificate"])
        certificate = x509.load_der_x509_certificate(der)
        envelope = attestation["envelope"]
        statement = base64.b64decode(envelope["statement"])
        signature = base64.b64decode(envelope["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"not an attestation ({exc})"
    organization = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if [a.value for a in organization] != ["sigstore.local"]:
        return "a certificate from outside the local root of trust"
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(signature, _pae(PAYLOAD_TYPE, statement), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify"
    [subject] = json.loads(statement)["subject"]
    if (subject["name"], subject["digest"]["sha256"]) != (filename, sha256):
        return "the statement names another file"
    return None
