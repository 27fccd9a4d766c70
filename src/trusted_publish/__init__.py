"""trusted-publish: publish Python distributions to PyPI with trusted publishing (OIDC)."""

__version__ = "1.0.0"
