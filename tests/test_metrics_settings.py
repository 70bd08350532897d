"""Metrics take settings from their caller: never from the environment, never by a hidden default."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PROJECT

METRICS = sorted((PROJECT / "metrics").glob("*.py"))
CLIS = {"report.py"}  # an entry point reads the settings once and hands them down


def _imported_names(path: Path) -> set[str]:
    """Every module and every name a file imports ("settings", "settings.get_settings", ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _functions_taking_settings() -> dict[str, Callable[..., object]]:
    """module.function -> the function, for every function of metrics/ with a ``settings`` parameter."""
    found = {}
    for path in METRICS:
        module = importlib.import_module(f"metrics.{path.stem}")
        for name, member in vars(module).items():
            if inspect.isfunction(member) and member.__module__ == module.__name__ \
                    and "settings" in inspect.signature(member).parameters:
                found[f"{path.stem}.{name}"] = member
    return found


TAKING_SETTINGS = _functions_taking_settings()


@pytest.mark.parametrize("path", [p for p in METRICS if p.name not in CLIS], ids=lambda p: p.name)
def test_metrics_module_never_reads_the_settings_itself(path: Path) -> None:
    reads = {"settings.get_settings", "settings.load_settings"} & _imported_names(path)
    assert not reads, f"{path.name} reads the settings itself: take `settings: Settings` as an argument"


def test_metrics_functions_taking_settings_are_found() -> None:
    """Functions taking settings are found in query, peaks, staffing, complaints, distributions: the check has work."""
    assert {"query.query", "query.execute", "query.default_filters", "peaks.peak_options", "staffing.peak_gap",
            "complaints.category_shares", "distributions.duration_buckets"} <= set(TAKING_SETTINGS)


@pytest.mark.parametrize("name", sorted(TAKING_SETTINGS))
def test_metrics_function_requires_settings(name: str) -> None:
    parameter = inspect.signature(TAKING_SETTINGS[name]).parameters["settings"]
    assert parameter.default is inspect.Parameter.empty, f"{name} falls back to a default for settings"
