"""The process a run lives in: the action's private venv (bootstrap), the locked extras
installed into it on demand, and the signals it obeys."""
