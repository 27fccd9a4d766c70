"""`trusted-publish sandbox`: the emulator run as a child process, or why it can't be.

The client never imports the sandbox (package trusted_publish_sandbox, a sibling with its
own dependencies, the `[sandbox]` extra): it checks that the extra is there, without
importing it, then runs `python -m trusted_publish_sandbox` and passes signals on.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trusted_publish.errors import InputError

#: The modules the `[sandbox]` extra brings that the client lacks (pyproject.toml's extra).
SANDBOX_MODULES = ("jwt", "cryptography", "readme_renderer")


def _missing_modules(names: Sequence[str]) -> list[str]:
    """Which of `names` can't be imported, found without importing them."""
    import importlib.util

    missing = []
    for name in names:
        try:
            found = sys.modules[name] if name in sys.modules else importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            missing.append(name)
    return missing


def run_sandbox(args: Sequence[str]) -> int:
    """Run the emulator (package trusted_publish_sandbox) as a child process.

    The client never imports the sandbox: it is a sibling package with its own
    dependencies (the `[sandbox]` extra). SIGTERM is passed on to the child, which stops
    cleanly; Ctrl-C reaches the child from the terminal too, and ends here in 130.
    """
    import signal
    import subprocess
    import threading

    missing = _missing_modules(SANDBOX_MODULES)
    if missing:
        raise InputError(
            "`trusted-publish sandbox` needs the [sandbox] extra, which is not installed "
            f"(no module {', '.join(missing)}).",
            fix="Install it: pip install 'trusted-publish[sandbox]' (or `uv tool install "
            "'trusted-publish[sandbox]'`).",
        )
    child = subprocess.Popen([sys.executable, "-m", "trusted_publish_sandbox", *args])

    def _forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    # Signal handlers can only be set from the main thread (a caller may run main() elsewhere).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _forward) if in_main_thread else None
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    # A child ended by a signal has a negative code; a shell would say 128 + the signal.
    return code if code >= 0 else 128 - code
