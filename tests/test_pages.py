"""Every page under Streamlit's AppTest, on the hand-checkable fixture warehouse."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data.warehouse import Warehouse
from tests.conftest import PROJECT, load_fixture

DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = ["app_pages/overview.py", "app_pages/imports.py", "app_pages/data.py"]
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def fixture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pages.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    wh.close()
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(path))
    return path


def _app(**query: str | list[str]) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def _tiles(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_pages_every_page_runs_without_exception(fixture_file: Path) -> None:
    app = _app()
    assert not app.exception
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, page
        assert not app.error, page


def test_overview_tiles_show_the_default_30_days(fixture_file: Path) -> None:
    # Newest data 2024-03-11 -> 02-11..03-11: 7 tickets created, 4 orders, USD (90+50+1000)/3, EUR 80.
    tiles = _tiles(_app())
    assert tiles["Tickets created"] == "7"
    assert tiles["Orders"] == "4"
    assert tiles["Average order value (USD)"] == "USD 380.00"
    assert tiles["Average order value (EUR)"] == "EUR 80.00"
    assert tiles["Contacts per 100 orders"] == "175.0"


def test_overview_starts_from_url_query_parameters(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10", channel="email")
    tiles = _tiles(app)
    assert (tiles["Tickets created"], tiles["Tickets solved"], tiles["Backlog"]) == ("2", "2", "2")
    assert app.multiselect(key="channel").value == ["email"]


def test_overview_filter_change_reaches_tiles_and_url(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    assert _tiles(app)["Tickets created"] == "4"
    app.multiselect(key="channel").set_value(["chat", "phone"]).run()
    assert _tiles(app)["Tickets created"] == "2"
    assert app.query_params["channel"] == ["chat", "phone"]
    assert app.query_params["start"] == "2024-03-04"


def test_overview_tile_delta_compares_with_the_previous_period(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    created = next(m for m in app.metric if m.label == "Tickets created")
    assert created.value == "4" and created.delta == "+3 (+300%)"  # 1 ticket the week before


def test_overview_ignores_bad_url_values_with_a_message(fixture_file: Path) -> None:
    app = _app(start="yesterday", channel=["email", "carrier-pigeon"])
    assert not app.exception
    assert app.multiselect(key="channel").value == ["email"]
    assert app.date_input(key="start").value.isoformat() == "2024-02-11"
    assert len(app.toast) == 2


def test_filters_survive_switching_pages(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    app.multiselect(key="priority").set_value(["normal"]).run()
    app.switch_page("app_pages/data.py").run()
    app.switch_page("app_pages/overview.py").run()
    assert app.multiselect(key="priority").value == ["normal"]
    assert _tiles(app)["Tickets created"] == "3"  # T1, T3, T4 are normal priority


def test_data_page_lists_imports(fixture_file: Path) -> None:
    app = _app()
    app.switch_page("app_pages/data.py").run()
    table = app.dataframe[0].value
    assert sorted(table["file_name"].to_list()) == ["orders.csv", "tickets.csv"]


def test_bad_setting_stops_start_up_with_its_name(fixture_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_TIMEZONE", "Atlantis/Capital")
    app = _app()
    assert not app.exception
    assert "CSPULSE_TIMEZONE" in app.error[0].value


def test_empty_warehouse_opens_on_the_demo_store_and_says_so(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(tmp_path / "fresh.duckdb"))
    app = _app()
    assert not app.exception
    assert any("Demo data" in info.value for info in app.info)
    assert int(_tiles(app)["Tickets created"].replace(",", "")) > 100


def test_clearing_the_demo_empties_the_warehouse_and_it_stays_cleared(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(path))
    app = _app()
    app.button(key="clear_demo_notice").click().run()
    assert not app.exception
    assert _tiles(app)["Tickets created"] == "0"
    assert any("warehouse is empty" in info.value for info in app.info)
    st.cache_resource.clear()  # a restart of the server
    restarted = _app()
    assert _tiles(restarted)["Tickets created"] == "0"
    restarted.switch_page("app_pages/data.py").run()
    restarted.button(key="load_demo").click().run()
    restarted.switch_page("app_pages/overview.py").run()
    assert int(_tiles(restarted)["Tickets created"].replace(",", "")) > 100


def test_a_filter_value_the_data_no_longer_has_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(tmp_path / "fresh.duckdb"))
    app = _app()
    app.multiselect(key="channel").set_value(["email"]).run()
    app.button(key="clear_demo_notice").click().run()
    assert not app.exception
    assert app.multiselect(key="channel").value == []


def test_a_warehouse_held_by_another_process_is_explained_in_the_page(fixture_file: Path) -> None:
    code = f"from data.warehouse import Warehouse; import time; w = Warehouse({str(fixture_file)!r}); " \
           "print('open', flush=True); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
            app = _app()
        finally:
            holder.kill()
    assert not app.exception
    assert "in use by another process" in app.error[0].value


def test_a_failing_page_shows_a_friendly_message_not_a_traceback(fixture_file: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import metrics.query

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(metrics.query, "compare", broken)
    app = _app()
    assert not app.exception
    assert "Something went wrong" in app.error[0].value and "boom" not in app.error[0].value


def test_import_page_lists_past_imports_and_undoes_one(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    app.switch_page("app_pages/imports.py").run()
    assert not app.exception
    history = app.dataframe[0].value
    assert sorted(history["file_name"].to_list()) == ["orders.csv", "tickets.csv"]
    undo = app.selectbox(key="undo_choice")
    ledger = Warehouse(fixture_file).imports()  # a second handle in this process on the app's own database
    undo.set_value(ledger.filter(ledger["file_name"] == "tickets.csv")["import_id"][0]).run()
    app.button(key="undo").click().run()
    assert not app.exception
    app.switch_page("app_pages/overview.py").run()
    # the data changed, so the dates moved to the 30 days up to the newest data (02-11..03-11): all 4 orders
    assert _tiles(app)["Tickets created"] == "0" and _tiles(app)["Orders"] == "4"


def test_demo_notice_says_when_demo_data_is_mixed_with_imports(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(path))
    app = _app()
    assert any("not from your business" in info.value for info in app.info)
    load_fixture(Warehouse(path))  # a second handle in this process on the app's own database
    app.run()
    assert any("mixed with your imports" in info.value for info in app.info)
