"""A tiny package that trusted-publish uploads in its demos and tests."""

__version__ = "1.0.0"

__all__ = ["__version__", "greet"]


def greet(name: str) -> str:
    """Return a friendly greeting for ``name``."""
    return f"Hello, {name}!"
