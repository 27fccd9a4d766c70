"""The benchmark scripts still fit the code they measure (they are run by hand, not here)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=[p.name for p in BENCHMARKS])
def test_every_name_a_benchmark_imports_from_us_exists(script: Path) -> None:
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
            ("trusted_publish", "support")
        ):
            continue
        module = importlib.import_module(node.module or "")
        for alias in node.names:
            found = hasattr(module, alias.name) or (
                hasattr(module, "__path__")  # a package: the name may be a sub-module
                and importlib.util.find_spec(f"{node.module}.{alias.name}") is not None
            )
            assert found, f"{script.name}: from {node.module} import {alias.name}"


@pytest.mark.parametrize("script", BENCHMARKS, ids=[p.name for p in BENCHMARKS])
def test_every_module_a_benchmark_imports_exists(script: Path) -> None:
    # A test helper moved (tests/builders.py -> tests/support/builders.py) leaves a script
    # that imports it by its old name; the scripts put tests/ on sys.path, as pytest does.
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert importlib.util.find_spec(name) is not None, f"{script.name}: import {name}"
