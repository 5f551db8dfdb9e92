"""The analytics package keeps its promise (analytics/__init__.py): only the standard library,
nothing that does I/O or reads the clock, nothing from the services' packages. Read from the
source with ast, so a forbidden import fails here even if no test exercises its line."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import analytics

PACKAGE = Path(analytics.__file__).parent
SOURCES = sorted(PACKAGE.glob("*.py"))
#: Standard-library modules that do I/O, read the clock, or draw random numbers.
IMPURE = {
    "asyncio",
    "datetime",
    "http",
    "io",
    "logging",
    "os",
    "pathlib",
    "random",
    "select",
    "shutil",
    "socket",
    "sqlite3",
    "ssl",
    "subprocess",
    "sys",
    "threading",
    "time",
    "urllib",
}
IMPURE_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_package_has_its_modules() -> None:
    names = {p.stem for p in SOURCES}
    assert {"__init__", "ispu", "traffic", "los", "flood"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_module_imports_only_pure_standard_library(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    imported = _imports(tree) - {"__future__", "analytics"}
    outside = {m for m in imported if m not in sys.stdlib_module_names}
    assert not outside, f"{path.name} imports {sorted(outside)} (not the standard library)"
    assert not imported & IMPURE, f"{path.name} imports {sorted(imported & IMPURE)}"
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & IMPURE_CALLS, f"{path.name} calls {sorted(calls & IMPURE_CALLS)}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_module_opens_with_its_guarantees_and_stays_small(path: Path) -> None:
    text = path.read_text()
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert doc, f"{path.name} has no module docstring"
    assert len(text.splitlines()) <= 400, f"{path.name} is longer than 400 lines"
