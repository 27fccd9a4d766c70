"""The client and the sandbox stay apart, and every module stays readable.

Read from the source with ``ast`` (nothing is imported): the client (src/trusted_publish)
never imports the sandbox (src/trusted_publish_sandbox); the sandbox imports from the client
only the shared PyPI rules (trusted_publish.dists.pypi_rules), which import nothing else of
the client; each of warehouse's texts stands in one file; no module of either package takes
part in an import cycle; no module is over 500 lines; no stage module imports the report (the
conductor alone writes it). Imports inside functions and under
``if TYPE_CHECKING:`` count too.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
CLIENT, SANDBOX = "trusted_publish", "trusted_publish_sandbox"
#: PyPI's rules, ported once: the one part of the client the sandbox imports.
RULES = f"{CLIENT}.dists.pypi_rules"
#: The packages on the way to RULES: importing RULES runs them, so they stay empty.
RULES_PARENTS = (CLIENT, f"{CLIENT}.dists")
MAX_LINES = 500
#: Client modules allowed over MAX_LINES for now, each with its reason (module -> reason).
#: The client is changed on other branches; it is split there, not here.
OVER_THE_LIMIT: dict[str, str] = {}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (the package itself too)."""
    found = {}
    for path in sorted((SRC / package).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


ALL_MODULES = {**modules(CLIENT), **modules(SANDBOX)}


def imports_of(module: str, path: Path) -> set[str]:
    """The dotted names a module imports, relative imports made absolute.

    ``from . import dists`` names the module ``pkg.dists``; ``from .x import Y`` names
    ``pkg.x`` (Y is not a module).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            submodules &= ALL_MODULES.keys()
            names.update(submodules or {target})
    return names


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    return {
        module: {name for name in imports_of(module, path) if in_package(name, package)}
        & ALL_MODULES.keys()
        for module, path in modules(package).items()
    }


def find_cycle(graph: Mapping[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] when there is none (depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_client_never_imports_the_sandbox() -> None:
    crossing = sorted(
        f"{module} imports {name}"
        for module, path in modules(CLIENT).items()
        for name in imports_of(module, path)
        if in_package(name, SANDBOX)
    )
    assert crossing == []


def test_the_sandbox_imports_only_the_shared_rules_of_the_client() -> None:
    crossing = sorted(
        f"{module} imports {name}"
        for module, path in modules(SANDBOX).items()
        for name in imports_of(module, path)
        if in_package(name, CLIENT) and not in_package(name, RULES)
    )
    assert crossing == []
    # ...and it does use them: the upload view judges with the client's rules.
    assert f"{RULES}.dist_files" in imports_of(
        f"{SANDBOX}.archive", ALL_MODULES[f"{SANDBOX}.archive"]
    )


def test_the_rules_import_nothing_else_of_the_client() -> None:
    outside = sorted(
        f"{module} imports {name}"
        for module, path in ALL_MODULES.items()
        if in_package(module, RULES)
        for name in imports_of(module, path)
        if in_package(name, CLIENT) and not in_package(name, RULES)
    )
    assert outside == []


@pytest.mark.parametrize("package", RULES_PARENTS)
def test_the_packages_above_the_rules_import_nothing(package: str) -> None:
    tree = ast.parse(ALL_MODULES[package].read_text(encoding="utf-8"))
    assert [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))] == []


@pytest.mark.parametrize("package", [CLIENT, SANDBOX])
def test_no_import_cycle(package: str) -> None:
    assert find_cycle(import_graph(package)) == []


def test_the_checks_see_imports_and_cycles() -> None:
    # The walker finds relative, `from . import x` and in-function imports...
    assert f"{SANDBOX}.server" in import_graph(SANDBOX)[f"{SANDBOX}.core"]
    assert f"{SANDBOX}.checks" in import_graph(SANDBOX)[f"{SANDBOX}.warehouse"]
    assert f"{RULES}.dist_files" in imports_of(f"{SANDBOX}.form", ALL_MODULES[f"{SANDBOX}.form"])
    assert f"{CLIENT}.inputs" in import_graph(CLIENT)[f"{CLIENT}.cli"]
    # ...and the search reports a cycle when there is one.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(ALL_MODULES))
def test_module_is_at_most_500_lines(module: str) -> None:
    if module in OVER_THE_LIMIT:
        pytest.skip(f"{module}: {OVER_THE_LIMIT[module]}")
    lines = len(ALL_MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


#: What `ls src/trusted_publish` shows a newcomer: the entry points, the leaves every stage
#: uses, and one folder per stage. Package plumbing does not count.
MAX_TOP_ENTRIES = 12
PLUMBING = {"__init__.py", "__main__.py", "py.typed", "__pycache__"}
STAGES = ("dists", "credentials", "index")


def test_the_clients_top_level_is_short_and_names_the_stages() -> None:
    entries = sorted(p.name for p in (SRC / CLIENT).iterdir() if p.name not in PLUMBING)
    assert len(entries) <= MAX_TOP_ENTRIES, entries
    assert all((SRC / CLIENT / stage).is_dir() for stage in STAGES), entries


def test_no_test_module_imports_another() -> None:
    # Shared helpers live in tests/support; a test module importing another couples two
    # behaviours' tests and runs the other module's collection-time code.
    tests = Path(__file__).resolve().parent
    test_modules = {path.stem for path in tests.rglob("test_*.py")}
    crossing = sorted(
        f"{path.relative_to(tests)} imports {name}"
        for path in tests.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
        if name.split(".")[0] in test_modules
    )
    assert crossing == []


#: The stage folders (and the plumbing they run on): each returns its results, or announces
#: them through a Protocol it defines, and the conductor (publish.py) hands them to the report.
STAGE_PACKAGES = ("dists", "credentials", "index", "http", "runtime")
REPORT = f"{CLIENT}.report"


def report_importers(graph: Mapping[str, set[str]]) -> list[str]:
    """The stage modules of ``graph`` that import the report."""
    stages = tuple(f"{CLIENT}.{name}" for name in STAGE_PACKAGES)
    return sorted(
        module
        for module, imported in graph.items()
        if any(in_package(module, stage) for stage in stages) and REPORT in imported
    )


def test_no_stage_module_imports_the_report() -> None:
    assert report_importers(import_graph(CLIENT)) == []


def test_the_check_sees_a_stage_importing_the_report(tmp_path: Path) -> None:
    stage = tmp_path / "scheduler.py"
    stage.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from trusted_publish.report import Status\n",
        encoding="utf-8",
    )
    scheduler = f"{CLIENT}.index.scheduler"
    graph = {scheduler: imports_of(scheduler, stage), f"{CLIENT}.publish": {REPORT}}
    # The stage is caught (an import under TYPE_CHECKING counts); the conductor may import it.
    assert report_importers(graph) == [scheduler]


# --- each of warehouse's texts in one place --------------------------------------------------

#: A string of the rules with a space and at least this long is a text (a refusal, a reason,
#: what to do), not a field name or a fragment like "for more information.".
MIN_TEXT = 24
#: Texts the collection must find (a check that it collects at all).
KNOWN_REFUSALS = (
    "is not a valid metadata version",
    "unsupported platform tag",
    "Duplicate filename in local headers",
    "Invalid distribution file.",
    "The description failed to render",
    "Only one sdist may be uploaded per release.",
)


def strings_of(path: Path) -> list[str]:
    """Every string literal of a module but its docstrings; of an f-string, its fixed parts."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def rule_texts() -> set[str]:
    """The texts of the rules package: warehouse's refusals and reasons, and our advice."""
    return {
        text.strip()
        for module, path in ALL_MODULES.items()
        if in_package(module, RULES)
        for text in strings_of(path)
        if len(text.strip()) >= MIN_TEXT and " " in text.strip()
    }


def test_the_rule_texts_are_collected() -> None:
    texts = rule_texts()
    missing = [known for known in KNOWN_REFUSALS if not any(known in text for text in texts)]
    assert missing == []


def test_each_warehouse_text_stands_in_one_file() -> None:
    strings = {path: strings_of(path) for path in ALL_MODULES.values()}
    where = {
        text: sorted(
            str(path.relative_to(SRC))
            for path, found in strings.items()
            if any(text in string for string in found)
        )
        for text in rule_texts()
    }
    assert {text: files for text, files in where.items() if len(files) != 1} == {}
