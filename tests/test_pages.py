"""Every page under Streamlit's AppTest, on the hand-checkable fixture warehouse."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import availability
from metrics import query as mq
from metrics.tiles import OVERVIEW_COMMERCE, OVERVIEW_SUPPORT, TILES_PER_ROW, tiles
from settings import get_settings
from tests.conftest import PROJECT, held_by_another_process, load_fixture, use_warehouse, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = sorted(f"app_pages/{path.name}" for path in (PROJECT / "app_pages").glob("*.py"))  # every page, found
TIMEOUT = 60


@pytest.fixture
def fixture_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pages.duckdb"
    warehouse_file(monkeypatch, path, load_fixture)
    return path


def _app(**query: str | list[str]) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def _tiles(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_pages_every_page_runs_without_exception(fixture_file: Path) -> None:
    """Every page in app_pages/ opens on the fixture warehouse with no exception and no error box."""
    assert len(PAGES) >= 7 and "app_pages/staffing.py" in PAGES
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
    # the orders export covers 03-04..03-11: 5 tickets (T1-T4, T7) of those days per 4 orders, not all 7
    assert tiles["Contacts per 100 orders"] == "125.0"


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


def test_overview_reads_its_tiles_in_two_statements_with_the_values_each_row_gives_alone(
        fixture_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The three rows of tiles come from at most two statements over all thirteen KPIs (this period with its sample
    sizes, the previous period where it holds rows; cached, each row finds them), and show what each row read on
    its own shows: per row, both periods' totals and the sample sizes of query(samples=True), straight from the
    warehouse."""
    wh = Warehouse(fixture_file)
    cur, settings = wh.cursor(), get_settings()
    filters = mq.default_filters(cur, settings=settings)
    support = availability.on_a_clock_with_data(cur, OVERVIEW_SUPPORT)
    rows = (support[:TILES_PER_ROW], support[TILES_PER_ROW:], OVERVIEW_COMMERCE)
    alone = [(t.label, t.value, t.delta or "") for row in rows
             for t in tiles(row, _both_periods(cur, row, filters, settings),
                            mq.query(cur, row, filters, settings=settings, samples=True).row(0, named=True),
                            settings.min_sample)]
    wh.close()
    queried: list[tuple[tuple[str, ...], date]] = []
    real = mq.query

    @functools.wraps(real)
    def counted(cur: object, names: tuple[str, ...], filters: mq.Filters, *args: object, **kwargs: object) -> object:
        queried.append((tuple(names), filters.start))
        return real(cur, names, filters, *args, **kwargs)

    monkeypatch.setattr(mq, "query", counted)
    app = _app()
    assert [(m.label, m.value, m.delta) for m in app.metric] == alone
    assert len(alone) == 14  # two average order values, one per currency
    every_tile = (*support, *OVERVIEW_COMMERCE)
    # the default 30 days (11 Feb - 11 Mar 2024) start before the fixture's first row: the 30 before them hold none,
    # so their KPIs are unknown without a statement (metrics.query.ends_before_every_row)
    assert [start for names, start in queried if names == every_tile] == [filters.start]


def _both_periods(cur: object, names: tuple[str, ...], filters: mq.Filters,
                  settings: object) -> dict[str, tuple[object, object]]:
    """metrics.query.compare's pairs, each period read by its own statement."""
    now, before = (mq.totals(cur, names, period, settings) for period in (filters, filters.previous()))  # type: ignore[arg-type]
    return {name: (now[name], before[name]) for name in names}


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
    use_warehouse(monkeypatch, tmp_path / "fresh.duckdb")
    app = _app()
    assert not app.exception
    assert any("Demo data" in info.value for info in app.info)
    assert int(_tiles(app)["Tickets created"].replace(",", "")) > 100


def test_clearing_the_demo_empties_the_warehouse_and_it_stays_cleared(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh.duckdb"
    use_warehouse(monkeypatch, path)
    app = _app()
    app.button(key="clear_demo_notice").click().run()
    assert not app.exception
    assert _tiles(app)["Tickets created"] == "—"  # no export loaded: unknown, not 0
    assert any("warehouse is empty" in info.value for info in app.info)
    st.cache_resource.clear()  # a restart of the server
    restarted = _app()
    assert _tiles(restarted)["Tickets created"] == "—"
    restarted.switch_page("app_pages/data.py").run()
    restarted.button(key="load_demo").click().run()
    restarted.switch_page("app_pages/overview.py").run()
    assert int(_tiles(restarted)["Tickets created"].replace(",", "")) > 100


def test_a_filter_value_the_data_no_longer_has_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_warehouse(monkeypatch, tmp_path / "fresh.duckdb")
    app = _app()
    app.multiselect(key="channel").set_value(["email"]).run()
    app.button(key="clear_demo_notice").click().run()
    assert not app.exception
    assert app.multiselect(key="channel").value == []


def test_a_warehouse_held_by_another_process_is_explained_in_the_page(fixture_file: Path) -> None:
    with held_by_another_process(fixture_file):
        app = _app()
    assert not app.exception
    assert "in use by another process" in app.error[0].value


def test_a_failing_page_shows_a_friendly_message_not_a_traceback(fixture_file: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import metrics.query

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(metrics.query, "query", broken)  # the tiles read this period by it
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
    assert _tiles(app)["Tickets created"] == "—" and _tiles(app)["Orders"] == "4"  # no tickets left: unknown


def test_demo_notice_says_when_demo_data_is_mixed_with_imports(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh.duckdb"
    use_warehouse(monkeypatch, path)
    app = _app()
    assert any("not from your business" in info.value for info in app.info)
    load_fixture(Warehouse(path))  # a second handle in this process on the app's own database
    app.run()
    assert any("mixed with your imports" in info.value for info in app.info)


# --- Trends and Team ----------------------------------------------------------------------------------------------
def _figure(app: AppTest, index: int = 0) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def _opened(page: str, **query: str) -> AppTest:
    """A page opened straight from a link carrying the view (the fixture week unless the link says otherwise)."""
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in {"start": "2024-03-04", "end": "2024-03-10", **query}.items():
        app.query_params[key] = value
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception and not app.error
    return app


def _trends(**query: str) -> AppTest:
    return _opened("trends", **query)


def test_trends_draws_the_kpi_and_grain_from_the_url(fixture_file: Path) -> None:
    app = _trends(kpi="tickets_created", grain="day")
    trace = _figure(app)["data"][0]
    assert trace["y"] == [1, 1, 1, 0, 1, 0, 0]  # T1 Mon, T2 Tue, T3 Wed, T4 Fri
    assert [row[2] for row in trace["customdata"]] == trace["y"]  # each point's sample size
    definition = next(c.value for c in app.caption if c.value.startswith("**Tickets created**"))
    assert "by creation time" in definition and "fewer than 20 is drawn grey" in definition
    assert app.query_params["kpi"] == "tickets_created" and app.query_params["grain"] == "day"


def test_trends_breakdown_draws_one_line_per_agent(fixture_file: Path) -> None:
    app = _trends(kpi="tickets_created", by="assignee")
    traces = {t["name"]: sum(t["y"]) for t in _figure(app)["data"]}
    assert traces == {"ana": 2, "ben": 1, "(none)": 1}


def test_trends_overlay_draws_the_previous_period_dashed(fixture_file: Path) -> None:
    app = _trends(kpi="tickets_created", grain="week", overlay="previous")
    current, before = _figure(app)["data"]
    assert current["y"] == [4] and before["y"] == [1]  # T5 was the only ticket the week before
    assert before["name"].startswith("Previous period (26 Feb 2024") and before["line"]["dash"] == "dash"


def test_trends_business_hours_kpi_states_the_schedule(fixture_file: Path) -> None:
    app = _trends(kpi="first_reply_business_minutes_median", grain="week")
    assert _figure(app)["data"][0]["y"] == [16.0]
    definition = next(c.value for c in app.caption if c.value.startswith("**First reply, business"))
    assert "09:00–18:00" in definition and "mon, tue, wed, thu, fri" in definition


def test_trends_drill_down_lists_the_tickets_behind_a_point_masked(fixture_file: Path) -> None:
    app = _trends(kpi="tickets_created", grain="day")
    app.selectbox(key="drill_period").set_value("2024-03-08").run()
    table = app.dataframe[0].value
    assert table["ticket_id"].to_list() == ["T4"]
    assert table["subject"].to_list() == ["Broken mug, call ***-4567"]
    assert any("1 ticket behind tickets created" in c.value for c in app.caption)


def test_trends_drill_down_by_a_breakdown_value_lists_only_its_tickets(fixture_file: Path) -> None:
    app = _trends(kpi="tickets_solved", grain="week", by="channel")
    app.selectbox(key="drill_period").set_value("2024-03-04").run()
    app.selectbox(key="drill_value").set_value("email").run()
    assert sorted(app.dataframe[0].value["ticket_id"].to_list()) == ["T1", "T5"]  # solved in the week, email


def test_trends_heatmap_and_buckets_draw(fixture_file: Path) -> None:
    """The heatmap puts the week's 4 tickets on weekday and hour; first-reply and resolution charts count per bucket."""
    app = _trends(kpi="tickets_created")
    heatmap, first_reply, resolution = (_figure(app, i)["data"][0] for i in (1, 2, 3))
    assert sum(map(sum, heatmap["z"])) == 4 and heatmap["z"][0][9] == 1  # T1: Monday 09:00
    assert first_reply["y"] == [2, 1, 1, 0, 0, 0, 0]
    assert resolution["y"] == [0, 0, 1, 0, 0, 1, 1]


def test_trends_explains_a_kpi_the_data_cannot_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bare.duckdb"
    wh = Warehouse(path)
    bare = pl.DataFrame({"source": ["b"], "ticket_id": ["1"], "created_at": [datetime(2024, 3, 5, 10)]})
    import_batch(wh, Batch("bare.csv", "sha-bare", "b", "tickets", {"tickets": bare}))
    wh.close()
    use_warehouse(monkeypatch, path)
    app = _app()
    app.query_params["kpi"] = "csat"
    app.switch_page("app_pages/trends.py").run()
    assert not app.exception
    message = next(i.value for i in app.info if "CSAT" in i.value)
    assert message.startswith("Unavailable with the loaded data (1)") and "Satisfaction Score" in message


def test_trends_ignores_an_unknown_kpi_in_the_link(fixture_file: Path) -> None:
    app = _trends(kpi="drop_table")
    assert app.selectbox(key="kpi").value == "first_reply_minutes_median"
    assert any("drop_table" in t.value for t in app.toast)


def test_team_table_has_a_row_per_agent_with_sample_sizes(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    app.switch_page("app_pages/team.py").run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    rows = {row["Agent"]: row for row in table.to_dict("records")}
    # created: ana T1, T3; ben T2; none T4. solved in the week: ana T1, ben T2 and T5.
    assert {k: r["tickets_created"] for k, r in rows.items()} == {"ana": 2, "ben": 1, "(none)": 1}
    assert rows["ana"]["first_reply_minutes_median"] == 45.0 and rows["ana"]["first_reply_minutes_median_n"] == 2
    assert rows["ben"]["csat"] == 0.5 and rows["ben"]["csat_n"] == 2  # T2 bad, T5 good


def test_team_table_has_a_row_per_group_when_the_link_asks_for_groups(fixture_file: Path) -> None:
    app = _app(start="2024-03-04", end="2024-03-10")
    app.query_params["team_by"] = "group_name"
    app.switch_page("app_pages/team.py").run()
    groups = {row["Group"]: row["tickets_created"] for row in app.dataframe[0].value.to_dict("records")}
    assert groups == {"Support": 2, "Tier 2": 1, "(none)": 1}


def test_overview_marks_rates_and_durations_over_small_samples(fixture_file: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate and duration tiles under the minimum sample show their n and a caption; a lower minimum drops the n."""
    tiles = _tiles(_app(start="2024-03-04", end="2024-03-10"))
    # first replies of T1-T4 = 4 tickets; CSAT rests on the 3 rated solves; counts are their own sample
    assert tiles["First reply (median) · n=4"] == "20 min"
    assert tiles["CSAT · n=3"] == "66.7%"
    assert "Tickets created" in tiles
    captions = [c.value for c in _app(start="2024-03-04", end="2024-03-10").caption]
    assert any("Each first reply (median) value rests on 4 tickets; a value over fewer than 20" in c for c in captions)
    monkeypatch.setenv("CSPULSE_MIN_SAMPLE", "3")
    get_settings.cache_clear()
    tiles = _tiles(_app(start="2024-03-04", end="2024-03-10"))
    assert "First reply (median)" in tiles and "CSAT" in tiles


# --- Complaints ---------------------------------------------------------------------------------------------------
def _complaints(**query: str) -> AppTest:
    return _opened("complaints", **query)


def test_complaints_top_categories_show_counts_with_share_and_change(fixture_file: Path) -> None:
    bars = _figure(_complaints())["data"][0]
    # created in the week: where-is-my-order T1, T3; refund T2; damaged T4. The week before: T5 other.
    counts = dict(zip(bars["y"], bars["x"], strict=True))
    assert counts == {"Where is my order": 2, "Refund request or status": 1, "Damaged item": 1}
    labels = dict(zip(bars["y"], bars["text"], strict=True))
    assert labels["Where is my order"] == "50% (+2)"


def test_complaints_rising_panel_states_its_test(fixture_file: Path) -> None:
    app = _complaints()
    assert any("No category is rising" in s.value for s in app.success)
    assert any(c.value.startswith("Rising: the last 7 days hold at least 5 tickets") for c in app.caption)


def test_complaints_handling_table_gives_each_categorys_first_reply_and_sample(fixture_file: Path) -> None:
    table = _complaints().dataframe[0].value
    rows = {row["Category"]: row for row in table.to_dict("records")}
    # where-is-my-order created in the week: T1 30 and T3 60 minutes to first reply -> median 45
    assert rows["Where is my order"]["first_reply_minutes_median"] == 45.0
    assert rows["Where is my order"]["first_reply_minutes_median_n"] == 2


def test_complaints_examples_are_masked_and_chosen_from_the_url(fixture_file: Path) -> None:
    app = _complaints(example="damaged_item")
    examples = _table_with(app, "description")
    assert examples["ticket_id"].to_list() == ["T4"]
    assert examples["subject"].to_list() == ["Broken mug, call ***-4567"]


def test_complaints_without_ticket_order_links_say_how_tickets_reach_orders(fixture_file: Path) -> None:
    app = _complaints()
    assert any("by their order number" in i.value for i in app.info)


def test_a_broken_taxonomy_file_stops_start_up_with_the_file_and_key(fixture_file: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "mine.toml"
    broken.write_text('languages = ["en"]\n[categories.Bad-Slug]\nlabel = "x"\ndescription = "y"\n')
    monkeypatch.setenv("CSPULSE_TAXONOMY_PATH", str(broken))
    get_settings.cache_clear()
    app = _app()
    assert not app.exception
    message = app.error[0].value
    assert "taxonomy" in message and "mine.toml" in message and "categories.Bad-Slug" in message


def test_complaints_correction_is_saved_and_shown_as_the_analysts(fixture_file: Path) -> None:
    app = _complaints(example="shipping_status")
    app.selectbox(key="correction_ticket").set_value("fixture|T3")
    app.selectbox(key="correction_category").set_value("wrong_item")
    app.button(key="FormSubmitter:correction-Save correction").click().run()
    assert not app.exception
    app.selectbox(key="example").set_value("wrong_item").run()
    examples = _table_with(app, "description")
    assert examples["ticket_id"].to_list() == ["T3"]
    assert examples["category_source"].to_list() == ["analyst"]


def _table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The page's one table that has ``column``."""
    [table] = [frame.value for frame in app.dataframe if column in frame.value.columns]
    return table


def test_complaints_says_how_sure_the_categories_are_and_lists_a_sources_tickets(fixture_file: Path) -> None:
    """Each source's share of the period is a choice that lists the tickets behind it, masked: after one correction,
    3 of the week's 4 categories come from the export and 1 from an analyst."""
    from data.categorising import correct

    wh = Warehouse(fixture_file)
    correct(wh, "fixture", "T4", "wrong_item")  # T4: "Broken mug, call +1 (555) 123-4567"
    wh.close()
    app = _complaints()
    control = app.button_group(key="placed_by")
    assert control.value == "export"  # nothing uncategorised or guessed: the largest source first
    assert control.options == ["Export · 75% (3)", "Analyst · 25% (1)"]
    control.set_value("analyst").run()
    behind = _table_with(app, "category")
    assert behind[["ticket_id", "category"]].values.tolist() == [["T4", "Wrong item"]]
    assert "555" not in behind["subject"][0]



def test_every_filter_field_is_one_keyed_sidebar_widget_read_from_the_link(fixture_file: Path) -> None:
    """Each field of Filters has its sidebar widget, keyed by the field's name, and the link's parameter of that name
    reaches the query: the three places the README names for a new filter."""
    from dataclasses import fields

    from metrics.query import DIMENSIONS, Filters

    app = _app(start="2024-03-04", end="2024-03-10", channel="email", category="shipping_status", priority="normal")
    keys = [f.name for f in fields(Filters)]
    assert set(DIMENSIONS) == {f.name for f in fields(Filters) if f.type != "date"}
    sidebar = {widget.key for kind in ("date_input", "multiselect") for widget in getattr(app.sidebar, kind)}
    assert set(keys) <= sidebar
    chosen = app.session_state["filters"]
    assert (chosen.start.isoformat(), chosen.end.isoformat()) == ("2024-03-04", "2024-03-10")
    assert (chosen.channel, chosen.category, chosen.priority) == (("email",), ("shipping_status",), ("normal",))
    assert _tiles(app)["Tickets created"] == "2"  # T1 and T3: email, normal, shipping_status, created that week
