"""The ticket rollup gives every KPI it serves exactly as the ticket rows do: at every grain, with and without each
filter and breakdown, after imports, a re-import, an undo, a re-categorisation, linking and a clock change.

The independent path is the raw one: the same query with ``rollup=False`` reads the ticket rows. Each comparison
first checks that the rollup was current and read, so a rollup left unused cannot pass for a correct one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, rollups
from data.categorising import categorise, correct
from data.classifier import load_taxonomy
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.linking import link
from data.warehouse import Warehouse
from metrics.distributions import arrivals_by_hour
from metrics.query import GRAINS, Filters, build_sql, query, rollup_current, served
from metrics.registry import METRICS
from settings import Settings
from tests.conftest import NEW_YORK, on_clock

TICKET_KPIS = [m.name for m in METRICS if m.table == "tickets"]
# served whatever the settings; those of READING_SETTINGS while the rollup holds the settings in force
ALWAYS_SERVED = ["tickets_created", "tickets_solved", "first_reply_minutes_mean", "first_reply_business_minutes_mean",
                 "first_resolution_minutes_mean", "first_resolution_business_minutes_mean",
                 "full_resolution_minutes_mean", "full_resolution_business_minutes_mean", "requester_wait_minutes_mean",
                 "resolution_rate", "one_touch_rate", "reopen_rate", "csat_response_rate", "nps",
                 "tickets_created_shared_days", "tickets_linked_share", "wismo_tickets", "wismo_tickets_shared_days"]
READING_SETTINGS = ["sla_first_reply_attainment", "sla_resolution_attainment", "csat", "escalation_rate",
                    "automation_rate"]
SERVED = ALWAYS_SERVED + READING_SETTINGS
VIEWS = [Filters(datetime(2024, 3, 1).date(), datetime(2024, 11, 30).date()),
         Filters(datetime(2024, 3, 10).date(), datetime(2024, 3, 10).date()),  # spring forward in New York
         Filters(datetime(2024, 10, 28).date(), datetime(2024, 11, 5).date(), channel=("email",)),  # fall back
         Filters(datetime(2024, 3, 1).date(), datetime(2024, 11, 30).date(), channel=("email", "chat")),
         Filters(datetime(2024, 3, 1).date(), datetime(2024, 11, 30).date(), category=("shipping_status",)),
         Filters(datetime(2024, 3, 1).date(), datetime(2024, 11, 30).date(), priority=("high", "urgent")),
         Filters(datetime(2024, 4, 1).date(), datetime(2024, 6, 30).date(), channel=("chat",), category=(
             "shipping_status", "refund_request"), priority=("normal",))]
BREAKDOWNS = [None, "channel", "category", "priority", "assignee"]


def _maybe(rng: random.Random, values: list[object], none_share: float = 0.15) -> object:
    return None if rng.random() < none_share else rng.choice(values)


def _tickets(count: int, seed: int, prefix: str = "T") -> pl.DataFrame:
    """Tickets around New York's DST changes, many near local midnight (so UTC and local days differ), solved on
    other days than created, with NULL dimensions, impossible times and out-of-range answers."""
    rng = random.Random(seed)
    agents = random.Random(seed + 7919)  # apart, so the other columns stay as they were before agents came in
    start = datetime(2024, 2, 25)
    rows = []
    for i in range(count):
        created = start + timedelta(days=rng.randrange(280), hours=rng.choice([3, 4, 5, 6, 12, 15, 23]),
                                    minutes=rng.randrange(60))
        if rng.random() < 0.3:  # right around the spring and autumn changes
            created = rng.choice([datetime(2024, 3, 10, 6), datetime(2024, 11, 3, 5)]) + timedelta(
                minutes=rng.randrange(-600, 600))
        solved = created + timedelta(minutes=rng.randrange(5, 6000)) if rng.random() < 0.7 else None
        reply = created + timedelta(minutes=rng.randrange(-30, 900)) if rng.random() < 0.8 else None
        reply_minutes = (reply - created).total_seconds() / 60 if reply else None
        resolution = (solved - created).total_seconds() / 60 if solved else None
        issue = "first reply before creation" if reply_minutes is not None and reply_minutes < 0 else None
        rows.append({
            "source": "desk", "ticket_id": f"{prefix}{i}", "created_at": created, "updated_at": created,
            "first_reply_at": reply, "first_solved_at": solved, "solved_at": solved,
            "status": "solved" if solved else _maybe(rng, ["open", "pending"]),
            "channel": _maybe(rng, ["email", "chat", "phone"]), "priority": _maybe(rng, ["low", "normal", "high",
                                                                                       "urgent"]),
            "category_exported": _maybe(rng, ["shipping_status", "refund_request", "damaged_item"], 0.3),
            "group_name": _maybe(rng, ["Tier 1", "Tier 2"], 0.3),
            "assignee": _maybe(agents, ["Ana", "Bo", "Cy", "Di", "Ed", "Flo"], 0.1),
            "customer_key": rng.randrange(40), "order_id": _maybe(rng, ["1001", "1002"], 0.7),
            "agent_replies": _maybe(rng, [0, 1, 2, 5], 0.2), "reopens": _maybe(rng, [0, 0, 1], 0.2),
            "first_reply_minutes": reply_minutes,
            "first_reply_business_minutes": rng.choice([None, None, 33.0]) if reply else None,
            "first_resolution_minutes": resolution, "full_resolution_minutes": resolution,
            "full_resolution_business_minutes": rng.choice([None, 120.5]) if solved else None,
            "requester_wait_minutes": resolution / 2 if solved and rng.random() < 0.5 else None,
            "nps_score": _maybe(rng, [0, 3, 6, 7, 8, 9, 10, 11], 0.5), "data_issues": issue,
            "tags": _maybe(rng, ["vip", "escalated", "bot refund", "tier2 vip", "auto_closed", ""], 0.3),
            "satisfaction_rating": _maybe(rng, ["good", "bad", "offered"], 0.4),
            "satisfaction_score": _maybe(rng, [1, 2, 3, 4, 5], 0.6),
        })
    return pl.DataFrame(rows, infer_schema_length=None)


def _orders() -> pl.DataFrame:
    placed = [datetime(2024, 2, 20) + timedelta(days=7 * k) for k in range(40)]
    return pl.DataFrame({"source": "shop", "order_id": [str(1001 + k) for k in range(40)], "created_at": placed,
                         "customer_key": list(range(40)), "currency": "USD"},
                        schema_overrides={"customer_key": pl.UInt64})


def _import(wh: Warehouse, name: str, frames: dict[str, pl.DataFrame]) -> str:
    result = import_batch(wh, Batch(name, f"sha-{name}", "desk" if "tickets" in frames else "shop",
                                    "tickets" if "tickets" in frames else "orders", frames))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def _assert_rollup_equals_raw(wh: Warehouse, settings: Settings, names: list[str] = SERVED, *,
                              views: list[Filters] = VIEWS[:3],
                              breakdowns: Sequence[str | None] = (None, "channel", "assignee")) -> None:
    cur = wh.cursor()
    assert rollup_current(cur, settings), "the rollup must be current, else the comparison proves nothing"
    assert rollups.settings_current(cur, settings), "so must the settings its parts were worked out with"
    for view in views:
        assert_frame_equal(arrivals_by_hour(cur, view, settings), arrivals_by_hour(cur, view, settings, rollup=False))
    for view in views:
        for grain in (None, *GRAINS):
            for by in breakdowns:
                fast = query(cur, names, view, grain, by=by, settings=settings, samples=True)
                raw = query(cur, names, view, grain, by=by, settings=settings, samples=True, rollup=False)
                # counts exactly; means to the last few bits (sums of sums add in another order)
                assert_frame_equal(fast, raw, rel_tol=1e-12, abs_tol=1e-12)


@pytest.fixture
def wh(new_york: Settings) -> Iterator[Warehouse]:
    warehouse = on_clock(new_york)
    _import(warehouse, "first", {"tickets": _tickets(2500, seed=1)})
    yield warehouse
    warehouse.close()


def test_the_rollup_serves_the_additive_kpis_those_reading_settings_only_on_its_own_and_keeps_quantiles_raw(
        ) -> None:
    assert [name for name in TICKET_KPIS if served(METRICS_BY[name])] == ALWAYS_SERVED
    assert [name for name in TICKET_KPIS if served(METRICS_BY[name], with_settings=True)] \
        == [name for name in TICKET_KPIS if name in SERVED]
    assert not served(METRICS_BY["tickets_created"], "group_name")  # not a rollup key: raw
    team = ["tickets_created", "tickets_solved", "one_touch_rate", "reopen_rate", "csat",  # the Team page's, and n
            "tickets_created_shared_days"]  # counted as tickets_created is, on fewer days
    assert [name for name in TICKET_KPIS if served(METRICS_BY[name], "assignee", with_settings=True)] == team


METRICS_BY = {m.name: m for m in METRICS}


@pytest.mark.parametrize(("table", "view", "by"), [("ticket_rollup_days", VIEWS[0], None),
                                                  ("ticket_rollup", VIEWS[2], None),
                                                  ("ticket_rollup_agents", VIEWS[0], "assignee"),
                                                  ("ticket_rollup_agent_channels", VIEWS[3], "assignee")])
def test_a_view_reads_the_smallest_rollup_that_holds_its_filters(wh: Warehouse, new_york: Settings, table: str,
                                                                 view: Filters, by: str | None) -> None:
    def created(**kwargs: object) -> int:
        return query(wh.cursor(), ["tickets_created"], view, by=by, settings=new_york, **kwargs)[  # type: ignore[arg-type]
            "tickets_created"].sum()

    raw = created(rollup=False)
    with wh.transaction() as cur:  # a wrong rollup, to see which one is read
        cur.execute(f"UPDATE {table} SET n = n + 1000000")
    assert created() > raw
    if table == "ticket_rollup_days":  # the heatmap without filters reads the hourly one
        heatmap = arrivals_by_hour(wh.cursor(), view, new_york)["tickets"].sum()
        with wh.transaction() as cur:
            cur.execute("UPDATE ticket_rollup_hours SET n = n + 1")
        assert arrivals_by_hour(wh.cursor(), view, new_york)["tickets"].sum() > heatmap == raw
    # a breakdown by group (no rollup holds it) reads raw rows
    by_group = query(wh.cursor(), ["tickets_created"], view, by="group_name", settings=new_york)
    assert by_group["tickets_created"].sum() == raw
    # by agent with a category filter: no rollup holds both, raw rows
    by_agent = query(wh.cursor(), ["tickets_created"], VIEWS[4], by="assignee", settings=new_york)
    assert by_agent["tickets_created"].sum() == query(wh.cursor(), ["tickets_created"], VIEWS[4], settings=new_york,
                                                      rollup=False)["tickets_created"][0]


def test_the_heatmap_with_a_filter_reads_the_slot_rollup(wh: Warehouse, new_york: Settings) -> None:
    """With a channel, category or priority chosen the arrivals heatmap adds up the slot rollup's half hours (which
    keep all three), equal to the ticket rows; a changed count there shows through a filter, not without one."""
    filtered = VIEWS[2:]
    cur = wh.cursor()
    for view in filtered:
        assert_frame_equal(arrivals_by_hour(cur, view, new_york), arrivals_by_hour(cur, view, new_york, rollup=False))
    before = [arrivals_by_hour(cur, view, new_york)["tickets"].sum() for view in (VIEWS[0], *filtered)]
    with wh.transaction() as write:
        write.execute("UPDATE staffing_slots SET n = n + 1000")
    after = [arrivals_by_hour(wh.cursor(), view, new_york)["tickets"].sum() for view in (VIEWS[0], *filtered)]
    assert after[0] == before[0]  # without a filter: the hourly rollup
    assert all(changed > kept for changed, kept in zip(after[1:], before[1:], strict=True))


def test_rollup_equals_raw_for_every_kpi_grain_filter_and_breakdown(wh: Warehouse, new_york: Settings) -> None:
    assert wh.cursor().execute("SELECT sum(n) FROM ticket_rollup WHERE time_column = 'created_at'").fetchone()[0] \
        == 2500
    _assert_rollup_equals_raw(wh, new_york, views=VIEWS, breakdowns=BREAKDOWNS)
    # with every other ticket KPI beside them, so that the groups split between rollup and raw join up again
    _assert_rollup_equals_raw(wh, new_york, TICKET_KPIS, views=VIEWS[:1])


def test_a_reimport_and_its_undo_keep_the_rollup_equal_to_raw(wh: Warehouse, new_york: Settings) -> None:
    # the same tickets again with other days, channels and solves (newer updates), and new ones
    again = _tickets(2500, seed=2).head(1200).with_columns(pl.col("updated_at") + timedelta(days=400))
    newer = _import(wh, "again", {"tickets": pl.concat([again, _tickets(300, seed=3, prefix="N")],
                                                     how="diagonal_relaxed")})
    _assert_rollup_equals_raw(wh, new_york)
    undo_import(wh, newer)
    _assert_rollup_equals_raw(wh, new_york)


def test_categorising_a_correction_and_linking_keep_the_rollup_equal_to_raw(wh: Warehouse,
                                                                           new_york: Settings) -> None:
    categorise(wh, load_taxonomy())
    _assert_rollup_equals_raw(wh, new_york, ["wismo_tickets", "tickets_created"])
    before = query(wh.cursor(), ["wismo_tickets"], VIEWS[0], settings=new_york)["wismo_tickets"][0]
    ticket = wh.cursor().execute("SELECT ticket_id FROM tickets WHERE category IS DISTINCT FROM 'shipping_status' "
                                 "AND created_local_date BETWEEN '2024-03-01' AND '2024-11-30' LIMIT 1").fetchone()[0]
    correct(wh, "desk", ticket, "shipping_status")
    assert query(wh.cursor(), ["wismo_tickets"], VIEWS[0], settings=new_york)["wismo_tickets"][0] == before + 1
    _import(wh, "orders", {"orders": _orders()})
    link(wh, window_days=30)
    assert wh.cursor().execute("SELECT count(*) FROM tickets WHERE order_link = 'customer'").fetchone()[0] > 0
    _assert_rollup_equals_raw(wh, new_york)


@pytest.mark.parametrize("slice_rows", [100, 10**6])
def test_categorising_in_many_slices_or_one_keeps_the_rollup_equal_to_raw(
        wh: Warehouse, new_york: Settings, monkeypatch: pytest.MonkeyPatch, slice_rows: int) -> None:
    """More pending tickets than a slice: the rollup is left unused while the slices commit and rebuilt once at the
    end; fewer: each slice keeps its days. Either way it holds what the raw rows say, and it is current."""
    from data import categorising

    monkeypatch.setattr(categorising, "CHUNK_ROWS", slice_rows)
    assert categorise(wh, load_taxonomy()).tickets > 100  # many slices of 100, or one
    assert rollup_current(wh.cursor(), new_york)
    _assert_rollup_equals_raw(wh, new_york, ["wismo_tickets", "tickets_created"])


def test_a_clock_change_rebuilds_the_rollup_on_the_new_local_days(wh: Warehouse) -> None:
    berlin = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    assert not rollup_current(wh.cursor(), berlin)  # the stored days are New York's: raw until rebuilt
    assert clock.sync(wh, clock.Clock.of(berlin))
    _assert_rollup_equals_raw(wh, berlin)


def test_a_write_that_does_not_keep_the_rollup_leaves_it_unused_until_the_next_import(
        wh: Warehouse, new_york: Settings) -> None:
    with wh.transaction() as cur:
        cur.execute("UPDATE tickets SET channel = 'phone' WHERE channel = 'email'")
        wh.bump_version(cur)
    assert not rollup_current(wh.cursor(), new_york)
    view = VIEWS[2]  # email only: none left
    assert query(wh.cursor(), ["tickets_created"], view, settings=new_york)["tickets_created"].to_list() == [0]
    _import(wh, "later", {"tickets": _tickets(10, seed=4, prefix="L")})  # not current before: rebuilt whole
    assert rollups.is_current(wh.cursor())
    _assert_rollup_equals_raw(wh, new_york)


def test_a_warehouse_without_a_rollup_gets_one_at_opening_without_a_new_data_version(
        wh: Warehouse, new_york: Settings) -> None:
    with wh.transaction() as cur:  # as a warehouse from before the rollup
        cur.execute("DROP TABLE ticket_rollup")
        cur.execute("DELETE FROM warehouse_meta WHERE key = 'rollup'")
    version = wh.data_version()
    assert not rollup_current(wh.cursor(), new_york)
    assert rollups.sync(wh)
    assert wh.data_version() == version  # cached results stay valid: the data did not change
    _assert_rollup_equals_raw(wh, new_york)
    assert not rollups.sync(wh)


def test_clearing_a_source_keeps_the_rollup_equal_to_raw(wh: Warehouse, new_york: Settings) -> None:
    other = _tickets(400, seed=5, prefix="O").with_columns(source=pl.lit("other desk"))
    assert import_batch(wh, Batch("other", "sha-other", "other desk", "tickets", {"tickets": other})).status \
        == "imported"
    counted = query(wh.cursor(), ["tickets_created"], VIEWS[0], settings=new_york)["tickets_created"][0]
    assert clear_source(wh, "other desk") == 400
    assert query(wh.cursor(), ["tickets_created"], VIEWS[0], settings=new_york)["tickets_created"][0] < counted
    _assert_rollup_equals_raw(wh, new_york)


SETTING_CHANGES = {
    "a first reply target": {"sla_first_reply_minutes": {"email": 60, "chat": 600, "phone": 1, "other": 240}},
    "a resolution target by priority": {"sla_resolution_minutes_by_priority": {"normal": 30}},
    "the CSAT threshold": {"csat_good_min_score": 3},
    "the escalation tags and groups": {"escalation_tags": ("vip",), "escalation_groups": ("tier 1",)},
    "the automation tags": {"automation_tags": ("refund",)},
}


@pytest.mark.parametrize("change", SETTING_CHANGES.values(), ids=SETTING_CHANGES.keys())
def test_after_a_settings_change_the_kpis_follow_the_new_setting_never_a_stale_part(
        wh: Warehouse, new_york: Settings, change: dict[str, object]) -> None:
    changed = Settings(_env_file=None, timezone=NEW_YORK, **change)  # type: ignore[call-arg]
    cur, view = wh.cursor(), VIEWS[0]
    before = query(cur, READING_SETTINGS, view, "month", settings=new_york, samples=True)
    assert not rollups.settings_current(cur, changed)
    # until the rollup is rebuilt, the KPIs reading the setting come from raw rows: the new setting's values
    now = query(cur, READING_SETTINGS, view, "month", settings=changed, samples=True)
    assert_frame_equal(now, query(cur, READING_SETTINGS, view, "month", settings=changed, samples=True, rollup=False))
    assert not now.equals(before)  # the change matters to some KPI, so a stale part would have shown
    assert rollups.sync(wh, changed)  # as the dashboard does on opening with the new settings
    assert not rollups.sync(wh, changed)
    _assert_rollup_equals_raw(wh, changed, READING_SETTINGS)
    assert_frame_equal(query(wh.cursor(), READING_SETTINGS, view, "month", settings=changed, samples=True), now,
                       rel_tol=1e-12, abs_tol=1e-12)
    # a later import keeps the parts on the settings they were built with; the old settings now read raw rows
    _import(wh, "later", {"tickets": _tickets(300, seed=6, prefix="L")})
    _assert_rollup_equals_raw(wh, changed, READING_SETTINGS, views=VIEWS[:2])
    assert not rollups.settings_current(wh.cursor(), new_york)
    assert_frame_equal(query(wh.cursor(), READING_SETTINGS, view, "month", settings=new_york, samples=True),
                       query(wh.cursor(), READING_SETTINGS, view, "month", settings=new_york, samples=True,
                             rollup=False))


def test_a_source_that_starts_giving_a_column_is_counted_again_on_every_day(wh: Warehouse,
                                                                           new_york: Settings) -> None:
    """A helpdesk whose export gave no tags, groups, replies or solve times: its tickets are outside the escalation,
    automation and resolution samples (not measured). Once an import of it gives them for one ticket, every ticket of
    it counts (an empty cell now means "none"), on days the import never touched."""
    bare = _tickets(400, seed=7, prefix="B").select(
        "ticket_id", "created_at", "updated_at", "channel", "priority").with_columns(source=pl.lit("bare desk"))
    assert import_batch(wh, Batch("bare", "sha-bare", "bare desk", "tickets", {"tickets": bare})).status == "imported"
    _assert_rollup_equals_raw(wh, new_york, views=VIEWS[:1], breakdowns=[None])
    names = ["escalation_rate", "automation_rate", "resolution_rate"]
    before = query(wh.cursor(), names, VIEWS[0], settings=new_york, samples=True)
    one = pl.DataFrame({"source": ["bare desk"], "ticket_id": ["B-tagged"], "created_at": [datetime(2024, 12, 1, 12)],
                        "updated_at": [datetime(2024, 12, 1, 12)], "tags": ["vip"], "group_name": ["Tier 1"],
                        "agent_replies": [1], "solved_at": [datetime(2024, 12, 1, 13)]})
    assert import_batch(wh, Batch("bare2", "sha-bare2", "bare desk", "tickets", {"tickets": one})).status \
        == "imported"
    after = query(wh.cursor(), names, VIEWS[0], settings=new_york, samples=True)  # the view ends before that day
    in_view = wh.cursor().execute("SELECT count(*) FROM tickets WHERE source = 'bare desk' AND created_local_date "
                                  "BETWEEN '2024-03-01' AND '2024-11-30'").fetchone()[0]
    assert in_view > 100
    for name in ("escalation_rate", "resolution_rate"):  # by creation: each bare ticket of the view now counts
        assert after[f"{name}_n"][0] - before[f"{name}_n"][0] == in_view
    _assert_rollup_equals_raw(wh, new_york, [*names, "sla_first_reply_attainment", "sla_resolution_attainment",
                                             "csat_response_rate"], views=VIEWS, breakdowns=[None, "channel"])


def test_open_tickets_pass_their_sla_target_as_newer_data_arrives(wh: Warehouse, new_york: Settings) -> None:
    """An open, unanswered email ticket is breached once the newest moment in the data is a day past its creation:
    an import of a later ticket moves that moment, and the days of the open tickets, which it never touched, count
    them as breached."""
    newest = wh.cursor().execute("SELECT max(coalesce(updated_at, solved_at, created_at)) FROM tickets").fetchone()[0]
    waiting = pl.DataFrame({"source": ["desk"] * 5, "ticket_id": [f"W{i}" for i in range(5)],
                            "created_at": [newest - timedelta(hours=2)] * 5,
                            "updated_at": [newest - timedelta(hours=2)] * 5, "channel": ["email"] * 5,
                            "priority": ["normal"] * 5, "status": ["open"] * 5})
    _import(wh, "waiting", {"tickets": waiting})
    view = Filters(datetime(2024, 3, 1).date(), (newest + timedelta(days=30)).date())
    names = ["sla_first_reply_attainment", "sla_resolution_attainment"]
    before = query(wh.cursor(), names, view, settings=new_york, samples=True)
    _assert_rollup_equals_raw(wh, new_york, names, views=[view], breakdowns=[None])
    later = waiting.head(1).with_columns(ticket_id=pl.lit("later"), created_at=pl.lit(newest + timedelta(days=10)),
                                         updated_at=pl.lit(newest + timedelta(days=10)))
    _import(wh, "later", {"tickets": later})
    after = query(wh.cursor(), names, view, settings=new_york, samples=True)
    assert (after["sla_first_reply_attainment_n"] - before["sla_first_reply_attainment_n"]).to_list() == [5]
    # and an open ticket of the last three days is past its resolution target (three days for an email) too
    assert after["sla_resolution_attainment_n"][0] - before["sla_resolution_attainment_n"][0] >= 5
    _assert_rollup_equals_raw(wh, new_york, names, views=[view], breakdowns=[None, "channel"])


def test_the_backlog_is_read_from_the_rollups_steps_as_worked_out_by_hand(new_york: Settings) -> None:
    """Weeks of Mon 1 and Mon 8 January 2024 in New York (UTC-5). A open Jan 2 -> solved Jan 10; B open Jan 3, never
    solved; C created Jan 4 22:00 local (Jan 5 in UTC) -> solved Jan 5; D created Jan 8, "solved" Jan 6 (before it
    was created: never open); E chat, Jan 12, never solved. Open at the first week's end: A, B = 2; at the second's:
    B, E = 2; email alone: A, B = 2, then B = 1. The steps hold seven (day, key) rows: Jan 2, 3, 4
    (begun), 5 (C ended), 8 (D begun and ended), 10 (A ended), 12 (E); four of them before Jan 8."""
    at = [datetime(2024, 1, 2, 15), datetime(2024, 1, 3, 15), datetime(2024, 1, 5, 3), datetime(2024, 1, 8, 15),
          datetime(2024, 1, 12, 15)]
    tickets = pl.DataFrame({"source": "desk", "ticket_id": list("ABCDE"), "created_at": at, "updated_at": at,
                            "solved_at": [datetime(2024, 1, 10, 15), None, datetime(2024, 1, 5, 15),
                                          datetime(2024, 1, 6, 15), None],
                            "channel": ["email"] * 4 + ["chat"], "priority": "normal"})
    wh = on_clock(new_york)
    _import(wh, "hand", {"tickets": tickets})
    weeks = Filters(datetime(2024, 1, 1).date(), datetime(2024, 1, 14).date())
    email = Filters(weeks.start, weeks.end, channel=("email",))
    for view, expected in ((weeks, [2, 2]), (email, [2, 1])):
        for rollup in (True, False):
            got = query(wh.cursor(), ["backlog"], view, "week", settings=new_york, rollup=rollup)
            assert got["backlog"].to_list() == expected
    assert "ticket_rollup_steps" in build_sql(["backlog"], "week", rollup="ticket_rollup_days")
    with wh.transaction() as cur:  # a wrong step, to see that it is what is read
        cur.execute("UPDATE ticket_rollup_steps SET begun = begun + 100")
    assert query(wh.cursor(), ["backlog"], weeks, "week", settings=new_york)["backlog"].to_list() == [402, 702]
    wh.close()
