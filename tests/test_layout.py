"""The layout a newcomer relies on: each page a short script, each page's widgets in its own UI module, one module
that reads settings and opens the warehouse."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT

PAGES = sorted((PROJECT / "app_pages").glob("*.py"))
UI = PROJECT / "ui"
SHARED = {"session", "widgets", "__init__"}  # the UI modules any page may use
PAGE_MODULES = sorted(path for path in UI.glob("*.py") if path.stem not in SHARED)
MAX_PAGE_LINES = 40


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(path: Path) -> set[str]:
    """Modules a file imports, with ``from ui import x`` read as ``ui.x``."""
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def _called(path: Path) -> set[str]:
    return {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for node in ast.walk(_tree(path)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)}


def test_the_layout_finds_every_page_and_its_ui_modules() -> None:
    assert {p.stem for p in PAGES} >= {"overview", "trends", "team", "staffing", "complaints", "imports", "data"}
    assert {p.stem for p in PAGE_MODULES} >= {"overview", "trends", "staffing", "complaints", "imports", "data"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_a_page_is_a_short_script_without_functions_or_sql(page: Path) -> None:
    """A page reads top to bottom: no def, no SQL, no cursor; what it needs of its own lives in ui/<page>.py."""
    text = page.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_PAGE_LINES, f"{page.name} is longer than {MAX_PAGE_LINES} lines"
    tree = _tree(page)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)]
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in strings if re.search(r"\b(SELECT|INSERT|UPDATE|DELETE|WITH)\b", s)]
    assert not {"execute", "cursor", "sql"} & _called(page)


@pytest.mark.parametrize("module", PAGE_MODULES, ids=lambda p: p.stem)
def test_a_page_ui_module_never_imports_another_pages_module(module: Path) -> None:
    others = {f"ui.{p.stem}" for p in PAGE_MODULES if p != module}
    assert not _imported(module) & others


def test_only_the_session_module_reads_settings_or_opens_the_warehouse() -> None:
    """get_settings() and Warehouse(...) appear in ui/session.py alone among the pages, the frame and the UI."""
    files = [PROJECT / "dashboard.py", *PAGES, *UI.glob("*.py")]
    offenders = [f.relative_to(PROJECT).as_posix() for f in files
                 if f.name != "session.py" and {"get_settings", "Warehouse"} & _called(f)]
    assert offenders == []
    assert {"get_settings", "Warehouse"} <= _called(UI / "session.py")
