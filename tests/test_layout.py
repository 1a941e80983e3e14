"""The shape of the house (DESIGN §7): no import circle between files, the import direction, and
modules of a readable size. Every import counts, also those inside functions or TYPE_CHECKING."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "eventtree"
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that `path` imports (a name imported from a package counts as its
    submodule when there is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.startswith("eventtree"):
                found.add(name)
    found.discard(module_name(path))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = source_files()
    # A package's own submodules reached through its __init__ are not a dependency of a file on
    # the package: `from eventtree.models import Form` depends on models/__init__ only.
    # Parsed in a thread of its own: after a RecursionError caught earlier in a thread (a test of
    # deeply nested input), CPython 3.11.7's ast.parse there raises "SystemError: AST constructor
    # recursion depth mismatch" (gh-106905); a new thread starts with a sound count.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: {name: imports_of(path, modules) for name, path in modules.items()}).result()


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph.get(name, ()))
    return seen


def test_no_import_circle_between_files(graph):
    circles = sorted(name for name in graph if name in reachable(graph, name))
    assert circles == []


def test_the_run_context_and_the_errors_reach_no_action(graph):
    assert graph["eventtree.errors"] == set()
    assert not {name for name in reachable(graph, "eventtree.engine.context") if name.startswith("eventtree.actions")}


def test_selectors_never_import_services(graph):
    assert not {name for name in reachable(graph, "eventtree.selectors") if name.startswith("eventtree.services")}
    assert not {name for name in reachable(graph, "eventtree.selectors_runs") if name.startswith("eventtree.services")}


def test_only_the_dispatch_module_imports_django_q():
    importers = sorted(
        name for name, path in source_files().items()
        if any(
            (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django_q"))
            or (isinstance(node, ast.Import) and any(a.name.startswith("django_q") for a in node.names))
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert importers == ["eventtree.engine.dispatch"]


def test_no_module_is_over_300_lines():
    long = {name: n for name, path in source_files().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_models_import_nothing_above_them(graph):
    assert {name for name in reachable(graph, "eventtree.models") if not name.startswith("eventtree.models")} == set()
