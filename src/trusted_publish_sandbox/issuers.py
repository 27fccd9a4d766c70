"""The CIs' token services over HTTP: GitHub's token endpoint, each issuer's discovery
document and JWKS (what PyPI fetches to check signatures), and Google's metadata server."""

from __future__ import annotations

import hmac

from .google import metadata_secret_of
from .handler import BaseHandler
from .oidc import SigningKey, openid_configuration


class IssuerRoutes(BaseHandler):
    """The routes under ``/_github/``, ``/_gitlab/``, ``/_google/`` and the metadata path
    (under its secret prefix)."""

    def _issuers(self, path: str, query: dict[str, list[str]]) -> None:
        sandbox = self.server.sandbox
        if path.startswith("/_github/"):
            self._github(path, query)
        elif path == "/_gitlab/token":
            # Not GitLab's: GitLab hands a job its ID tokens in variables. This lets a script
            # driving the sandbox's command line get one to put in PYPI_ID_TOKEN.
            if self._bearer_ok():
                audience = (query.get("audience") or ["pypi"])[0]
                self._send(200, sandbox.gitlab_id_token(audience).encode())
        elif path.startswith("/_gitlab/"):
            self._discovery(path, "/_gitlab", sandbox.gitlab_issuer, sandbox.gitlab_key)
        elif path.startswith("/_google/"):
            self._discovery(path, "/_google", sandbox.google_issuer, sandbox.google_key)
        elif metadata_secret_of(path) is not None:
            self._metadata_identity(path, query)
        else:
            self._send_message(404, "Not Found")

    def _github(self, path: str, query: dict[str, list[str]]) -> None:
        sandbox = self.server.sandbox
        if path == "/_github/token":
            if not self._bearer_ok():
                return
            audience = query.get("audience", [None])[0]
            token = sandbox.id_token(audience)
            self._send_json(200, {"count": 1, "value": token})
        else:
            self._discovery(path, "/_github", sandbox.issuer, sandbox.key)

    def _bearer_ok(self) -> bool:
        """The runner's request token is in the Authorization header; else answer 401."""
        expected = self.server.sandbox.oidc_request_token
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credential.strip().encode(), expected.encode()
        ):
            self._send_json(401, {"message": "Bad credentials"})
            return False
        return True

    def _discovery(self, path: str, prefix: str, issuer: str, key: SigningKey) -> None:
        """An issuer's discovery document and JWKS: what PyPI fetches to check signatures."""
        if path == f"{prefix}/.well-known/jwks":
            self._send_json(200, key.jwks())
        elif path == f"{prefix}/.well-known/openid-configuration":
            self._send_json(200, openid_configuration(issuer))
        else:
            self._send_message(404, "Not Found")

    # -- Google's metadata server ------------------------------------------------------

    def _metadata_identity(self, path: str, query: dict[str, list[str]]) -> None:
        # Its bearer: the secret path prefix only the client's GCE_METADATA_HOST knows.
        # Every token path of the sandbox needs one (GitHub's and GitLab's the request
        # token): any process on the machine could otherwise mint for any project.
        secret = metadata_secret_of(path) or ""
        expected = self.server.sandbox.metadata_secret
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            self._send(
                403,
                b"The sandbox's metadata server is served under the secret path its "
                b"GCE_METADATA_HOST names (host:port/<secret>).\n",
            )
            return
        # The metadata server answers only requests that carry this header (it keeps a
        # page that merely fetches a URL from reading the machine's credentials).
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, b"Missing required header: Metadata-Flavor: Google\n")
            return
        audience = (query.get("audience") or [""])[0]
        if not audience:
            self._send(400, b"non-empty audience parameter required\n")
            return
        token = self.server.sandbox.google_id_token(audience)
        self._send(200, token.encode(), "text/html", headers={"Metadata-Flavor": "Google"})
