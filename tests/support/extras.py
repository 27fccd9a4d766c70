"""This test process as the action's private venv would look, for the optional extras' paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trusted_publish.runtime import extras

#: An installer that fails the way pip does without a network: a message, exit code 1.
FAILING_INSTALLER = [sys.executable, "-c", "import sys; sys.exit('ERROR: no network')"]


def without_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make `names` fail to import for the rest of the test, as if never installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]


def as_private_venv(monkeypatch: pytest.MonkeyPatch, folder: Path, install: list[str]) -> None:
    """Run the rest of the test as if inside the action's own venv at `folder`, whose setup
    step recorded `install` as the command that installs into it."""
    folder.mkdir(parents=True, exist_ok=True)
    extras.mark_private_venv(folder, install)
    monkeypatch.setattr(sys, "prefix", str(folder))
