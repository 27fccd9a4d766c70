"""trusted-publish: publish Python distributions to PyPI with trusted publishing (OIDC)."""

__version__ = "0.1.0"
