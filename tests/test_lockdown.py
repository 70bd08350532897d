"""Issue #15, points 6 and 7: the warehouse's DuckDB connection reaches nothing but the warehouse, hostile values in a
link or a filter change nothing, and no page tells a visitor where or how the server runs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data import demo, ingest, linking
from data.categorising import categorise
from data.classifier import load_taxonomy
from data.schema import FACT_TABLES
from data.warehouse import Warehouse
from metrics import query as mq
from settings import Settings, get_settings
from tests.conftest import PROJECT, held_by_another_process, load_fixture, use_warehouse, warehouse_file

DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = {"overview": "Overview", "trends": "Trends", "team": "Team", "staffing": "Staffing",
         "complaints": "Complaints", "orders": "Orders & loyalty", "imports": "Import", "data": "Data"}
TIMEOUT = 60

# Every query parameter a page reads: the sidebar's (ui/session.py), the grain (ui/widgets.py), then each page's
# url_choice keys, bound widgets and ?event= (ui/<page>.py, app_pages/team.py).
URL_KEYS = (
    "start", "end", "channel", "category", "priority", "grain",
    "kpi", "by", "overlay", "buckets_business",
    "team_by", "team_kpi",
    "peak", "event", "sl", "answer", "handle", "shrink", "growth", "interval", "next", "method",
    "placed_by", "order_by", "example",
    "contact_by",
    "quality_check",
)
PWN_FILE = "pwn.csv"  # what the COPY payload would write, in the test's own folder


def hostile_values(folder: Path) -> list[str]:
    return [
        "x' OR 1=1 --",
        f"'); COPY (SELECT 1) TO '{folder / PWN_FILE}'; --",
        "1; DROP TABLE tickets",
        "\u2019 OR \u20181\u2019=\u20181\u2019; DROP TABLE orders; --",  # typographic quotes
        "'" + "A" * 10_000,
    ]


# --- the connection ---------------------------------------------------------------------------------------------
@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """The handle the dashboard serves from (ui.session.warehouse() opens the warehouse file this way)."""
    path = warehouse_file(monkeypatch, tmp_path / "store" / "warehouse.duckdb", load_fixture)
    wh = Warehouse(path)
    yield wh
    wh.close()


REFUSED = {
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_blob": "SELECT * FROM read_blob('/etc/hostname')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "read_json": "SELECT * FROM read_json('/etc/passwd')",
    "read_over_http": "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "copy_to_outside": "COPY (SELECT 1) TO '{outside}/pwn.csv'",
    "copy_to_beside_the_warehouse": "COPY (SELECT 1) TO '{store}/pwn.csv'",
    "copy_from": "COPY tickets FROM '/etc/passwd'",
    "export_database": "EXPORT DATABASE '{outside}/export'",
    "attach_a_file": "ATTACH '{outside}/x.duckdb' AS other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "load_a_file": "LOAD '{outside}/evil.duckdb_extension'",
    "persistent_secret": "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "set_external_access": "SET enable_external_access = true",
    "set_allowed_directories": "SET allowed_directories = ['/']",
    "set_allowed_paths": "SET allowed_paths = ['/etc/passwd']",
    "reset_lock": "RESET lock_configuration",
    "set_lock": "SET lock_configuration = false",
    "set_autoload": "SET autoload_known_extensions = true",
    "set_temp_directory": "SET temp_directory = '{outside}'",
    "pragma_memory_limit": "PRAGMA memory_limit = '1TB'",
    "pragma_profiling_output": "PRAGMA profiling_output = '{outside}/profile.json'",
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_lockdown_refuses_sql_that_reaches_beyond_the_warehouse(locked: Warehouse, tmp_path: Path, sql: str) -> None:
    outside, store = tmp_path / "outside", Path(locked.path).parent
    outside.mkdir()
    before = sorted(store.iterdir())
    with pytest.raises(duckdb.Error):
        locked.cursor().execute(sql.format(outside=outside, store=store))
    assert list(outside.iterdir()) == []
    assert sorted(store.iterdir()) == before


def test_lockdown_allows_only_the_warehouses_own_files(locked: Warehouse) -> None:
    """What DuckDB itself needs (the file, its write-ahead log, the spill folder) and nothing beside them."""
    paths, folders = locked.cursor().execute(
        "SELECT current_setting('allowed_paths'), current_setting('allowed_directories')").fetchone()  # type: ignore[misc]
    file = locked.path
    assert sorted(paths) == sorted([file, f"{file}.wal", f"{file}.wal.checkpoint", f"{file}.wal.recovery"])
    assert folders == [f"{file}.tmp/"]


def test_lockdown_keeps_import_undo_categorising_linking_and_checkpoints_working(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)  # two imports through register() and MERGE, then categorising
    linking.link_if_stale(wh, 30)
    tickets_import = wh.imports().filter(file_name="tickets.csv")["import_id"][0]
    ingest.undo_import(wh, tickets_import)
    wh.cursor().execute("CHECKPOINT")
    assert wh.cursor().execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
    wh.close()
    again = Warehouse(path)
    assert (again.row_count("tickets"), again.row_count("orders")) == (0, 4)


@pytest.mark.parametrize("dimension", mq.DIMENSIONS)
def test_query_filtered_by_hostile_values_finds_no_tickets(warehouse: Warehouse, settings: Settings, tmp_path: Path,
                                                          dimension: str) -> None:
    """Each value is compared as data: it matches no ticket, so none is counted (not an error, not every ticket)."""
    week = mq.Filters(start=date(2024, 3, 4), end=date(2024, 3, 10))
    everything = mq.query(warehouse.cursor(), ["tickets_created"], week, settings=settings)
    assert everything["tickets_created"].to_list() == [4]  # T1-T4, see tests/conftest.py
    for value in hostile_values(tmp_path):
        hostile = mq.Filters(start=week.start, end=week.end, **{dimension: (value,)})
        assert mq.query(warehouse.cursor(), ["tickets_created"], hostile, settings=settings)[
            "tickets_created"].to_list() == [0]
    assert warehouse.row_count("tickets") == 7
    assert not (tmp_path / PWN_FILE).exists()


# --- the dashboard ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store, categorised and linked, built once (the categoriser takes half a minute) and copied per test."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    wh = Warehouse(path)
    ingest.import_batch(wh, demo.demo_batch(salt="lockdown", scale=0.25))
    categorise(wh, load_taxonomy())  # as the dashboard does on start; given here so no settings are read
    linking.link_if_stale(wh, Settings(_env_file=None).link_window_days)  # type: ignore[call-arg]
    wh.close()
    return path


@pytest.fixture
def demo_copy(demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              fresh_streamlit_caches: None) -> Path:
    path = tmp_path / "site" / "cspulse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_file, path)
    use_warehouse(monkeypatch, path)
    return path


def _row_counts(path: Path) -> dict[str, int]:
    wh = Warehouse(path)  # a second handle in this process on the app's own database
    return {table: wh.row_count(table) for table in FACT_TABLES}


def _widget_values(app: AppTest) -> list[object]:
    kinds = ("selectbox", "multiselect", "slider", "date_input", "toggle", "button_group")
    return [widget.value for kind in kinds for widget in app.get(kind)]


def _holds(value: object, text: str) -> bool:
    return value == text or (isinstance(value, list | tuple) and text in value)


@pytest.mark.parametrize("page", PAGES)
def test_hostile_link_values_change_nothing_on_any_page(demo_copy: Path, page: str) -> None:
    """A link whose every parameter is SQL-looking opens the page as usual: each value ignored (most with a toast),
    no widget takes it, no table changes, no file appears."""
    before = _row_counts(demo_copy)
    for value in hostile_values(demo_copy.parent):
        app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
        for key in URL_KEYS:
            app.query_params[key] = value
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, value[:40]
        assert not app.error, [e.value for e in app.error]
        assert [title.value for title in app.title] == [PAGES[page]]
        widgets = _widget_values(app)
        assert len(widgets) >= 5 and not any(_holds(widget, value) for widget in widgets)  # the sidebar's at least
        assert any("Ignored the link's start date" in toast.value for toast in app.toast)
    assert _row_counts(demo_copy) == before
    assert not (demo_copy.parent / PWN_FILE).exists()


def test_the_dashboard_serves_from_a_locked_connection(demo_copy: Path) -> None:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert not app.exception
    # a plain connection in this process (no Warehouse, which would lock it) joins the database the app holds open,
    # given the same options: its settings are the app's
    with duckdb.connect(str(demo_copy), config={"preserve_insertion_order": False}) as con:
        assert con.execute("SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"
                           ).fetchone() == (True, False)


# --- nothing on a page reveals the server -----------------------------------------------------------------------
# A module as code names it ("metrics.query", "data.warehouse"); prose ("the data. Next") has a space after the dot.
MODULE_NAME = re.compile(r"\b(?:app_pages|charts|dashboard|data|metrics|settings|ui|streamlit|duckdb|polars)"
                         r"\.(?!(?:csv|toml|duckdb|json|txt|xlsx)\b)[a-z_]+\b")  # a file name is no module


def _texts(node: object) -> Iterator[str]:
    """Every text an element carries (value, label, help, options, a table's cells, a chart's spec), depth first."""
    for attribute in ("value", "label", "body", "help", "placeholder", "options", "message", "stack_trace"):
        try:
            value = getattr(node, attribute)
        except Exception:  # elements raise on attributes they do not have
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, pd.DataFrame):
            yield " ".join(map(str, value.columns)) + "\n" + value.astype(str).to_csv()
        elif isinstance(value, list | tuple):
            yield from (str(item) for item in value)
    if type(node).__name__ == "UnknownElement":  # a chart: its Plotly spec, titles and hover texts included
        yield str(node.proto)  # type: ignore[attr-defined]
    for child in getattr(node, "children", {}).values():
        yield from _texts(child)


def _revealing(text: str, secrets: list[str]) -> list[str]:
    found = [secret for secret in secrets if secret in text]
    return found + [match.group() for match in MODULE_NAME.finditer(text)]


def test_no_page_shows_paths_module_names_or_tracebacks(demo_copy: Path) -> None:
    secrets = [str(demo_copy), str(demo_copy.parent), str(PROJECT), "site-packages", "Traceback"]
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    shown: dict[str, list[str]] = {}
    for page in PAGES:
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, page
        shown[page] = list(_texts(app._tree))
    assert any(demo_copy.name in text for text in shown["data"])  # the walk reads the page: the file, by name
    assert {page: hits for page, texts in shown.items() if (hits := [h for t in texts for h in _revealing(t, secrets)])
            } == {}


def test_the_checks_for_revealing_text_catch_a_path_and_a_module_name() -> None:
    assert _revealing("in `/srv/cspulse/warehouse.duckdb`", ["/srv/cspulse"]) == ["/srv/cspulse"]
    assert _revealing("failed in metrics.query.build_sql", []) == ["metrics.query"]
    assert _revealing("Not enough data. Import more, or open data.csv", []) == []


def test_a_bad_setting_is_named_without_its_value(demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_TIMEZONE", "Atlantis/Capital")
    get_settings.cache_clear()
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert not app.exception
    message = app.error[0].value
    assert "CSPULSE_TIMEZONE" in message and "Atlantis" not in message


def test_a_broken_taxonomy_file_is_named_without_its_folder(demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = demo_copy.parent / "mine.toml"
    broken.write_text("not toml = = 1\n")
    monkeypatch.setenv("CSPULSE_TAXONOMY_PATH", str(broken))
    get_settings.cache_clear()
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    message = app.error[0].value
    assert "mine.toml" in message and str(demo_copy.parent) not in message


def test_a_warehouse_in_use_is_explained_without_its_path(demo_copy: Path) -> None:
    with held_by_another_process(demo_copy):
        app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    message = app.error[0].value
    assert "in use by another process" in message and str(demo_copy.parent) not in message
