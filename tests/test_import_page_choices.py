"""The Import page under AppTest: the mapping fields follow the kind at once and start on guessed headers, and a
file whose times carry no offset says which clock it is read on and lets the analyst choose another.

A fixture is dropped on the page's uploader; everything after that (reading, guessing, saving, importing) is the
page's own path.
"""

from __future__ import annotations

from datetime import datetime as D
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.plans import load_mappings, load_source_zones
from data.warehouse import Warehouse
from tests.conftest import PROJECT, load_fixture, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
RETAIL = PROJECT / "tests" / "fixtures" / "orders" / "online_retail_lines.csv"
NAIVE = PROJECT / "tests" / "fixtures" / "tickets" / "zendesk_no_offset_dst.csv"
MAP = "map_online_retail_lines.csv"


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "imports.duckdb"
    warehouse_file(monkeypatch, path, load_fixture)
    return path


def _import_page(dropped: Path) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    app.switch_page("app_pages/imports.py").run()
    return app.file_uploader(key="uploads").set_value((dropped.name, dropped.read_bytes(), "text/csv")).run()


def test_import_page_mapping_fields_follow_the_kind_and_start_on_guessed_headers(
        app_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _import_page(RETAIL)
    assert not app.exception
    assert app.radio(key=f"{MAP}_kind").value == "orders"  # guessed: only orders find their needed fields
    assert app.selectbox(key=f"{MAP}_orders_order_id").value == "InvoiceNo"
    assert app.selectbox(key=f"{MAP}_orders_price").value == "UnitPrice"
    assert app.selectbox(key=f"{MAP}_orders_currency").value == "—"
    assert app.radio(key=f"{MAP}_date_order").value == "MDY"  # 12/13/2011 says so
    assert any("Country" in caption.value for caption in app.caption)  # said to be left unread

    app.radio(key=f"{MAP}_kind").set_value("tickets").run()
    keys = {box.key for box in app.selectbox}
    assert f"{MAP}_tickets_ticket_id" in keys and f"{MAP}_orders_order_id" not in keys
    assert app.selectbox(key=f"{MAP}_tickets_description").value == "Description"

    app.radio(key=f"{MAP}_kind").set_value("orders").run()
    app.text_input(key=f"{MAP}_currency").set_value("GBP").run()
    app.button(key=f"{MAP}_save").click().run()
    assert not app.exception and not app.error
    mapping = load_mappings(Warehouse(app_db))["online-retail-lines"]  # named from the file
    assert mapping["currency"] == "GBP" and mapping["columns"]["sku"] == "StockCode"  # type: ignore[index]
    assert any("online-retail-lines export (saved mapping)" in text.value for text in app.markdown)
    # the source list is cached per data version, which saving a mapping leaves as it is
    assert "mapped:online-retail-lines" in app.selectbox(key="import_source").options

    app.button(key=next(b.key for b in app.button if b.key and b.key.startswith("import_"))).click().run()
    assert not app.exception
    inserted = next(metric.value for metric in app.metric if metric.label == "Inserted")
    assert inserted == "5"  # orders: 581001-581004 and 581006; the cancellation C581005 is left out
    lines = Warehouse(app_db).cursor().execute(
        "SELECT count(*) FROM order_lines WHERE source = 'mapped:online-retail-lines'").fetchone()
    assert lines == (7,)


def test_import_page_mapping_needs_a_currency_and_says_so(app_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _import_page(RETAIL)
    app.button(key=f"{MAP}_save").click().run()
    assert "Currency" in app.error[0].value
    assert load_mappings(Warehouse(app_db)) == {}


def test_import_page_names_the_clock_and_reads_again_on_the_zone_chosen(
        app_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _import_page(NAIVE)
    assert any("carry no offset: read as UTC" in caption.value for caption in app.caption)
    zone = next(box for box in app.selectbox if box.key and box.key.startswith("zone_"))
    assert zone.value == "UTC"  # the account's clock (the settings' default)
    zone.set_value("Europe/Berlin").run()
    assert not app.exception
    assert any("carry no offset: read as Europe/Berlin" in caption.value for caption in app.caption)
    assert load_source_zones(Warehouse(app_db)) == {"zendesk": "Europe/Berlin"}
    preview = app.dataframe[0].value
    # 701 was created 10:00 Berlin time, before the change to summer time: 09:00 UTC
    assert preview["created_at"].iloc[0] == D(2024, 3, 30, 9)
