"""What the metrics layer may import: no Streamlit, and settings only as values its callers pass in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT

METRICS = sorted((PROJECT / "metrics").glob("*.py"))
CLIS = {"report.py"}  # an entry point reads the settings once and hands them down


def _imported_names(path: Path) -> set[str]:
    """Every module and every name a file imports ("settings", "settings.get_settings", "streamlit", ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", METRICS, ids=lambda p: p.name)
def test_metrics_module_never_imports_streamlit(path: Path) -> None:
    assert not {name for name in _imported_names(path) if name.split(".")[0] == "streamlit"}


@pytest.mark.parametrize("path", [p for p in METRICS if p.name not in CLIS], ids=lambda p: p.name)
def test_metrics_module_takes_settings_from_its_caller_never_from_the_environment(path: Path) -> None:
    reads = {"settings.get_settings", "settings.load_settings"} & _imported_names(path)
    assert not reads, f"{path.name} reads the settings itself: take `settings: Settings` as an argument"
