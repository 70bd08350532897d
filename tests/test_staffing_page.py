"""The Staffing page under AppTest on the demo store: every control, a scenario's URL round trip, bad links."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.cli import import_paths
from data.demo import DEMO_END, DEMO_START
from data.warehouse import Warehouse
from metrics import peaks, staffing
from metrics.query import Filters
from settings import get_settings, load_settings
from tests.conftest import PROJECT, demo_warehouse_file, load_fixture, use_warehouse, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
PAGE = "app_pages/staffing.py"
TIMEOUT = 60


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_warehouse_file(tmp_path_factory.mktemp("staffing") / "demo.duckdb", "staffing-page")


@pytest.fixture
def demo(demo_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_warehouse(monkeypatch, demo_file)
    return demo_file


def _staffing(**query: str | list[str]) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    return app


def _tiles(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _bound_to_link(app: AppTest, key: str) -> bool:
    """The slider is bound to ``?key=`` by Streamlit itself: the browser writes its value into the URL (AppTest has
    no browser; tests/test_browser_staffing.py sees the URL change)."""
    return app.slider(key=key).proto.query_param_key == key


def _short(app: AppTest) -> float:
    return float(_tiles(app)["Agent-hours short"].replace(",", ""))


def test_staffing_opens_on_the_newest_black_friday_with_staffed_agents_estimated(demo: Path) -> None:
    app = _staffing()
    assert app.selectbox(key="peak").value == "bfcm-2025"  # the newest BFCM in the demo's two years
    assert app.query_params["peak"] == "bfcm-2025"
    assert any("Staffed agents are an estimate" in info.value for info in app.info)
    assert any("no export gives handle time" in caption.value for caption in app.caption)
    peak_table = app.dataframe[0].value
    assert peak_table["KPI"].to_list() == ["Tickets per day", "First reply (median)", "CSAT", "Backlog"]
    assert app.selectbox(key="next").value == "bfcm-2026"  # the next configured peak after 31 Oct 2026
    assert {"Agent-hours short", "Forecast tickets", "Extra agent-hours to hire"} <= set(_tiles(app))


def test_staffing_scenario_round_trips_through_the_url(demo: Path) -> None:
    """A link sets the sliders, peak and interval, the tiles match the metrics layer, and sliders stay linked."""
    app = _staffing(peak="bfcm-2024", sl="90", answer="30", handle="120", shrink="20", growth="50", interval="30")
    assert [app.slider(key=k).value for k in ("sl", "answer", "handle", "shrink", "growth")] == [90, 30, 120, 20, 50]
    assert app.selectbox(key="peak").value == "bfcm-2024"
    assert app.button_group(key="interval").value == "30"
    # the same numbers straight from the metrics layer, without the page
    settings = load_settings(_env_file=None)
    scenario = staffing.Scenario.from_settings(settings, service_level=0.9, answer_seconds=30.0, handle_factor=1.2,
                                               shrinkage=0.2, growth=0.5)
    wh = Warehouse(demo)  # a second handle in this process on the app's own database
    cur, peak = wh.cursor(), peaks.bfcm(2024)
    view = Filters(DEMO_START, DEMO_END)
    window = peak.filters(view)
    start, end = peaks.baseline(peak)
    base = staffing.slot_quality(cur, replace(view, start=start, end=end), 60, settings, overall=True)
    report = staffing.report(staffing.arrivals(cur, window, 30, settings),
                             staffing.seen_working(cur, window, 30, settings),
                             staffing.slot_quality(cur, window, 30, settings),
                             base.select("sla_first_reply_attainment", "csat").row(0, named=True),
                             start=peak.start, end=peak.end, minutes=30, scenario=scenario,
                             channels=["chat", "email", "phone", "social"])
    assert _short(app) == round(report.totals["short_agent_hours"])
    assert _tiles(app)["Short and slow or unhappy"] == f"{report.totals['flagged_intervals']:.0f} intervals"

    app.slider(key="shrink").set_value(40).run()
    assert app.slider(key="shrink").value == 40 and app.slider(key="sl").value == 90
    assert all(_bound_to_link(app, key) for key in ("sl", "answer", "handle", "shrink", "growth"))


def test_staffing_every_control_recomputes(demo: Path) -> None:
    """A stricter service level and more growth raise agent-hours short; every other control reruns without error."""
    app = _staffing()
    before = _short(app)
    app.slider(key="sl").set_value(99).run()
    stricter = _short(app)
    assert stricter > before  # a higher service level needs more agents
    app.slider(key="growth").set_value(100).run()
    assert _short(app) > stricter
    for key, value in (("answer", 60), ("handle", 150), ("shrink", 10)):
        app.slider(key=key).set_value(value).run()
        assert not app.exception and app.slider(key=key).value == value
    app.button_group(key="interval").set_value("30").run()
    assert not app.exception and app.query_params["interval"] == "30"
    app.selectbox(key="peak").set_value("december-2024").run()
    assert not app.exception and "December holidays 2024" in app.selectbox(key="peak").format_func("december-2024")
    app.selectbox(key="next").set_value("december-2026").run()
    app.button_group(key="method").set_value("orders").run()
    assert not app.exception and not app.error
    assert any("Orders" in c.value or "orders" in c.value for c in app.caption)


def test_staffing_adds_an_event_to_the_link(demo: Path) -> None:
    app = _staffing()
    app.text_input(key="event_name").input("Spring sale")
    app.date_input(key="event_dates").set_value((date(2025, 4, 7), date(2025, 4, 13)))
    next(b for b in app.button if b.label == "Add to this link").click().run()
    assert not app.exception
    key = "custom-2025-04-07-2025-04-13-spring-sale"
    assert app.selectbox(key="peak").value == key
    assert app.query_params["event"] == "Spring sale|2025-04-07|2025-04-13"
    reopened = _staffing(event="Spring sale|2025-04-07|2025-04-13", peak=key)
    assert reopened.selectbox(key="peak").value == key


def test_staffing_bad_link_values_fall_back_with_a_message(demo: Path) -> None:
    app = _staffing(sl="500", growth="lots", event="no dates here", peak="drop-table")
    assert app.slider(key="sl").value == 80 and app.slider(key="growth").value == 0
    assert app.selectbox(key="peak").value == "bfcm-2025"
    messages = " ".join(t.value for t in app.toast)
    assert "sl '500'" in messages and "growth 'lots'" in messages and "no dates here" in messages


def test_staffing_without_peaks_in_the_data_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fixture.duckdb"
    # seven tickets in February and March 2024: no BFCM, no US holiday, too few weeks
    warehouse_file(monkeypatch, path, load_fixture)
    app = _staffing()
    assert any(info.value.startswith("No peak to study") for info in app.info)
    app.text_input(key="event_name").input("Launch week")
    app.date_input(key="event_dates").set_value((date(2024, 3, 4), date(2024, 3, 10)))
    next(b for b in app.button if b.label == "Add to this link").click().run()
    assert not app.exception and not app.error
    assert app.selectbox(key="peak").value == "custom-2024-03-04-2024-03-10-launch-week"
    assert "Agent-hours short" in _tiles(app)


def test_staffing_a_channel_without_handle_time_is_explained(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_STAFFING_HANDLE_MINUTES", '{"email": 8}')  # no chat, phone, social or "other"
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    app.switch_page(PAGE).run()
    assert not app.exception
    assert "no handle time for channel 'chat'" in app.error[0].value


def test_staffing_on_an_export_without_agents_says_staffed_is_unknown(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # like the real Freshdesk sample: tickets of two days, open, with no agent, reply or solve time; nobody is seen at
    # work, so the gap's tiles are "—" (not "0 staffed, all short") and the agents needed are still drawn
    export = tmp_path / "tickets.csv"
    rows = [f"{100 + i},Where is my parcel,Open,2024-03-0{4 + i % 2} {9 + i % 8:02d}:15:00," for i in range(12)]
    export.write_text("Ticket ID,Subject,Status,Created time,Resolved time\n" + "\n".join(rows) + "\n")
    db = tmp_path / "agents_unknown.duckdb"
    [result] = import_paths([str(export)], db, get_settings())
    assert result.status == "imported", result.reason
    use_warehouse(monkeypatch, db)
    app = _staffing()
    app.text_input(key="event_name").input("Two days")
    app.date_input(key="event_dates").set_value((date(2024, 3, 4), date(2024, 3, 5)))
    next(b for b in app.button if b.label == "Add to this link").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    tiles = _tiles(app)
    assert tiles["Agent-hours short"] == "—" and tiles["Agent-hours spare"] == "—"
    needed, staffed = tiles["Needed / staffed hours"].split(" / ")
    assert float(needed.replace(",", "")) > 0 and staffed == "—"
    assert any("Staffed agents are unknown" in info.value for info in app.info)
    titles = [json.loads(chart.proto.spec)["layout"].get("title", {}).get("text", "") for chart in
              app.get("plotly_chart")]
    assert not any("short or spare" in title.lower() for title in titles)
