"""A local emulator of the CIs' OIDC issuers and PyPI, for tests and dry runs.

``Sandbox`` serves them on loopback from one process: the token endpoint a GitHub
runner exposes to jobs with ``id-token: write`` (plus its JWKS), a GitLab instance's and
Google's issuers (their own keys and claims) with Google's metadata server, and a PyPI with
trusted publishing (``/_/oidc/audience``, ``/_/oidc/mint-token``), the legacy upload
API (``/legacy/``), the simple index and the JSON API. Answers, status codes and
texts follow pypi/warehouse. ``python -m trusted_publish_sandbox`` runs it standalone.

This package imports nothing from the client (``trusted_publish``) and the client imports
nothing from it: ``trusted-publish sandbox`` starts it as a child process.
"""

from __future__ import annotations

from .auth import IssuedToken
from .core import TRUSTED_PUBLISHING_MODES, Sandbox
from .gitlab import GitLabIdentity, GitLabPublisher
from .google import GoogleIdentity, GooglePublisher
from .oidc import Identity
from .publishing import MintRecord, RegisteredPublisher
from .storage import StoredFile
from .warehouse import UploadAttempt, Warehouse

__all__ = [
    "TRUSTED_PUBLISHING_MODES",
    "GitLabIdentity",
    "GitLabPublisher",
    "GoogleIdentity",
    "GooglePublisher",
    "Identity",
    "IssuedToken",
    "MintRecord",
    "RegisteredPublisher",
    "Sandbox",
    "StoredFile",
    "UploadAttempt",
    "Warehouse",
]
