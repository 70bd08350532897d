"""A warm rerun, every cache filled and the data unchanged, runs no SQL: whatever a page read on its last run with
the same data version comes from the results cache (statements outside it cost the warm Import and Data pages
a third over Streamlit's floor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from data.warehouse import Warehouse
from tests.conftest import PROJECT, load_fixture, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = sorted(f"app_pages/{path.name}" for path in (PROJECT / "app_pages").glob("*.py"))


@pytest.fixture
def fixture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return warehouse_file(monkeypatch, tmp_path / "warm.duckdb", load_fixture)


class _Recorded:
    """A cursor that notes each statement it runs."""

    def __init__(self, cursor: Any, statements: list[str]) -> None:
        self._cursor, self._statements = cursor, statements

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._statements.append(sql)
        return self._cursor.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __enter__(self) -> _Recorded:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.__exit__(*exc)


@pytest.mark.parametrize("page", PAGES)
def test_a_warm_rerun_of_each_page_runs_no_statement(fixture_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                     page: str) -> None:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    app.switch_page(page).run()
    app.run()  # the page's second run: anything its first left for the next (a kept choice) has settled
    statements: list[str] = []
    cursor = Warehouse.cursor
    monkeypatch.setattr(Warehouse, "cursor", lambda self: _Recorded(cursor(self), statements))
    app.run()
    assert not app.exception and not app.error
    assert statements == []


def test_the_recorder_sees_a_statement_a_rerun_runs(fixture_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: with the results cache emptied, the same rerun runs statements it records."""
    import streamlit as st

    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    app.switch_page("app_pages/data.py").run()
    statements: list[str] = []
    cursor = Warehouse.cursor
    monkeypatch.setattr(Warehouse, "cursor", lambda self: _Recorded(cursor(self), statements))
    st.cache_data.clear()
    app.run()
    assert not app.exception
    assert any("count(*) FROM tickets" in sql for sql in statements)
