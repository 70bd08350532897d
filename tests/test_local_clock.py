"""The account's clock worked out once per row (data/clock.py): every KPI reads the stored local dates and business
minutes and gives exactly what the per-row conversion at query time gave; the columns follow a change of time zone
or business hours, rebuilt by the dashboard and the command line."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from datetime import datetime as D
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data import cli, clock
from data.categorising import categorise
from data.classifier import load_taxonomy
from data.ingest import Batch, import_batch, undo_import
from data.schema import FACT_TABLES
from data.warehouse import Warehouse
from metrics import query as mq
from metrics.registry import DERIVED, DURATIONS, METRICS
from settings import Settings, get_settings
from tests.conftest import PROJECT, use_warehouse, warehouse_file

ZONES = ("America/New_York", "Australia/Sydney")
# New York springs forward Sun 2024-03-10 02:00 and falls back Sun 11-03 02:00; Sydney falls back Sun 04-07 03:00
# and springs forward Sun 10-06 02:00. Tickets arrive at these wall-clock times the day before, of and after each
# jump (02:30 does not exist on a spring day and 01:30 / 02:30 happen twice on a fall day: both are kept, read as
# zoneinfo reads them), so a local day, hour or week differs from the UTC one for most of them.
JUMPS = {"America/New_York": (date(2024, 3, 10), date(2024, 11, 3)),
         "Australia/Sydney": (date(2024, 4, 7), date(2024, 10, 6))}
LOCAL_TIMES = ((23, 30), (0, 30), (1, 30), (2, 30), (8, 55), (17, 50))
# minutes to the first reply, the first solve and the last solve, cycled over the tickets (None: not yet)
REPLY = (5, 95, 600, 1500, 4000, None, 30)
FIRST_SOLVE = (60, 700, None, 3000, 9000, 200, None, 45)
EXTRA_SOLVE = (0, 1440, 0, 20, 0)


def _arrivals() -> list[datetime]:
    """Naive UTC instants of the wall-clock times above, in both zones."""
    stamps = []
    for zone, days in JUMPS.items():
        for jump in days:
            for day in (jump - timedelta(days=1), jump, jump + timedelta(days=1)):
                for hour, minute in LOCAL_TIMES:
                    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
                    stamps.append(local.astimezone(UTC).replace(tzinfo=None))
    return stamps


def _after(start: datetime, minutes: float | None) -> datetime | None:
    return None if minutes is None else start + timedelta(minutes=minutes)


def _tickets() -> pl.DataFrame:
    rows = []
    for i, created in enumerate(_arrivals()):
        reply, first = REPLY[i % len(REPLY)], FIRST_SOLVE[i % len(FIRST_SOLVE)]
        solved = None if first is None else first + EXTRA_SOLVE[i % len(EXTRA_SOLVE)]
        at = partial(_after, created)
        rows.append({
            "ticket_id": f"T{i}", "created_at": created, "updated_at": at(solved) or created,
            "first_reply_at": at(reply), "first_reply_minutes": None if reply is None else float(reply),
            "first_solved_at": at(first), "first_resolution_minutes": None if first is None else float(first),
            "solved_at": at(solved), "full_resolution_minutes": None if solved is None else float(solved),
            "status": "solved" if solved is not None else ("open", "pending", "new")[i % 3],
            "channel": ("email", "chat", "phone", "web")[i % 4], "priority": ("low", "normal", "high")[i % 3],
            "category_exported": ("shipping_status", "refund", "damaged_item")[i % 3],
            "group_name": ("Support", "Tier 2", None)[i % 3], "assignee": ("ana", "ben", None)[i % 3],
            "agent_replies": i % 4, "reopens": i % 5 == 0, "tags": ("vip", "escalated", None, "auto_closed")[i % 4],
            "satisfaction_rating": ("good", "bad", "offered", None)[i % 4],
            "satisfaction_score": (5, None, 2, None, 4)[i % 5], "nps_score": (10, 3, None, 8)[i % 4],
            "requester_wait_minutes": None if solved is None else solved / 2,
            # the export's own business minutes for some tickets: ours stay out of those
            "first_reply_business_minutes": 7.0 if i % 6 == 0 and reply is not None else None,
            "full_resolution_business_minutes": 11.0 if i % 7 == 0 and solved is not None else None,
            "order_id": f"O{i}" if i % 2 else None,
        })
    return pl.DataFrame(rows).with_columns(source=pl.lit("dst"), reopens=pl.col("reopens").cast(pl.Int32))


def _orders() -> pl.DataFrame:
    stamps = _arrivals()
    return pl.DataFrame({
        "order_id": [f"O{i}" for i in range(len(stamps))], "created_at": stamps, "currency": ["USD"] * len(stamps),
        "gross_sales": [float(10 + i) for i in range(len(stamps))],
        "refunded_amount": [float(i % 3) for i in range(len(stamps))],
        "fulfilled_at": [s + timedelta(hours=(5, 30, 70)[i % 3]) if i % 4 else None for i, s in enumerate(stamps)],
        "customer_key": pl.Series([i % 9 for i in range(len(stamps))], dtype=pl.UInt64),
    }).with_columns(source=pl.lit("dst"))


def _traffic() -> pl.DataFrame:
    days = [date(2024, 3, 1) + timedelta(days=k) for k in range(0, 250, 3)]
    return pl.DataFrame({"date": days, "sessions": [100 + k for k in range(len(days))],
                         "carts": [20] * len(days), "orders": [5] * len(days)}).with_columns(source=pl.lit("dst"))


def _load(wh: Warehouse) -> None:
    for kind, frame in (("tickets", _tickets()), ("orders", _orders()), ("traffic", _traffic())):
        import_batch(wh, Batch(f"{kind}.csv", f"sha-{kind}", "dst", kind, {kind: frame}))
    categorise(wh, load_taxonomy())


@pytest.fixture(scope="module")
def dst_warehouse() -> Warehouse:
    wh = Warehouse()
    _load(wh)
    return wh


def _settings(zone: str, **more: object) -> Settings:
    return Settings(_env_file=None, timezone=zone, **more)  # type: ignore[arg-type]


# --- the old per-row conversion, as metrics/query.py and metrics/clock.py wrote it before schema 6 -----------------
def _old_local(column: str) -> str:
    return f"timezone($tz, timezone('UTC', {column}))"


def _old_minutes_since_epoch(column: str) -> str:
    days = "(floor(e / 86400)::BIGINT - 4)"
    weekday = f"({days} % 7)"
    minute_of_day = "((e - floor(e / 86400) * 86400) / 60.0)"
    whole_days = f"(({days} // 7) * $bh_days_before[8] + $bh_days_before[{weekday} + 1])"
    today = f"$bh_days[{weekday} + 1] * least(greatest({minute_of_day} - $bh_start, 0), $bh_span)"
    return f"list_transform([epoch({_old_local(column)})], lambda e: {whole_days} * $bh_span + {today})[1]"


def _old_business(end: str) -> str:
    return (f"(CASE WHEN {end} >= created_at THEN "
            f"({_old_minutes_since_epoch(end)} - {_old_minutes_since_epoch('created_at')}) END)")


OLD_EXPRESSIONS = {
    "created_local_date": f"({_old_local('created_at')})::DATE",
    "solved_local_date": f"({_old_local('solved_at')})::DATE",
    "fulfilled_local_date": f"({_old_local('fulfilled_at')})::DATE",
    "customer_previous_local_date": f"({_old_local('customer_previous_at')})::DATE",
    "customer_second_previous_local_date": f"({_old_local('customer_second_previous_at')})::DATE",
    "first_reply_business_minutes_computed": _old_business("first_reply_at"),
    "first_resolution_business_minutes_computed": _old_business("first_solved_at"),
    "full_resolution_business_minutes_computed": _old_business("solved_at"),
}


def _per_row(sql: str) -> str:
    """The statement with every stored clock column replaced by the conversion it stands for."""
    for column, expression in OLD_EXPRESSIONS.items():
        sql = re.sub(rf"\b{column}\b", expression, sql)
    assert "_local_" not in sql and "_computed" not in sql, "a clock column without its old expression"
    return sql


ALL_KPIS = [m.name for m in METRICS]
TICKET_KPIS = [m.name for m in METRICS if m.table in ("tickets", DERIVED) and all(
    mq.BY_NAME[i].table == "tickets" for i in m.inputs)]
WHOLE = mq.Filters(date(2024, 3, 1), date(2024, 11, 30))


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("grain", [None, "day", "week", "month"])
def test_every_kpi_from_stored_columns_equals_the_per_row_conversion(dst_warehouse: Warehouse, zone: str,
                                                                     grain: str | None) -> None:
    settings = _settings(zone)
    clock.sync(dst_warehouse, clock.Clock.of(settings))
    cur = dst_warehouse.cursor()
    assert clock.recorded(cur) == clock.Clock.of(settings).recorded  # so the query reads the stored columns
    stored = mq.query(cur, ALL_KPIS, WHOLE, grain, settings=settings, samples=True)
    per_row = mq.execute(cur, _per_row(mq.build_sql(ALL_KPIS, grain, samples=True)), WHOLE, settings)
    assert stored.equals(per_row)
    assert stored.height == {None: 1, "day": 275, "week": 40, "month": 9}[grain]
    assert stored["tickets_created"].sum() == len(_arrivals())  # every ticket lies in the view


@pytest.mark.parametrize("zone", ZONES)
def test_every_ticket_kpi_by_channel_from_stored_columns_equals_the_per_row_conversion(dst_warehouse: Warehouse,
                                                                                        zone: str) -> None:
    settings = _settings(zone, business_days="mon,tue,wed,thu,fri,sat", business_hours_start="08:00")
    clock.sync(dst_warehouse, clock.Clock.of(settings))
    cur = dst_warehouse.cursor()
    stored = mq.query(cur, TICKET_KPIS, WHOLE, "week", by="channel", settings=settings, samples=True)
    per_row = mq.execute(cur, _per_row(mq.build_sql(TICKET_KPIS, "week", "channel", samples=True)), WHOLE,
                         settings)
    assert stored.equals(per_row)


def test_a_query_for_another_clock_than_the_stored_one_gives_that_clocks_numbers(dst_warehouse: Warehouse) -> None:
    new_york, sydney = (_settings(zone) for zone in ZONES)
    clock.sync(dst_warehouse, clock.Clock.of(new_york))
    stored = mq.query(dst_warehouse.cursor(), ALL_KPIS, WHOLE, "week", settings=new_york)
    sydney_weeks = mq.query(dst_warehouse.cursor(), ALL_KPIS, WHOLE, "week", settings=sydney)
    clock.sync(dst_warehouse, clock.Clock.of(sydney))
    assert mq.query(dst_warehouse.cursor(), ALL_KPIS, WHOLE, "week", settings=new_york).equals(stored)
    assert mq.query(dst_warehouse.cursor(), ALL_KPIS, WHOLE, "week", settings=sydney).equals(sydney_weeks)
    assert not stored.equals(sydney_weeks)  # the zones place the tickets in other weeks


# --- the stored columns against Python's own zone rules -------------------------------------------------------------
def _business_minutes(start: datetime, end: datetime, settings: Settings) -> float:
    """Minutes of business hours between two local wall-clock times, one day at a time."""
    total, day = 0.0, start.date()
    while day <= end.date():
        if ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()] in settings.business_days:
            opens = datetime.combine(day, settings.business_hours_start)
            closes = datetime.combine(day, settings.business_hours_end)
            total += max((min(end, closes) - max(start, opens)).total_seconds(), 0) / 60
        day += timedelta(days=1)
    return total


@pytest.mark.parametrize("zone", ZONES)
def test_stored_local_times_and_business_minutes_match_pythons_zone_rules(dst_warehouse: Warehouse,
                                                                          zone: str) -> None:
    settings = _settings(zone)
    clock.sync(dst_warehouse, clock.Clock.of(settings))
    stored = dst_warehouse.cursor().execute("SELECT * FROM tickets ORDER BY ticket_id").pl()
    tz = ZoneInfo(zone)

    def local(stamp: datetime | None) -> datetime | None:
        return None if stamp is None else stamp.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)

    for row in stored.iter_rows(named=True):
        created = local(row["created_at"])
        assert created is not None
        assert row["created_local_at"] == created
        assert (row["created_local_date"], row["created_local_hour"]) == (created.date(), created.hour)
        assert row["created_local_isodow"] == created.isoweekday()
        assert row["solved_local_date"] == (local(row["solved_at"]).date() if row["solved_at"] else None)  # type: ignore[union-attr]
        for duration in DURATIONS:
            end = local(row[duration.end_column])
            exported = row.get(f"{duration.stem}_business_minutes") if duration.exported_business else None
            expected = None if end is None or exported is not None else _business_minutes(created, end, settings)
            assert row[duration.computed_business_column] == pytest.approx(expected), (row["ticket_id"], duration)


def test_each_declared_clock_column_is_in_the_schema_as_derived_and_each_period_has_its_local_date() -> None:
    for table, columns in clock.COLUMNS.items():
        assert set(columns) <= set(FACT_TABLES[table].derived) <= set(FACT_TABLES[table].column_names)
    for duration in DURATIONS:
        assert duration.end_column in clock.COLUMNS["tickets"][duration.computed_business_column]
    for metric in METRICS:
        if metric.table != DERIVED and not metric.until:
            assert mq.local_date(metric.table, metric.time) in FACT_TABLES[metric.table].column_names, metric.name


# --- the columns follow the data and the settings -------------------------------------------------------------------
LATE = pl.DataFrame({"source": ["tz"], "ticket_id": ["1"], "created_at": [D(2024, 3, 11, 3, 30)]})  # 03-10 23:30 NY
TENTH = mq.Filters(date(2024, 3, 10), date(2024, 3, 10))


def _load_late(wh: Warehouse) -> None:
    import_batch(wh, Batch("tz.csv", "sha-tz", "tz", "tickets", {"tickets": LATE}))


def _load_late_and_earlier(wh: Warehouse) -> None:
    """LATE and a ticket on the 8th, so the export reaches the 10th on either clock: a 0 there is a real 0."""
    _load_late(wh)
    earlier = LATE.with_columns(ticket_id=pl.lit("0"), created_at=pl.lit(D(2024, 3, 8, 12)))
    import_batch(wh, Batch("earlier.csv", "sha-earlier", "tz", "tickets", {"tickets": earlier}))


def _stored_day(wh: Warehouse) -> date:
    return wh.cursor().execute("SELECT created_local_date FROM tickets").fetchone()[0]  # type: ignore[index]


def test_an_import_works_the_columns_out_on_the_clock_the_warehouse_records() -> None:
    wh = Warehouse()
    _load_late(wh)
    assert _stored_day(wh) == date(2024, 3, 11)  # a new warehouse: the settings' default clock, UTC
    clock.sync(wh, clock.Clock.of(_settings("America/New_York")))
    later = LATE.with_columns(ticket_id=pl.lit("2"))
    import_batch(wh, Batch("tz2.csv", "sha-tz2", "tz", "tickets", {"tickets": later}))
    days = wh.cursor().execute("SELECT DISTINCT created_local_date FROM tickets").fetchall()
    assert days == [(date(2024, 3, 10),)]


def test_an_undo_restores_rows_on_the_clock_in_force() -> None:
    wh = Warehouse()
    _load_late(wh)
    newer = LATE.with_columns(updated_at=pl.lit(D(2024, 3, 12)), channel=pl.lit("chat"))
    second = import_batch(wh, Batch("tz2.csv", "sha-tz2", "tz", "tickets", {"tickets": newer}))
    clock.sync(wh, clock.Clock.of(_settings("America/New_York")))
    undo_import(wh, second.import_id)  # type: ignore[arg-type]
    assert wh.cursor().execute("SELECT channel, created_local_date FROM tickets").fetchall() == [
        (None, date(2024, 3, 10))]


def test_a_rebuild_is_one_transaction_that_expires_cached_results() -> None:
    wh = Warehouse()
    _load_late(wh)
    version = wh.data_version()
    assert clock.sync(wh, clock.Clock.of(_settings("America/New_York")))
    assert wh.data_version() == version + 1
    assert not clock.sync(wh, clock.Clock.of(_settings("America/New_York")))  # nothing changed: no rebuild
    assert wh.data_version() == version + 1


def test_a_warehouse_migrated_from_schema_5_gets_its_columns_with_the_next_import(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    wh = Warehouse(path)
    _load_late_and_earlier(wh)
    wh.cursor().execute("UPDATE tickets SET created_local_date = NULL")  # as the migration leaves old rows
    wh.cursor().execute("DELETE FROM warehouse_meta WHERE key = 'clock'")
    assert mq.totals(wh.cursor(), ["tickets_created"], TENTH, _settings("UTC")) == {"tickets_created": 0}
    later = LATE.with_columns(ticket_id=pl.lit("2"), created_at=pl.lit(D(2024, 3, 10, 12)))
    import_batch(wh, Batch("tz2.csv", "sha-tz2", "tz", "tickets", {"tickets": later}))
    assert wh.cursor().execute("SELECT count(created_local_date) FROM tickets").fetchone() == (3,)  # every row


def test_command_line_rebuilds_the_columns_when_the_time_zone_setting_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.duckdb"
    warehouse_file(monkeypatch, db, _load_late)
    monkeypatch.setenv("CSPULSE_TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    wh = cli.open_on_clock(db, get_settings())
    try:
        assert "worked out again for America/New_York" in capsys.readouterr().err
        assert _stored_day(wh) == date(2024, 3, 10)
        assert mq.totals(wh.cursor(), ["tickets_created"], TENTH, get_settings()) == {"tickets_created": 1}
    finally:
        wh.close()


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_dashboard_rebuilds_the_columns_when_the_time_zone_setting_changed_and_the_numbers_follow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    warehouse_file(monkeypatch, tmp_path / "app.duckdb", _load_late_and_earlier)

    def tickets_on_the_tenth() -> tuple[str, list[str]]:
        app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60)
        app.query_params["start"] = app.query_params["end"] = "2024-03-10"
        app.run()
        assert not app.exception
        return {m.label: m.value for m in app.metric}["Tickets created"], [t.value for t in app.toast]

    assert tickets_on_the_tenth() == ("0", [])  # UTC: the ticket arrived on the 11th
    st.cache_resource.clear()  # a restart with another setting
    st.cache_data.clear()
    monkeypatch.setenv("CSPULSE_TIMEZONE", "America/New_York")
    use_warehouse(monkeypatch, tmp_path / "app.duckdb")
    count, toasts = tickets_on_the_tenth()
    assert count == "1"
    assert any("worked out again for America/New_York" in toast for toast in toasts)
    wh = Warehouse(tmp_path / "app.duckdb")  # a second handle on the dashboard's database, in this process
    assert clock.recorded(wh.cursor()) == clock.Clock.of(get_settings()).recorded


def _clock_columns(wh: Warehouse, table: str) -> pl.DataFrame:
    key = FACT_TABLES[table].key[-1]
    return wh.cursor().execute(f"SELECT {key}, {', '.join(clock.COLUMNS[table])} FROM {table} ORDER BY {key}").pl()


@pytest.mark.parametrize("zone", ZONES)
def test_rows_arrive_with_the_clock_columns_the_update_after_the_merge_gave(zone: str) -> None:
    """The import writes the clock columns in its INSERT (a first import) and its MERGE (a newer export of the same
    tickets); rebuilding them with the UPDATE every import used to run gives the same values, at every DST edge."""
    wh, tickets, orders = Warehouse(), _tickets(), _orders()
    account = clock.Clock.of(_settings(zone, business_hours_start="08:30", business_hours_end="17:00",
                                       business_days=["Mon", "Tue", "Wed", "Thu", "Sat"]))
    clock.sync(wh, account)
    first = tickets.filter(pl.col("agent_replies") < 3)
    import_batch(wh, Batch("t.csv", "sha-t", "dst", "tickets", {"tickets": first}))
    newer = tickets.with_columns(updated_at=pl.col("updated_at") + timedelta(days=1))
    merged = import_batch(wh, Batch("t2.csv", "sha-t2", "dst", "tickets", {"tickets": newer}))
    import_batch(wh, Batch("o.csv", "sha-o", "dst", "orders", {"orders": orders}))
    assert (merged.inserted, merged.updated) == (tickets.height // 4, tickets.height - tickets.height // 4)
    arrived = {table: _clock_columns(wh, table) for table in clock.COLUMNS}
    with wh.transaction() as cur:
        clock.rebuild(cur, account)
    for table, before in arrived.items():
        assert before.drop(before.columns[0]).null_count().row(0) != (before.height,) * (before.width - 1)
        assert before.equals(_clock_columns(wh, table)), table
