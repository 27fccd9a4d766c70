"""``python -m trusted_publish_sandbox``: run the sandbox until SIGTERM or SIGINT."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
