"""A local emulator of GitHub's OIDC token service and PyPI, for tests and dry runs.

``Sandbox`` serves both on loopback from one process: the token endpoint a GitHub
runner exposes to jobs with ``id-token: write`` (plus its JWKS), and a PyPI with
trusted publishing (``/_/oidc/audience``, ``/_/oidc/mint-token``), the legacy upload
API (``/legacy/``), the simple index and the JSON API. Answers, status codes and
texts follow pypi/warehouse. ``python -m trusted_publish_sandbox`` runs it standalone.
"""

from __future__ import annotations

from .core import TRUSTED_PUBLISHING_MODES, Sandbox
from .index import MintedToken, StoredFile, UploadAttempt
from .oidc import Identity
from .publishing import MintRecord, Publisher

__all__ = [
    "TRUSTED_PUBLISHING_MODES",
    "Identity",
    "MintRecord",
    "MintedToken",
    "Publisher",
    "Sandbox",
    "StoredFile",
    "UploadAttempt",
]
