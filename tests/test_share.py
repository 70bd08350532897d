"""The link behind "Share this view", under AppTest: every widget that changes what a page shows is in it, and the
link opened in a new session shows the same view, also once new data or a changed setting has moved the defaults.

tests/test_browser_share.py does the same in Chromium, through the copy button.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import date
from datetime import datetime as D
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Button, DownloadButton, Node, Widget

from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics.query import Filters
from settings import get_settings
from tests.conftest import PROJECT, TICKETS, demo_warehouse_file, load_fixture, use_warehouse, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = sorted(path.stem for path in (PROJECT / "app_pages").glob("*.py"))
TIMEOUT = 60
FILTER_KEYS = {field.name for field in fields(Filters)}

# Widgets whose state is not part of a shared view, by key or key prefix, each with why. Buttons and download
# buttons are actions, not state, and are never in a link.
NOT_IN_LINK = {
    "drill_period": "tickets behind a point: a selection, not the view",
    "drill_value": "tickets behind a point: a selection, not the view",
    "correction_ticket": "the correction form writes data",
    "correction_category": "the correction form writes data",
    "store_adopt": "the store's categories form writes data",
    "store_value_": "the store's categories form writes data",
    "event_name": "the form that adds an event; the event it adds is in the link as ?event=",
    "event_dates": "the form that adds an event; the event it adds is in the link as ?event=",
    "import_source": "Import: how the uploaded files are read, before they are written",
    "date_order": "Import: how the uploaded files are read, before they are written",
    "uploads": "Import: an upload cannot travel in a link",
    "category_column_": "Import: how an uploaded file is read, before it is written",
    "zone_": "Import: how an uploaded file is read, before it is written",
    "map_": "Import: the mapping form writes a mapping",
    "undo_choice": "Import: the undo form writes data",
}

# One state per page that differs from its defaults, set through the widgets by key (the fixture week has T1-T4).
CHANGES: dict[str, dict[str, object]] = {
    "overview": {"start": date(2024, 3, 4), "channel": ["email", "chat"], "grain": "day"},
    "trends": {"end": date(2024, 3, 10), "kpi": "tickets_created", "grain": "day", "by": "channel",
               "buckets_business": True},
    "team": {"priority": ["normal"], "team_by": "group_name", "team_kpi": "csat"},
    "complaints": {"grain": "month", "trend_categories": ["refund"], "order_by": "vendor", "example": "refund"},
    "orders": {"start": date(2024, 3, 4), "grain": "day", "contact_by": "vendor"},
    "data": {"category": ["shipping_status"], "quality_check": "duplicated_lines"},
    "imports": {"channel": ["phone"]},
    "staffing": {"peak": "bfcm-2024", "sl": 90, "shrink": 20, "interval": "30", "next": "december-2026",
                 "method": "orders"},
}


@pytest.fixture
def fixture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return warehouse_file(monkeypatch, tmp_path / "share.duckdb", load_fixture)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_warehouse_file(tmp_path_factory.mktemp("share") / "demo.duckdb", "share")


# --- helpers ---------------------------------------------------------------------------------------------------------
def _opened(page: str, query: dict[str, list[str]] | None = None) -> AppTest:
    """A new session opened straight on ``page`` at a URL carrying ``query``."""
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, values in (query or {}).items():
        app.query_params[key] = values
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, app.exception
    return app


def _nodes(app: AppTest) -> Iterator[Node]:
    def walk(node: Node) -> Iterator[Node]:
        yield node
        if isinstance(node, Block):
            for child in node.children.values():
                yield from walk(child)

    yield from walk(app.sidebar)
    yield from walk(app.main)


def _widgets(app: AppTest) -> dict[str, Widget]:
    """Every widget that holds state, by key; one without a key by its kind and label, as it cannot be in a URL."""
    return {node.key or f"<{node.type}: {getattr(node, 'label', '')}>": node for node in _nodes(app)
            if isinstance(node, Widget) and not isinstance(node, Button | DownloadButton)}


def _excluded(key: str) -> bool:
    return any(key == name or (name.endswith("_") and key.startswith(name)) for name in NOT_IN_LINK)


def _link(app: AppTest) -> str:
    links = [code.value for code in app.sidebar.code]
    assert len(links) == 1, links
    return links[0]


def _query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query, keep_blank_values=True)


def _unlinked(app: AppTest) -> set[str]:
    """The page's widgets that are neither in its shared link nor excused from it. A sidebar filter left at all is
    left out of the link, which opens on all: the link takes every field of Filters."""
    return {key for key in _widgets(app) if not _excluded(key)} - set(_query(_link(app))) - FILTER_KEYS


def _set(app: AppTest, key: str, value: object) -> None:
    _widgets(app)[key].set_value(value)
    app.run()
    assert not app.exception, app.exception


def _view(app: AppTest) -> dict[str, object]:
    """What the page shows: each linked widget's value, the tiles, the charts, the tables and the captions."""
    return {
        "widgets": {key: widget.value for key, widget in _widgets(app).items() if not _excluded(key)},
        "tiles": [(m.label, m.value, m.delta) for m in app.metric],
        "charts": [chart.proto.spec for chart in app.get("plotly_chart")],
        "tables": [frame.value.to_csv() for frame in app.dataframe],
        "captions": [caption.value for caption in app.caption],
        "notes": [note.value for kind in ("info", "warning", "success") for note in app.get(kind)],
    }


def _tile(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


# --- every widget is in the link ------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", [p for p in PAGES if p != "staffing"])
def test_share_link_opens_the_same_view_in_a_new_session(page: str, fixture_file: Path) -> None:
    """Every widget's state changed, the link holds every widget but the excused ones, and a new session opened on
    the link draws the same widgets, tiles, charts, tables and captions."""
    sharer = _opened(page)
    for key, value in CHANGES[page].items():
        _set(sharer, key, value)
        assert _widgets(sharer)[key].value == value, key
    assert _unlinked(sharer) == set()
    opener = _opened(page, _query(_link(sharer)))
    assert _view(opener) == _view(sharer)
    assert _view(_opened(page)) != _view(sharer)  # without the link: the defaults, another view
    assert _link(opener) == _link(sharer)


def test_share_link_of_staffing_carries_the_peak_and_the_scenario(demo_file: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    use_warehouse(monkeypatch, demo_file)  # the fixture's seven tickets hold no peak
    sharer = _opened("staffing")
    for key, value in CHANGES["staffing"].items():
        _set(sharer, key, value)
    assert _unlinked(sharer) == set()
    query = _query(_link(sharer))
    assert {key: query[key] for key in ("peak", "sl", "shrink", "interval")} == {
        "peak": ["bfcm-2024"], "sl": ["90"], "shrink": ["20"], "interval": ["30"]}
    opener = _opened("staffing", query)
    assert _view(opener) == _view(sharer)
    assert "Agent-hours short" in [label for label, _, _ in _view(opener)["tiles"]]  # type: ignore[union-attr]


def test_share_link_check_finds_a_widget_left_out_of_the_url(tmp_path: Path) -> None:
    """The check above fails on a page with a widget kept out of the URL, and on one without a key."""
    script = tmp_path / "page.py"
    script.write_text(
        "from datetime import date\n"
        "import streamlit as st\n"
        "from metrics.query import Filters\n"
        "from ui import session\n"
        "st.session_state['filters'] = Filters(date(2024, 3, 4), date(2024, 3, 10))\n"
        "with session.share_link():\n"
        "    session.url_choice('Kept', ['a', 'b'], 'kept', 'a')\n"
        "    st.toggle('Bound', key='bound', bind='query-params')\n"
        "    st.selectbox('Forgotten', ['a', 'b'], key='forgotten')\n"
        "    st.slider('Unkeyed', 0, 10)\n")
    app = AppTest.from_file(str(script), default_timeout=TIMEOUT).run()
    assert not app.exception
    assert _unlinked(app) == {"bound", "forgotten", "<slider: Unkeyed>"}
    assert _query(_link(app)) == {"start": ["2024-03-04"], "end": ["2024-03-10"], "kept": ["a"]}


# --- defaults that move ---------------------------------------------------------------------------------------------
def test_share_link_pins_the_default_dates_before_new_data_moves_them(fixture_file: Path) -> None:
    # Newest data 2024-03-11: the default 30 days are 02-11..03-11, all 7 tickets.
    sharer = _opened("overview")
    assert "start" not in sharer.query_params and _tile(sharer, "Tickets created") == "7"
    link = _link(sharer)
    assert _query(link)["start"] == ["2024-02-11"] and _query(link)["end"] == ["2024-03-11"]

    later = TICKETS.filter(pl.col("ticket_id") == "T7").with_columns(ticket_id=pl.lit("T9"),
                                                                      created_at=pl.lit(D(2024, 4, 20, 10)))
    wh = Warehouse(fixture_file)  # a second handle in this process on the app's own database
    import_batch(wh, Batch("later.csv", "sha-later", "fixture", "tickets", {"tickets": later}))
    st.cache_data.clear()
    # Now the default is 03-22..04-20, which holds T9 alone; the link still opens on the sharer's 7 tickets.
    assert _tile(_opened("overview"), "Tickets created") == "1"
    opener = _opened("overview", _query(link))
    assert _tile(opener, "Tickets created") == "7"
    assert _view(opener)["tiles"] == _view(sharer)["tiles"]


def test_share_link_pins_what_a_setting_defaults_to(demo_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sliders at their defaults (from settings) are not in the URL, but are in the link: an opener after the
    setting changed sees the sharer's scenario, not the new default."""
    use_warehouse(monkeypatch, demo_file)
    sharer = _opened("staffing")
    assert "shrink" not in sharer.query_params  # AppTest has no browser: no bound value reaches its URL
    query = _query(_link(sharer))
    assert query["shrink"] == ["30"]  # CSPULSE_STAFFING_SHRINKAGE's default, 0.3

    monkeypatch.setenv("CSPULSE_STAFFING_SHRINKAGE", "0.1")
    get_settings.cache_clear()
    assert _opened("staffing").slider(key="shrink").value == 10  # the setting moved the default
    opener = _opened("staffing", query)
    assert opener.slider(key="shrink").value == 30
    assert _view(opener)["tiles"] == _view(sharer)["tiles"]


def test_share_link_keeps_a_data_dependent_default_and_an_emptied_choice(fixture_file: Path) -> None:
    """Trends' business-hours toggle starts from the data, so the link names it even off; Complaints' categories
    start on the five largest, so none chosen is ``?trend_categories=`` and opens on none, not on the five."""
    trends = _opened("trends")
    assert _query(_link(trends))["buckets_business"] == ["false"]
    complaints = _opened("complaints")
    assert len(complaints.multiselect(key="trend_categories").value) == 4  # the fixture's four categories
    _set(complaints, "trend_categories", [])
    query = _query(_link(complaints))
    assert query["trend_categories"] == [""]
    assert _opened("complaints", query).multiselect(key="trend_categories").value == []
