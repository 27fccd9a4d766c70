"""Test infrastructure: real servers on 127.0.0.1, the demo package, and twine as a reference.

The pytest fixtures live in ``tests/conftest.py``; everything here is plain code so that
other test modules, benchmarks and session-scoped fixtures can reuse it directly.
"""
