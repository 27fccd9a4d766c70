"""Run the installed twine as the reference client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from support.capture import CapturedRequest, CaptureServer
from support.dists import dist_files
from support.multipart import FormField
from support.procs import child_env

# The ``twine_capture`` fixture: dist folder -> twine's forms keyed by file name.
TwineCapture = Callable[[Path], "dict[str, list[FormField]]"]

# A token-shaped password: twine treats ``__token__`` + ``pypi-...`` as an API token.
FAKE_TOKEN = "pypi-fake-token"


class TwineError(RuntimeError):
    """twine exited non-zero."""


def twine_upload(
    files: Sequence[Path],
    repository_url: str,
    username: str,
    password: str,
    *,
    extra_args: Sequence[str] = (),
    check: bool = True,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """``python -m twine upload`` with explicit credentials and no prompts or keyring."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--repository-url",
            repository_url,
            "-u",
            username,
            "-p",
            password,
            "--non-interactive",
            "--disable-progress-bar",
            *extra_args,
            *(str(path) for path in files),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise TwineError(
            f"twine upload to {repository_url} failed with code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def twine_requests(dist_dir: Path, server: CaptureServer) -> list[CapturedRequest]:
    """Upload every distribution in ``dist_dir`` to ``server`` with twine; return what it sent."""
    before = len(server.requests)
    twine_upload(dist_files(dist_dir), server.url, "__token__", FAKE_TOKEN)
    return server.requests[before:]


def twine_capture(dist_dir: Path, server: CaptureServer) -> dict[str, list[FormField]]:
    """twine's upload forms, keyed by the file name of their ``content`` part.

    The reference for parity tests: fields in the order twine sent them, repeated fields
    repeated, file parts as (filename, bytes, content type).
    """
    forms: dict[str, list[FormField]] = {}
    for request in twine_requests(dist_dir, server):
        form = request.form()
        contents = [value for name, value in form if name == "content"]
        if len(contents) != 1 or not isinstance(contents[0], tuple):
            raise AssertionError(f"{request.method} {request.path}: no single content part")
        forms[contents[0][0]] = form
    return forms
