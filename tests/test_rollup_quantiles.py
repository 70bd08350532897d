"""Medians and 90th percentiles from the bucket counts beside the ticket rollup equal DuckDB's own ``median`` and
``quantile_cont`` over the ticket rows, value for value (no tolerance): at every grain, after an import, an undo,
a re-categorisation and a clearing, with ties, values on bucket edges, zeros, negative values, NULLs, a period with
one value, an empty period and an even count; so do the Trends page's duration buckets. The independent paths are
the raw query (``rollup=False``) and, for a few values, sums worked out by hand below.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, rollups
from data.categorising import categorise, correct
from data.classifier import load_taxonomy
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import Warehouse
from metrics.distributions import duration_buckets
from metrics.query import GRAINS, Filters, quantile_of, query, rollup_current
from metrics.registry import DURATIONS, METRICS
from settings import Settings
from tests.conftest import NEW_YORK, on_clock
from tests.test_rollups import VIEWS, _tickets

QUANTILES = [m.name for m in METRICS if m.table == "tickets" and m.name.endswith(("_median", "_p90"))]
# The week of Monday 6 May 2024 (New York), by hand: first reply minutes per local day of creation.
# Mon: 3, 1, 7, 3, NULL, 0 -> sorted 0 1 3 3 7 (n = 5): median 3 (rank 2); p90 rank 4 * 0.9 = 3.6 -> 3 + 0.6 * (7 - 3)
#      = 5.4. 0, 1, 3, 7 and 15 lie on bucket edges (2^(b/16) - 1 for b = 0, 16, 32, 48, 64).
# Tue: 15 alone: median and p90 15.  Wed: no ticket: NULL, sample 0.  Thu: two tickets never answered: NULL, 0.
# Fri: -2, 0, 0.5, 9 (even): median (0 + 0.5) / 2 = 0.25.
# The week: -2 0 0 0.5 1 3 3 7 9 15 (n = 10): median rank 4.5 -> (1 + 3) / 2 = 2; p90 rank 8.1 -> 9 + 0.1 * 6 = 9.6.
WEEK = {date(2024, 5, 6): [3, 1, 7, 3, None, 0], date(2024, 5, 7): [15], date(2024, 5, 9): [None, None],
        date(2024, 5, 10): [-2, 0, 0.5, 9]}
BY_HAND = {"day": {date(2024, 5, 6): (3, 5.4, 5), date(2024, 5, 7): (15, 15, 1), date(2024, 5, 8): (None, None, 0),
                   date(2024, 5, 9): (None, None, 0), date(2024, 5, 10): (0.25, None, 4)},
           "week": {date(2024, 5, 6): (2, 9.6, 10)}}


CATEGORY_AND_CHANNELS = Filters(date(2024, 3, 1), date(2024, 11, 30), channel=("email", "chat"),
                                category=("shipping_status",))


def _week_tickets() -> pl.DataFrame:
    """The hand-checked week: created at local noon (16:00 UTC in May), solved an hour later with the same minutes
    as their full resolution (placed by solve day), so both time columns see them."""
    rows = []
    for day, minutes in WEEK.items():
        for number, value in enumerate(minutes):
            created = datetime(day.year, day.month, day.day, 16)
            rows.append({"source": "desk", "ticket_id": f"W{day:%d}-{number}", "created_at": created,
                         "updated_at": created, "channel": "email", "priority": "normal", "status": "solved",
                         "solved_at": created + timedelta(hours=1), "first_reply_minutes": value,
                         "first_reply_business_minutes": value, "full_resolution_minutes": value,
                         "first_resolution_minutes": value, "requester_wait_minutes": value})
    return pl.DataFrame(rows, infer_schema_length=None)


# By agent, all created on Tuesday 7 May 2024 at local noon, first reply minutes:
# Ana 1 3 7 20 (n = 4, even): median rank 1.5 -> (3 + 7) / 2 = 5; p90 rank 2.7 -> 7 + 0.7 * (20 - 7) = 16.1.
# Bo 15 alone: 15 and 15. No agent: NULL and 0 -> one value, 0 ('(none)'). Cy: never answered: NULL, sample 0.
# Di: a ticket in June only: a row of the breakdown (it lists every agent), NULL, sample 0.
AGENTS_WEEK = {"Ana": [1, 3, 7, 20], "Bo": [15], None: [None, 0], "Cy": [None]}
AGENTS_BY_HAND = {"(none)": (0, 0, 1), "Ana": (5, 16.1, 4), "Bo": (15, 15, 1), "Cy": (None, None, 0),
                  "Di": (None, None, 0)}


def _agent_tickets() -> pl.DataFrame:
    rows = [(agent, value, datetime(2024, 5, 7, 16)) for agent, values in AGENTS_WEEK.items() for value in values]
    rows.append(("Di", 4, datetime(2024, 6, 3, 16)))
    return pl.DataFrame([{"source": "desk", "ticket_id": f"A{number}", "created_at": created, "updated_at": created,
                          "status": "open", "assignee": agent, "first_reply_minutes": value}
                         for number, (agent, value, created) in enumerate(rows)], infer_schema_length=None)


def _import(wh: Warehouse, name: str, frame: pl.DataFrame) -> str:
    result = import_batch(wh, Batch(name, f"sha-{name}", "desk", "tickets", {"tickets": frame}))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def _assert_served_equals_raw(wh: Warehouse, settings: Settings, views: list[Filters]) -> None:
    cur = wh.cursor()
    assert rollup_current(cur, settings), "the rollup must be current, else the comparison proves nothing"
    for view in views:
        for grain in (None, *GRAINS):
            # by a key of the keyed bucket counts (agent, category, channel, priority) from them; by a key beside a
            # filter on another, raw rows both ways: the frames join up the same
            for by in (None, "channel", "assignee", "category", "priority"):
                fast = query(cur, QUANTILES, view, grain, by=by, settings=settings, samples=True)
                raw = query(cur, QUANTILES, view, grain, by=by, settings=settings, samples=True, rollup=False)
                assert_frame_equal(fast, raw, check_exact=True)
        for duration in DURATIONS:  # the Trends page's duration buckets count the same values
            for business in (False, True):
                assert_frame_equal(duration_buckets(cur, view, duration.stem, business, settings=settings),
                                   duration_buckets(cur, view, duration.stem, business, settings=settings,
                                                    rollup=False))


@pytest.fixture
def wh(new_york: Settings) -> Iterator[Warehouse]:
    warehouse = on_clock(new_york)
    _import(warehouse, "week", _week_tickets())
    yield warehouse
    warehouse.close()


def test_every_median_and_p90_ticket_kpi_is_served_and_nothing_else() -> None:
    served = {m.name: quantile_of(m) for m in METRICS if quantile_of(m)}
    assert sorted(served) == sorted(QUANTILES) and len(QUANTILES) == 14
    assert {q for _, q in served.values()} == {0.5, 0.9}
    assert {measure for measure, _ in served.values()} == set(rollups.MEASURES)
    means = [m for m in METRICS if m.name.endswith("_mean")]
    assert means and not any(quantile_of(m) for m in means)  # a mean is the rollup's parts, not buckets
    fulfilment = [m for m in METRICS if m.name.startswith("fulfilment_lag_hours_m")]
    assert fulfilment and not any(quantile_of(m) for m in fulfilment)  # orders: raw


@pytest.mark.parametrize("grain", ["day", "week"])
def test_the_hand_checked_week(wh: Warehouse, new_york: Settings, grain: str) -> None:
    view = Filters(date(2024, 5, 6), date(2024, 5, 12) if grain == "week" else date(2024, 5, 10))
    names = ["first_reply_minutes_median", "first_reply_minutes_p90"]
    got = query(wh.cursor(), names, view, grain, settings=new_york, samples=True)
    for period, (median, p90, n) in BY_HAND[grain].items():
        row = got.filter(pl.col("period") == period).row(0, named=True)
        assert row["first_reply_minutes_median"] == pytest.approx(median)
        if p90 is not None or median is None:
            assert row["first_reply_minutes_p90"] == pytest.approx(p90)
        assert row["first_reply_minutes_median_n"] == n
    assert_frame_equal(got, query(wh.cursor(), names, view, grain, settings=new_york, samples=True, rollup=False),
                       check_exact=True)


# One channel's median reads a coarse bucket of 4 fine ones (data.rollups.KEYED_WIDTH) and sorts only the fine
# bucket(s) holding a wanted rank (metrics.ranks). Email tickets created on Monday 3 June 2024 (New York), first reply
# minutes all in coarse bucket 16 (fine 64-67: 15 to 18.03 minutes), fine bucket floor(log2(1 + m) * 16) beside each:
# 15.2 (64), 15.9 and 16.0 (65), 16.8 (66), 17.5 and 17.9 (67); n = 6: median rank 2.5 -> (16.0 + 16.8) / 2 = 16.4,
# across fine buckets 65 and 66; p90 rank 4.5 -> (17.5 + 17.9) / 2 = 17.7, within 67. A chat ticket's 16.2 (65) in the
# same buckets must not shift an email rank.
SPREAD_EMAIL, SPREAD_CHAT = [15.2, 15.9, 16.0, 16.8, 17.5, 17.9], [16.2]


def test_one_channel_median_across_the_fine_buckets_of_a_coarse_one(wh: Warehouse, new_york: Settings) -> None:
    created = datetime(2024, 6, 3, 16)
    rows = [{"source": "desk", "ticket_id": f"S{channel}{number}", "created_at": created, "updated_at": created,
             "channel": channel, "status": "open", "first_reply_minutes": value}
            for channel, values in (("email", SPREAD_EMAIL), ("chat", SPREAD_CHAT))
            for number, value in enumerate(values)]
    _import(wh, "spread", pl.DataFrame(rows))
    cur = wh.cursor()
    fine = cur.execute("SELECT list_sort(list(DISTINCT bucket)) FROM ticket_rollup_values JOIN ticket_rollup_combos "
                       "USING (combo) WHERE day = '2024-06-03' AND measure = $measure AND channel = 'email'",
                       {"measure": rollups.MEASURE_CODE["first_reply_minutes"]}).fetchone()[0]  # type: ignore[index]
    assert fine == [64, 65, 66, 67], "the values must spread over one coarse bucket's fine ones"
    names = ["first_reply_minutes_median", "first_reply_minutes_p90"]
    email = Filters(date(2024, 6, 3), date(2024, 6, 3), channel=("email",))
    got = query(cur, names, email, settings=new_york, samples=True).row(0, named=True)
    assert (got["first_reply_minutes_median"], got["first_reply_minutes_p90"]) == (pytest.approx(16.4),
                                                                                 pytest.approx(17.7))
    assert got["first_reply_minutes_median_n"] == 6
    for view in (email, Filters(email.start, email.end, channel=("chat",))):
        for grain in (None, "day"):
            assert_frame_equal(query(cur, names, view, grain, settings=new_york, samples=True),
                               query(cur, names, view, grain, settings=new_york, samples=True, rollup=False),
                               check_exact=True)


def test_the_values_are_read_from_the_buckets_not_the_tickets(wh: Warehouse, new_york: Settings) -> None:
    """A changed stored value shows in the served median (so it is what is read) and raw rows never see it."""
    view, name = Filters(date(2024, 5, 7), date(2024, 5, 7)), "first_reply_minutes_median"
    with wh.transaction() as cur:
        cur.execute("UPDATE ticket_rollup_values SET value = 14.5 WHERE value = 15 AND day = '2024-05-07' "
                    "AND measure = $measure", {"measure": rollups.MEASURE_CODE["first_reply_minutes"]})
    assert query(wh.cursor(), [name], view, settings=new_york)[name].to_list() == [14.5]
    assert query(wh.cursor(), [name], view, settings=new_york, rollup=False)[name].to_list() == [15]
    # by category (none here: one row) too, from the keyed counts and the same values
    assert query(wh.cursor(), [name], view, by="category", settings=new_york)[name].to_list() == [14.5]
    # with one channel or one priority filter, from their keyed counts and the same values; with a channel filter
    # beside a breakdown by agent or category, from the counts per agent or category and channel; with a channel
    # and a priority filter (no bucket counts hold both) the tickets are read
    for one in ({"channel": ("email",)}, {"priority": ("normal", "high")}):
        assert query(wh.cursor(), [name], Filters(view.start, view.end, **one), settings=new_york)[
            name].to_list() == [14.5]
    for by in ("assignee", "category"):
        assert query(wh.cursor(), [name], Filters(view.start, view.end, channel=("email",)), by=by,
                     settings=new_york)[name].to_list() == [14.5]
    both = Filters(view.start, view.end, channel=("email",), priority=("normal",))
    assert query(wh.cursor(), [name], both, settings=new_york)[name].to_list() == [15]
    # the duration buckets add up the counts, split at their bounds: the ticket's 15 minutes is in 15-60 min
    assert duration_buckets(wh.cursor(), view, "first_reply", settings=new_york, rollup=False)[
        "tickets"].to_list() == [0, 1, 0, 0, 0, 0, 0]
    with wh.transaction() as cur:
        cur.execute("UPDATE ticket_rollup_buckets SET n = n + 5 WHERE day = '2024-05-07' "
                    "AND measure = $measure AND span = 1", {"measure": rollups.MEASURE_CODE["first_reply_minutes"]})
    spread = duration_buckets(wh.cursor(), view, "first_reply", settings=new_york)["tickets"].to_list()
    assert spread == [0, 6, 0, 0, 0, 0, 0]
    # with one channel, from the counts per channel, split at the same bounds
    with wh.transaction() as cur:
        cur.execute("UPDATE ticket_rollup_buckets_channels SET n = n + 2 WHERE day = '2024-05-07' "
                    "AND measure = $measure AND span = 1 AND channel = 'email'",
                    {"measure": rollups.MEASURE_CODE["first_reply_minutes"]})
    email = Filters(view.start, view.end, channel=("email",))
    assert duration_buckets(wh.cursor(), email, "first_reply", settings=new_york)["tickets"].to_list() == [
        0, 3, 0, 0, 0, 0, 0]


def test_every_grain_equals_raw_on_many_tickets_and_after_each_write(wh: Warehouse, new_york: Settings) -> None:
    """Many tickets around the DST changes, with NULLs, negative (flagged) replies and repeats, then each write
    that moves tickets between days or changes their values."""
    first = _import(wh, "many", _tickets(2500, seed=1))
    views = [VIEWS[0], VIEWS[1], Filters(date(2024, 5, 1), date(2024, 5, 31)), Filters(date(2023, 1, 1),
                                                                                         date(2023, 1, 31)),
             *VIEWS[2:7],  # one key filtered (channels, a category, priorities): its keyed counts; three: raw
             CATEGORY_AND_CHANNELS]  # the counts per category and channel
    _assert_served_equals_raw(wh, new_york, views)
    again = _tickets(2500, seed=2).head(1200).with_columns(pl.col("updated_at") + timedelta(days=400))
    later = _import(wh, "again", pl.concat([again, _tickets(300, seed=3, prefix="N")], how="diagonal_relaxed"))
    keyed = [*views[:3], *VIEWS[3:6], CATEGORY_AND_CHANNELS]
    _assert_served_equals_raw(wh, new_york, keyed)
    undo_import(wh, later)
    _assert_served_equals_raw(wh, new_york, keyed)
    categorise(wh, load_taxonomy())
    correct(wh, "desk", "W06-0", "shipping_status")
    _assert_served_equals_raw(wh, new_york, keyed)
    undo_import(wh, first)
    _assert_served_equals_raw(wh, new_york, views[2:3])
    test_the_hand_checked_week(wh, new_york, "week")  # the week's own tickets as they were


def test_a_refresh_appends_the_values_of_its_days_in_bucket_order(wh: Warehouse, new_york: Settings) -> None:
    """A write that notes most days (categorising every ticket) deletes their values and appends them again; in
    bucket order, as a rebuild writes them, so that a reader of a few buckets still skips the row groups of the
    others: per measure, the buckets rise along the table, but for one step down where the appended days begin."""
    _import(wh, "many", _tickets(2500, seed=1))
    categorise(wh, load_taxonomy())
    cur = wh.cursor()
    rows, last_row = cur.execute(f"SELECT count(*), max(rowid) FROM {rollups.VALUES_TABLE}").fetchone()
    assert last_row >= rows  # the refresh appended rows after deleting others: not a rebuild, which numbers afresh
    steps_down = cur.execute(f"""SELECT measure, count(*) FILTER (WHERE bucket < previous) FROM (
                                     SELECT measure, bucket, lag(bucket) OVER (PARTITION BY measure ORDER BY rowid)
                                         AS previous FROM {rollups.VALUES_TABLE}) GROUP BY measure""").fetchall()
    assert len(steps_down) > 1 and all(count <= 1 for _, count in steps_down), steps_down
    _assert_served_equals_raw(wh, new_york, [Filters(date(2024, 2, 25), date(2024, 12, 31))])


def test_clearing_every_ticket_leaves_empty_periods(wh: Warehouse, new_york: Settings) -> None:
    assert clear_source(wh, "desk") > 0
    assert wh.cursor().execute("SELECT count(*) FROM ticket_rollup_values").fetchone() == (0,)
    view = Filters(date(2024, 5, 6), date(2024, 5, 12))
    got = query(wh.cursor(), QUANTILES, view, "day", settings=new_york, samples=True)
    assert got.height == 7 and got.select(QUANTILES).null_count().row(0) == (7,) * len(QUANTILES)
    _assert_served_equals_raw(wh, new_york, [view])


def test_a_settings_change_keeps_the_values_and_the_medians_equal_to_raw(wh: Warehouse) -> None:
    """Opening on other settings rebuilds the parts that read them, not the values (which read none): still
    exact."""
    _import(wh, "many", _tickets(600, seed=8))
    changed = Settings(_env_file=None, timezone=NEW_YORK, sla_first_reply_minutes={"email": 5})  # type: ignore[call-arg]
    assert rollups.sync(wh, changed)
    assert rollups.settings_current(wh.cursor(), changed)
    _assert_served_equals_raw(wh, changed, [VIEWS[0], Filters(date(2024, 5, 1), date(2024, 5, 31))])


def test_medians_by_agent_worked_out_by_hand_and_read_from_the_keyed_counts(new_york: Settings) -> None:
    wh = on_clock(new_york)
    try:
        _import(wh, "agents", _agent_tickets())
        view, names = Filters(date(2024, 5, 6), date(2024, 5, 12)), ["first_reply_minutes_median",
                                                                      "first_reply_minutes_p90"]
        got = query(wh.cursor(), names, view, by="assignee", settings=new_york, samples=True)
        assert got["by_value"].to_list() == list(AGENTS_BY_HAND)
        for row in got.iter_rows(named=True):
            median, p90, n = AGENTS_BY_HAND[row["by_value"]]
            assert (row["first_reply_minutes_median"], row["first_reply_minutes_p90"]) == (
                pytest.approx(median), pytest.approx(p90))
            assert row["first_reply_minutes_median_n"] == n
        raw = query(wh.cursor(), names, view, by="assignee", settings=new_york, samples=True, rollup=False)
        assert_frame_equal(got, raw, check_exact=True)
        with wh.transaction() as cur:  # a changed stored value of Bo's shows: the keyed values are what is read
            cur.execute("UPDATE ticket_rollup_values SET value = 14.5 WHERE combo IN "
                        "(SELECT combo FROM ticket_rollup_combos WHERE assignee = 'Bo')")
        bo = query(wh.cursor(), names, view, by="assignee", settings=new_york).filter(pl.col("by_value") == "Bo")
        assert bo["first_reply_minutes_median"].to_list() == [14.5]
    finally:
        wh.close()


# A later import on Tuesday 7 May 2024: Eve, a new agent, by chat, first replies 2 and 4 (n = 2): median 3, p90 rank
# 0.9 -> 2 + 0.9 * (4 - 2) = 3.8; Ana by chat, 9 (a new combination of known keys): Ana's by hand 1 3 7 9 20 (n = 5):
# median 7, p90 rank 3.6 -> 9 + 0.6 * 11 = 15.6. With chat chosen: Eve 3 and 3.8, Ana 9 and 9.
LATER = {"Eve": [2, 4], "Ana": [9]}
LATER_BY_HAND = {**AGENTS_BY_HAND, "Ana": (7, 15.6, 5), "Eve": (3, 3.8, 2)}
LATER_CHAT_BY_HAND = {"Ana": (9, 9, 1), "Eve": (3, 3.8, 2)}


def test_a_later_import_numbers_its_new_combinations_of_keys_after_the_known_ones(new_york: Settings) -> None:
    """The values carry a number per combination of keys: a write that brings new ones numbers them after those the
    table holds, whose numbers (which the stored values carry) stay; the medians by agent and with a channel filter
    are those worked out by hand and raw rows'."""
    wh = on_clock(new_york)
    try:
        _import(wh, "agents", _agent_tickets())
        combos = "SELECT * FROM ticket_rollup_combos ORDER BY combo"
        known = wh.cursor().execute(combos).fetchall()
        created = datetime(2024, 5, 7, 16)
        _import(wh, "later", pl.DataFrame([
            {"source": "desk", "ticket_id": f"L{agent}{number}", "created_at": created, "updated_at": created,
             "status": "open", "assignee": agent, "channel": "chat", "first_reply_minutes": value}
            for agent, values in LATER.items() for number, value in enumerate(values)]))
        now = wh.cursor().execute(combos).fetchall()
        assert now[:len(known)] == known
        assert [row[1:] for row in now[len(known):]] in ([("Eve", None, "chat", None), ("Ana", None, "chat", None)],
                                                         [("Ana", None, "chat", None), ("Eve", None, "chat", None)])
        assert [row[0] for row in now] == list(range(1, len(now) + 1))
        names = ["first_reply_minutes_median", "first_reply_minutes_p90"]
        week = Filters(date(2024, 5, 6), date(2024, 5, 12))
        for view, by_hand in ((week, LATER_BY_HAND), (Filters(week.start, week.end, channel=("chat",)),
                                                      LATER_CHAT_BY_HAND)):
            got = query(wh.cursor(), names, view, by="assignee", settings=new_york, samples=True)
            served = {row["by_value"]: (row[names[0]], row[names[1]], row[f"{names[0]}_n"])
                      for row in got.iter_rows(named=True) if row["by_value"] in by_hand}
            assert served == {agent: (pytest.approx(median), pytest.approx(p90), n)
                              for agent, (median, p90, n) in by_hand.items()}
            raw = query(wh.cursor(), names, view, by="assignee", settings=new_york, samples=True, rollup=False)
            assert_frame_equal(got, raw, check_exact=True)
    finally:
        wh.close()


def test_a_warehouse_whose_values_carry_the_keys_texts_is_rebuilt_at_opening(new_york: Settings) -> None:
    """A warehouse built before the values carried a combination's number (its own rollup signature, the keys as
    text beside each value, no table of combinations) gets the values rebuilt at opening, served equal to raw."""
    wh = on_clock(new_york)
    try:
        _import(wh, "agents", _agent_tickets())
        with wh.transaction() as cur:  # as the previous code left it
            cur.execute("CREATE OR REPLACE TABLE ticket_rollup_values AS SELECT 'first_reply_minutes' AS measure, "
                        "bucket, day, value, NULL::VARCHAR AS assignee, NULL::VARCHAR AS category, "
                        "NULL::VARCHAR AS channel, NULL::VARCHAR AS priority FROM ticket_rollup_values")
            cur.execute("DROP TABLE ticket_rollup_combos")
            cur.execute("UPDATE warehouse_meta SET value = replace(value, $now, 'an0ldsignature00') "
                        "WHERE key = $key", {"now": rollups.SIGNATURE, "key": rollups.META_KEY})
        assert not rollup_current(wh.cursor(), new_york)
        assert rollups.sync(wh, new_york)
        assert rollup_current(wh.cursor(), new_york)
        names = ["first_reply_minutes_median", "first_reply_minutes_p90"]
        got = query(wh.cursor(), names, Filters(date(2024, 5, 6), date(2024, 5, 12)), by="assignee",
                    settings=new_york, samples=True)
        assert {row["by_value"]: (row[names[0]], row[names[1]], row[f"{names[0]}_n"]) for row in
                got.iter_rows(named=True)} == {agent: (pytest.approx(median), pytest.approx(p90), n)
                                              for agent, (median, p90, n) in AGENTS_BY_HAND.items()}
    finally:
        wh.close()


def test_the_keyed_counts_are_small_and_add_up_to_the_unkeyed_ones(wh: Warehouse) -> None:
    _import(wh, "many", _tickets(2500, seed=1))
    cur = wh.cursor()
    whole = cur.execute(f"SELECT measure, day, sum(n) FROM {rollups.BUCKETS_TABLE} "
                        "WHERE list_contains($keyed, measure) GROUP BY ALL ORDER BY ALL",
                        {"keyed": [rollups.MEASURE_CODE[name] for name in rollups.KEYED_MEASURES]}).fetchall()
    assert {row[0] for row in whole} == {rollups.MEASURE_CODE[name] for name in rollups.KEYED_MEASURES}
    for key, table in rollups.KEYED_BUCKETS.items():
        keyed = cur.execute(f"SELECT measure, day, sum(n)::BIGINT FROM {table} GROUP BY ALL ORDER BY ALL").fetchall()
        assert keyed == whole, key
        # each coarse bucket holds the fine ones it spans: -1 lies below 0
        assert cur.execute(f"SELECT {rollups.coarse('b', 8)} FROM (VALUES (-9), (-8), (-1), (0), (7), (8)) t(b)"
                           ).fetchall() == [(-2,), (-1,), (-1,), (0,), (0,), (1,)]


# More tickets than a DuckDB row group (122,880 rows): an insert that large into a file is written to storage as it
# goes, the path on which DuckDB 1.5 lost it after an ordered insert of no rows in the same transaction (an
# in-memory warehouse kept it).
LARGE = 130_000


def _zendesk_like_tickets(count: int) -> pl.DataFrame:
    """As a Zendesk export has them: first reply and full resolution minutes, no first resolution (which
    data.rollups.MEASURES lists between the two) and no requester wait. Spread over May 2024, solved a day later."""
    number = pl.int_range(count, eager=True)
    created = pl.datetime(2024, 5, 1) + pl.duration(minutes=number * 17 % (31 * 24 * 60))
    return pl.DataFrame({"n": number}).select(
        source=pl.lit("desk"), ticket_id=pl.format("Z{}", "n"), created_at=created, updated_at=created,
        solved_at=created + pl.duration(days=1), status=pl.lit("solved"), channel=pl.lit("email"),
        first_reply_minutes=(pl.col("n") % 101).cast(pl.Float64),
        full_resolution_minutes=(pl.col("n") % 997).cast(pl.Float64) * 1.5)


def test_a_large_import_lacking_a_measure_keeps_the_values_of_the_measures_after_it(
        new_york: Settings, tmp_path: Path) -> None:
    """A first import into a file of more than a row group of tickets without first resolution times: the values
    and bucket counts of every measure hold one row per ticket that has it (counted from the frame), and the
    medians and p90s served equal raw ones."""
    frame = _zendesk_like_tickets(LARGE)
    wh = Warehouse(tmp_path / "large.duckdb")
    clock.sync(wh, clock.Clock.of(new_york))
    try:
        _import(wh, "large", frame)
        cur = wh.cursor()
        expected = {"first_reply_minutes": frame["first_reply_minutes"].count(),
                    "full_resolution_minutes": frame["full_resolution_minutes"].count()}
        named = {rollups.MEASURE_CODE[name]: name for name in expected}  # the tables carry a measure's number
        for table in (rollups.VALUES_TABLE, rollups.BUCKETS_TABLE, *rollups.KEYED_BUCKETS.values()):
            count = "count(*)" if table == rollups.VALUES_TABLE else "sum(n)"
            got = dict(cur.execute(f"SELECT measure, {count} FROM {table} WHERE list_contains($m, measure) "
                                   "GROUP BY ALL", {"m": list(named)}).fetchall())
            got = {named[measure]: n for measure, n in got.items()}
            assert got == expected == {name: LARGE for name in expected}, table
        _assert_served_equals_raw(wh, new_york, [Filters(date(2024, 5, 1), date(2024, 6, 30))])
    finally:
        wh.close()
