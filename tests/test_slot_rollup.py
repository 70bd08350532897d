"""The slot rollup gives the Staffing page's statements exactly what the ticket rows give: arrivals, the clock's
minutes, quality, waits and agents seen working per interval, weekly counts and days with tickets; on New York's
DST days, at slot boundaries, with and without filters, after a re-import, an undo, a settings change and a clock
change.

The independent path is the raw one: each statement with ``rollup=False`` reads the ticket rows. Each comparison
first checks that the rollup is served, and one test shows a changed rollup changes the answer, so a rollup left
unused cannot pass for a correct one. A hand-made day checks the numbers themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, rollups, slot_rollup
from data.ingest import Batch, import_batch, undo_import
from data.warehouse import Warehouse
from metrics import peaks, staffing
from metrics.query import Filters
from settings import Settings
from tests.conftest import NEW_YORK, on_clock
from tests.test_rollups import _tickets

VIEWS = [
    Filters(date(2024, 3, 1), date(2024, 11, 30)),
    Filters(date(2024, 3, 10), date(2024, 3, 10)),  # spring forward: a 23-hour day
    Filters(date(2024, 11, 3), date(2024, 11, 3)),  # fall back: 01:00-01:59 twice
    Filters(date(2024, 10, 28), date(2024, 11, 5), channel=("email",)),
    Filters(date(2024, 3, 1), date(2024, 11, 30), channel=("chat", "phone")),  # agents per quarter and channel too
    Filters(date(2024, 3, 1), date(2024, 11, 30), category=("shipping_status",), priority=("high", "urgent")),
    Filters(date(2030, 1, 1), date(2030, 1, 7)),  # no tickets
]
# a reply or solve at these local instants sits right on, or right before, a slot's edge (also midnight)
EDGES = [datetime(2024, 4, 2, 10), datetime(2024, 4, 2, 10, 30), datetime(2024, 4, 2, 10, 29, 59, 999999),
         datetime(2024, 4, 3, 0), datetime(2024, 4, 2, 23, 59, 59), datetime(2024, 4, 2, 10, 45)]


def _with_agents(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    return frame.with_columns(assignee=pl.Series([rng.choice(["ann", "bo", "cy", "dee", None])
                                                  for _ in range(frame.height)]))


def _edge_tickets() -> pl.DataFrame:
    """Tickets created, replied to and solved on slot edges (UTC stored; New York is UTC-4 in April)."""
    utc = [moment + timedelta(hours=4) for moment in EDGES]
    return pl.DataFrame({
        "source": "desk", "ticket_id": [f"E{i}" for i in range(len(utc))], "created_at": utc, "updated_at": utc,
        "first_reply_at": utc, "first_reply_minutes": [0.0] * len(utc), "solved_at": utc, "first_solved_at": utc,
        "status": "solved", "channel": "chat", "agent_replies": 1,
        "assignee": ["ann", "bo", "ann", "dee", "ann", "eve"],
    })


def _import(wh: Warehouse, name: str, frame: pl.DataFrame) -> str:
    result = import_batch(wh, Batch(name, f"sha-{name}", "desk", "tickets", {"tickets": frame}))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


@pytest.fixture
def wh(new_york: Settings) -> Iterator[Warehouse]:
    warehouse = on_clock(new_york)
    _import(warehouse, "first", pl.concat([_with_agents(_tickets(1500, seed=1), 1), _edge_tickets()],
                                          how="diagonal_relaxed"))
    yield warehouse
    warehouse.close()


STATEMENTS: dict[str, Callable[..., object]] = {
    "arrivals": lambda cur, view, minutes, s, rollup: staffing.arrivals(cur, view, minutes, s, rollup=rollup),
    "clock": lambda cur, view, minutes, s, rollup: staffing.clock_minutes(cur, view, s, rollup=rollup),
    "quality": lambda cur, view, minutes, s, rollup: staffing.slot_quality(cur, view, minutes, s, rollup=rollup),
    "overall": lambda cur, view, minutes, s, rollup: staffing.slot_quality(cur, view, minutes, s, overall=True,
                                                                           rollup=rollup),
    "waits": lambda cur, view, minutes, s, rollup: staffing.arrival_waits(cur, view, minutes, s, rollup=rollup),
    "seen": lambda cur, view, minutes, s, rollup: staffing.seen_working(cur, view, minutes, s, rollup=rollup),
    "weeks": lambda cur, view, minutes, s, rollup: peaks.weekly_tickets(cur, view, s, rollup=rollup),
    "days": lambda cur, view, minutes, s, rollup: peaks.ticket_days(cur, view, s, rollup=rollup),
}


def _assert_rollup_equals_raw(wh: Warehouse, settings: Settings, views: list[Filters] = VIEWS) -> None:
    cur = wh.cursor()
    assert peaks.slots_served(cur, settings), "the rollup must be served, else the comparison proves nothing"
    for view in views:
        for minutes in staffing.INTERVALS:
            for name, statement in STATEMENTS.items():
                fast, raw = statement(cur, view, minutes, settings, True), statement(cur, view, minutes, settings,
                                                                                    False)
                if isinstance(raw, pl.DataFrame):  # rates to the last bits (a sum over a count, not avg's own)
                    assert_frame_equal(fast, raw, rel_tol=1e-12, abs_tol=1e-12), (name, view, minutes)
                else:
                    assert fast == raw, (name, view, minutes)


def test_the_slot_rollup_gives_every_staffing_statement_as_the_ticket_rows_do(wh: Warehouse,
                                                                              new_york: Settings) -> None:
    _assert_rollup_equals_raw(wh, new_york)
    view = Filters(date(2024, 3, 1), date(2024, 11, 30))
    assert staffing.seen_working(wh.cursor(), view, 60, new_york)["staffed"].sum() > 100  # not vacuously equal
    assert staffing.slot_quality(wh.cursor(), view, 60, new_york)["first_reply_minutes_median"].drop_nulls().len() > 50


def test_days_are_sliced_into_runs_of_at_most_so_many_tickets_a_busier_day_alone() -> None:
    cur = duckdb.connect()
    cur.execute("CREATE TABLE tickets (created_local_date DATE)")
    per_day = {1: 3, 2: 1, 4: 2, 5: 5, 6: 1}  # day of January 2024 -> tickets; none on the 3rd
    cur.executemany("INSERT INTO tickets VALUES (?)", [[date(2024, 1, day)] for day, n in per_day.items()
                                                       for _ in range(n)])
    cur.execute("INSERT INTO tickets VALUES (NULL)")

    def runs(*days: tuple[int, int]) -> list[tuple[date, date]]:
        return [(date(2024, 1, first), date(2024, 1, last)) for first, last in days]

    assert slot_rollup.day_slices(cur, "TRUE", {}, 4) == runs((1, 2), (4, 4), (5, 5), (6, 6))
    assert slot_rollup.day_slices(cur, "{day} >= $since", {"since": date(2024, 1, 2)}, 3) == runs((2, 4), (5, 5),
                                                                                                   (6, 6))
    assert slot_rollup.day_slices(cur, "FALSE", {}, 4) == []


def test_a_rollup_built_a_few_days_at_a_time_gives_what_the_rows_do_and_is_in_time_order(
        monkeypatch: pytest.MonkeyPatch, new_york: Settings) -> None:
    """At ten million tickets the slots are grouped a million tickets at a time (their reply lists cannot spill);
    here at most 40 at a time, and a re-import refreshes its days in runs too."""
    monkeypatch.setattr(slot_rollup, "SLICE_TICKETS", 40)
    warehouse = on_clock(new_york)
    frame = pl.concat([_with_agents(_tickets(1500, seed=1), 1), _edge_tickets()], how="diagonal_relaxed")
    _import(warehouse, "first", frame)
    cur = warehouse.cursor()
    runs = slot_rollup.day_slices(cur, "TRUE", {}, 40)
    held = [cur.execute("SELECT count(*) FROM tickets WHERE created_local_date BETWEEN ? AND ?", run).fetchone()[0]
            for run in runs]
    assert len(runs) > 25 and all(n <= 40 or first == last for (first, last), n in zip(runs, held, strict=True))
    assert sum(held) == cur.execute("SELECT count(created_local_date) FROM tickets").fetchone()[0]
    _assert_rollup_equals_raw(warehouse, new_york)
    assert warehouse.cursor().execute("SELECT half_hour FROM staffing_slots").pl()["half_hour"].is_sorted()
    _import(warehouse, "again", frame.head(700).with_columns(channel=pl.lit("email")))
    _assert_rollup_equals_raw(warehouse, new_york)
    slots = warehouse.cursor().execute("SELECT half_hour FROM staffing_slots").pl()["half_hour"]
    assert slots.is_sorted() or slots.diff().drop_nulls().lt(timedelta(0)).sum() <= 1  # refreshed days appended
    warehouse.close()


def test_the_statements_read_the_rollup_where_it_is_served(wh: Warehouse, new_york: Settings) -> None:
    view = VIEWS[0]
    before = staffing.arrivals(wh.cursor(), view, 60, new_york)["tickets"].sum()
    seen = staffing.seen_working(wh.cursor(), view, 60, new_york)["staffed"].sum()
    with wh.transaction() as cur:  # a rollup that disagrees with the tickets, still marked current
        cur.execute("UPDATE staffing_slots SET n = n + 1")
        cur.execute("DELETE FROM staffing_agents WHERE assignee = 'ann'")
    assert staffing.arrivals(wh.cursor(), view, 60, new_york)["tickets"].sum() > before
    assert staffing.seen_working(wh.cursor(), view, 60, new_york)["staffed"].sum() < seen
    # with a channel filter too: bo's quarters in chat changed, the other channels' not
    chats, emails = (Filters(view.start, view.end, channel=(channel,)) for channel in ("chat", "email"))
    chat_seen, email_seen = (staffing.seen_working(wh.cursor(), v, 60, new_york)["staffed"].sum()
                             for v in (chats, emails))
    with wh.transaction() as cur:
        cur.execute("DELETE FROM staffing_agents WHERE assignee = 'bo' AND channel = 'chat'")
    assert staffing.seen_working(wh.cursor(), chats, 60, new_york)["staffed"].sum() < chat_seen
    assert staffing.seen_working(wh.cursor(), emails, 60, new_york)["staffed"].sum() == email_seen
    # with a category or priority filter, agents come from the tickets (the rollup keeps no such key for them)
    shipping = Filters(view.start, view.end, category=("shipping_status",))
    assert_frame_equal(staffing.seen_working(wh.cursor(), shipping, 60, new_york),
                       staffing.seen_working(wh.cursor(), shipping, 60, new_york, rollup=False))


def test_slot_edges_and_dst_days_by_hand(new_york: Settings) -> None:
    """Replies right on a slot's edge count in the slot they open; on the fall-back night 01:10 EDT and 01:10 EST
    are one local interval; the spring-forward day has no 02:00."""
    wh = Warehouse()
    clock.sync(wh, clock.Clock.of(new_york))
    fall = [datetime(2024, 11, 3, 5, 10), datetime(2024, 11, 3, 6, 10)]  # UTC: 01:10 EDT, then 01:10 EST
    spring = [datetime(2024, 3, 10, 6, 59, 59), datetime(2024, 3, 10, 7)]  # UTC: 01:59:59 EST, then 03:00 EDT
    _import(wh, "hand", pl.concat([_edge_tickets(), pl.DataFrame({
        "source": "desk", "ticket_id": ["F1", "F2", "S1", "S2"], "created_at": fall + spring,
        "updated_at": fall + spring, "first_reply_at": fall + spring, "channel": "email",
        "assignee": ["ann", "bo", "cy", "cy"]})], how="diagonal_relaxed"))
    cur = wh.cursor()
    assert peaks.slots_served(cur, new_york)
    april = Filters(date(2024, 4, 2), date(2024, 4, 2))
    half = staffing.arrivals(cur, april, 30, new_york)
    assert half.select("slot", "tickets").rows() == [(datetime(2024, 4, 2, 10), 2), (datetime(2024, 4, 2, 10, 30), 2),
                                                     (datetime(2024, 4, 2, 23, 30), 1)]
    seen = staffing.seen_working(cur, april, 30, new_york)
    assert seen.rows() == [(datetime(2024, 4, 2, 10), 1.0), (datetime(2024, 4, 2, 10, 30), 2.0),
                           (datetime(2024, 4, 2, 23, 30), 1.0)]  # ann at 10:00 and 10:29:59 counts once
    fallback = staffing.seen_working(cur, Filters(date(2024, 11, 3), date(2024, 11, 3)), 60, new_york)
    assert fallback.rows() == [(datetime(2024, 11, 3, 1), 2.0)]
    springs = staffing.arrivals(cur, Filters(date(2024, 3, 10), date(2024, 3, 10)), 60, new_york)
    assert springs.select("slot", "tickets").rows() == [(datetime(2024, 3, 10, 1), 1), (datetime(2024, 3, 10, 3), 1)]
    waits = staffing.arrival_waits(cur, april, 60, new_york)
    assert waits.rows() == [(datetime(2024, 4, 2, 10), 0.0, True)] * 4 + [(datetime(2024, 4, 2, 23), 0.0, True)]
    assert staffing.clock_minutes(cur, april, new_york) == 1
    wh.close()


def test_a_reimport_and_its_undo_keep_the_slot_rollup_equal_to_raw(wh: Warehouse, new_york: Settings) -> None:
    # the same tickets again with other days, channels, assignees and solves, and new ones
    again = _with_agents(_tickets(1500, seed=2).head(700), 2).with_columns(pl.col("updated_at") + timedelta(days=400))
    newer = _import(wh, "again", pl.concat([again, _with_agents(_tickets(200, seed=3, prefix="N"), 3)],
                                           how="diagonal_relaxed"))
    _assert_rollup_equals_raw(wh, new_york, VIEWS[:5])
    undo_import(wh, newer)
    _assert_rollup_equals_raw(wh, new_york, VIEWS[:5])


def test_after_a_settings_change_the_rollup_is_read_only_once_rebuilt_on_it(wh: Warehouse) -> None:
    changed = Settings(_env_file=None, timezone=NEW_YORK, csat_good_min_score=3,  # type: ignore[call-arg]
                       sla_first_reply_minutes={"email": 60, "chat": 5, "phone": 1, "other": 240},
                       automation_tags=("vip",))
    assert not peaks.slots_served(wh.cursor(), changed)  # its SLA, CSAT and automation parts are the old ones
    assert rollups.sync(wh, changed)
    _assert_rollup_equals_raw(wh, changed, VIEWS[:4])


def test_a_clock_change_rebuilds_the_slot_rollup_on_the_new_wall_clock(wh: Warehouse) -> None:
    berlin = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    assert not peaks.slots_served(wh.cursor(), berlin)
    assert clock.sync(wh, clock.Clock.of(berlin))
    _assert_rollup_equals_raw(wh, berlin, VIEWS[:4])


@pytest.mark.parametrize("staffing_known", [True, False])
def test_after_hours_in_the_warehouse_is_after_hours_of_each_ticket(wh: Warehouse, new_york: Settings,
                                                                   staffing_known: bool) -> None:
    """``after_hours_of`` (from the rollup, and from the tickets) gives the table ``after_hours`` gives from a row
    per ticket: counts exactly, medians and 90th percentiles to the last bits."""
    cur = wh.cursor()
    assert peaks.slots_served(cur, new_york)
    for view in VIEWS:
        for minutes in staffing.INTERVALS:
            staffed = staffing.seen_working(cur, view, minutes, new_york, rollup=False) if staffing_known else None
            expected = staffing.after_hours(staffing.arrival_waits(cur, view, minutes, new_york, rollup=False),
                                            staffed)
            covered = staffing.covered_slots(staffed)
            for rollup in (True, False):
                found = staffing.after_hours_of(cur, view, minutes, covered, new_york, rollup=rollup)
                assert_frame_equal(found, expected, rel_tol=1e-12, abs_tol=1e-12)
    march = staffing.after_hours_of(cur, VIEWS[0], 60, staffing.covered_slots(
        staffing.seen_working(cur, VIEWS[0], 60, new_york)) if staffing_known else None, new_york)
    assert march["tickets"].sum() > 1000 and march["first_reply_minutes_p90"].drop_nulls().len() >= 1


@pytest.mark.parametrize(("zone", "day"), [("America/Havana", date(2024, 11, 3)),  # 01:00 back to 00:00: two midnights
                                           ("America/Santiago", date(2024, 9, 8)),  # 00:00 forward to 01:00
                                           ("America/Santiago", date(2024, 4, 7))])  # 00:00 back to 23:00
def test_a_window_is_its_local_days_where_a_midnight_comes_twice_or_never(zone: str, day: date) -> None:
    """A ticket every quarter hour around a DST change at midnight: each window holds the tickets of its local days,
    from the rollup and from the ticket rows alike; a day's windows together hold each ticket once."""
    settings = Settings(_env_file=None, timezone=zone)  # type: ignore[call-arg]
    wh = Warehouse()
    clock.sync(wh, clock.Clock.of(settings))
    utc = [datetime.combine(day, datetime.min.time()) + timedelta(minutes=15 * k) for k in range(-24, 48)]
    _import(wh, "zone", pl.DataFrame({"source": "desk", "ticket_id": [f"Z{k}" for k in range(len(utc))],
                                      "created_at": utc, "first_reply_at": utc, "assignee": "ann", "channel": "chat"}))
    views = [Filters(day - timedelta(days=1), day - timedelta(days=1)), Filters(day, day),
             Filters(day + timedelta(days=1), day + timedelta(days=1))]
    _assert_rollup_equals_raw(wh, settings, views)
    per_day = [staffing.arrivals(wh.cursor(), view, 60, settings, rollup=False)["tickets"].sum() for view in views]
    assert sum(per_day) == len(utc)
    if zone == "America/Havana":  # Nov 3 begins at 00:00 CDT, 04:00 UTC: the tickets of 18:00-03:45 UTC are Nov 2's
        assert per_day == [40, 32, 0]  # (14:00-23:45 CDT), those of 04:00-11:45 UTC Nov 3's, 00:xx twice among them
    wh.close()
