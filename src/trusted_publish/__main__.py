"""`python -m trusted_publish`: the same as the `trusted-publish` command."""

from __future__ import annotations

import sys

from trusted_publish.cli import main

if __name__ == "__main__":
    sys.exit(main())
