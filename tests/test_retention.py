"""Repeat purchases within N days of customers who contacted support against those who did not, split by how their
first ticket went, counted by hand on a small store."""

from __future__ import annotations

from datetime import date, timedelta
from datetime import datetime as D
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

import charts
from data import retention_rollup, rollups
from data.clock import rollup_holds
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics.query import Filters
from metrics.registry import DURATIONS
from metrics.retention import NO_CUSTOMERS, NO_TICKETS, NOT_REACHED, STATEMENT, Retention, repeat_by_support
from settings import Settings, get_settings
from tests.conftest import PROJECT, use_warehouse

MARCH = Filters(date(2024, 3, 1), date(2024, 3, 31))
# N = 30 days. The newest order and the newest ticket are on 04-20, so an anchor is observed when it is on or before
# 03-21: C8's (03-25) is too recent. C7 ordered after March only; order X has no customer; C11's order is cancelled.
# Observed cohort, anchor = first March order:
#   C1  03-01, again 03-10 (repeat); tickets 03-05 (30 min, good, solved) and 03-08 (bad): the first one counts
#   C2  03-02 only; ticket 03-03 (300 min, bad, solved)
#   C3  03-03, again 03-20 (17 days: repeat); ticket 03-25 is after the second order: not a contact
#   C4  03-04 only; no ticket
#   C5  02-20 (before March), 03-05 anchor, again 03-06 (repeat); ticket 02-25 is before the anchor: not a contact
#   C6  03-06, again 04-20 (45 days: no repeat); ticket 03-07 (no reply, no rating, open)
#   C9  03-08 only; ticket 03-09 (120 min, score 5 -> satisfied, open)
#   C10 03-09, again 03-15 (repeat); ticket 03-12 (30 min, survey offered and not answered, solved)
# All: 8 customers, 4 repeat (C1 C3 C5 C10).
# Contacted C1 C2 C6 C9 C10: 5, repeat C1 C10 = 2. Not contacted C3 C4 C5: 3, repeat C3 C5 = 2.
# First reply: under 1 h C1 C10 (2 of 2), 1-4 h C9 (0 of 1), 4-24 h C2 (0 of 1), 24 h or more none, no reply C6.
# CSAT: satisfied C1 C9 (1 of 2), not satisfied C2 (0 of 1), no rating C6 C10 (1 of 2).
# Solved: C1 C2 C10 (2 of 3); not solved C6 C9 (0 of 2).
ORDERS = pl.DataFrame(
    [("o1", 1, D(2024, 3, 1)), ("o2", 1, D(2024, 3, 10)), ("o3", 2, D(2024, 3, 2)), ("o4", 3, D(2024, 3, 3)),
     ("o5", 3, D(2024, 3, 20)), ("o6", 4, D(2024, 3, 4)), ("o7", 5, D(2024, 2, 20)), ("o8", 5, D(2024, 3, 5)),
     ("o9", 5, D(2024, 3, 6)), ("o10", 6, D(2024, 3, 6)), ("o11", 6, D(2024, 4, 20)), ("o12", 7, D(2024, 4, 10)),
     ("o13", 8, D(2024, 3, 25)), ("o14", 9, D(2024, 3, 8)), ("o15", 10, D(2024, 3, 9)), ("o16", 10, D(2024, 3, 15)),
     ("x", None, D(2024, 3, 10)), ("o17", 11, D(2024, 3, 11))],
    schema={"order_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us")}, orient="row",
).with_columns(source=pl.lit("shop"), currency=pl.lit("USD"),
               cancelled_at=pl.when(pl.col("order_id") == "o17").then(pl.col("created_at")))
TICKETS = pl.DataFrame(
    [("t1", 1, D(2024, 3, 5), 30.0, "good", None, "solved", D(2024, 3, 5, 2)),
     ("t1b", 1, D(2024, 3, 8), 10.0, "bad", None, "solved", D(2024, 3, 8, 1)),
     ("t2", 2, D(2024, 3, 3), 300.0, "bad", None, "closed", None),
     ("t3", 3, D(2024, 3, 25), 5.0, None, None, "solved", D(2024, 3, 25, 1)),
     ("t5", 5, D(2024, 2, 25), 5.0, None, None, "solved", D(2024, 2, 25, 1)),
     ("t6", 6, D(2024, 3, 7), None, None, None, "open", None),
     ("t9", 9, D(2024, 3, 9), 120.0, None, 5, "open", None),
     ("t10", 10, D(2024, 3, 12), 30.0, "offered", None, "solved", D(2024, 3, 12, 3)),
     ("t50", 50, D(2024, 4, 20), 5.0, None, None, "open", None)],
    schema={"ticket_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us"),
            "first_reply_minutes": pl.Float64, "satisfaction_rating": pl.String, "satisfaction_score": pl.Int16,
            "status": pl.String, "solved_at": pl.Datetime("us")}, orient="row",
).with_columns(source=pl.lit("desk"))
THIRTY = Settings(_env_file=None, retention_days=30)  # type: ignore[call-arg]


def store(tickets: pl.DataFrame | None = TICKETS, orders: pl.DataFrame = ORDERS) -> Warehouse:
    wh = Warehouse()
    import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": orders}))
    if tickets is not None:
        import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))
    return wh


def rates(result: Retention, dimension: str) -> dict[str, tuple[int, int, float | None]]:
    table = result.table.filter(pl.col("dimension") == dimension)
    return {r["segment"]: (r["customers"], r["repeat_customers"], r["repeat_rate"])
            for r in table.iter_rows(named=True)}


def test_repeat_rate_of_customers_who_contacted_support_against_those_who_did_not() -> None:
    result = repeat_by_support(store().cursor(), MARCH, settings=THIRTY)
    assert (result.days, result.too_recent, result.missing, result.first_reply_clock) == (30, 1, None, "calendar")
    assert rates(result, "all") == {"all customers": (8, 4, 0.5)}
    assert rates(result, "contact") == {"did not contact support": (3, 2, pytest.approx(2 / 3)),
                                        "contacted support": (5, 2, 0.4)}


def test_contacted_customers_split_by_first_reply_csat_and_solved() -> None:
    result = repeat_by_support(store().cursor(), MARCH, settings=THIRTY)
    assert rates(result, "first_reply") == {"under 1 h": (2, 2, 1.0), "1–4 h": (1, 0, 0.0), "4–24 h": (1, 0, 0.0),
                                            "24 h or more": (0, 0, None), "no reply recorded": (1, 0, 0.0)}
    assert rates(result, "csat") == {"satisfied": (2, 1, 0.5), "not satisfied": (1, 0, 0.0),
                                     "no rating": (2, 1, 0.5)}
    assert rates(result, "solved") == {"solved": (3, 2, pytest.approx(2 / 3)), "not solved": (2, 0, 0.0)}


# A helpdesk export that begins on 03-05 (t1; without t2 and t5): only the anchors from then on are split by contact,
# C5 (03-05, repeat, no ticket after it), C6 (03-06, no repeat, t6), C9 (03-08, no repeat, t9), C10 (03-09, repeat,
# t10): contacted C6 C9 C10 = 3, repeat C10 = 1; did not contact C5 = 1, repeat 1. C1 to C4 (anchors 03-01 to 03-04)
# are before it: all customers stay 8, 4 repeat.
LATE_DESK = TICKETS.filter(~pl.col("ticket_id").is_in(["t2", "t5"]))


@pytest.mark.parametrize("rollup", [True, False])
def test_only_customers_the_helpdesk_export_reaches_are_split_by_contact(rollup: bool) -> None:
    result = repeat_by_support(store(LATE_DESK).cursor(), MARCH, settings=THIRTY, rollup=rollup)
    assert (result.missing, result.reached) == (None, 4)
    assert rates(result, "all") == {"all customers": (8, 4, 0.5)}
    assert rates(result, "contact") == {"did not contact support": (1, 1, 1.0),
                                        "contacted support": (3, 1, pytest.approx(1 / 3))}
    assert rates(result, "solved") == {"solved": (1, 1, 1.0), "not solved": (2, 0, 0.0)}


@pytest.mark.parametrize("rollup", [True, False])
def test_a_helpdesk_export_beginning_after_every_customer_leaves_the_contact_unknown(rollup: bool) -> None:
    later = TICKETS.filter(pl.col("ticket_id") == "t50")  # 04-20: after every anchor
    result = repeat_by_support(store(later).cursor(), MARCH, settings=THIRTY, rollup=rollup)
    assert (result.missing, result.reached) == (NOT_REACHED, 0)
    assert rates(result, "all") == {"all customers": (8, 4, 0.5)}
    assert set(result.table["dimension"]) == {"all"}


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_the_orders_page_says_for_how_many_customers_contact_is_known(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "late_desk.duckdb"
    wh = Warehouse(path)  # the store's imports into a file: the page opens its own warehouse
    import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": ORDERS}))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": LATE_DESK}))
    wh.close()
    use_warehouse(monkeypatch, path)
    monkeypatch.setenv("CSPULSE_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60)
    app.query_params["start"], app.query_params["end"] = "2024-03-01", "2024-03-31"
    app.switch_page("app_pages/orders.py").run()
    assert not app.exception and not app.error
    assert any("who contacted support is known for 4 of the 8 customers" in caption.value for caption in app.caption)


def test_the_result_says_it_is_an_association_not_proof_of_cause() -> None:
    result = repeat_by_support(store().cursor(), MARCH, settings=THIRTY)
    assert result.statement == STATEMENT and "association, not proof of cause" in STATEMENT


def test_a_longer_window_counts_the_later_second_order_and_leaves_out_more_recent_customers() -> None:
    sixty = Settings(_env_file=None, retention_days=60)  # type: ignore[call-arg]
    result = repeat_by_support(store().cursor(), MARCH, settings=sixty)
    # observed: anchor + 60 days <= 04-20, so anchor <= 02-20: nobody in March (9 March customers too recent)
    assert result.too_recent == 9 and rates(result, "all") == {"all customers": (0, 0, None)}
    early = repeat_by_support(store().cursor(), MARCH, settings=Settings(_env_file=None,  # type: ignore[call-arg]
                                                                         retention_days=45))
    # 45 days: observed anchors <= 03-06 (C1 C2 C3 C4 C5 C6); C6's 04-20 order is 45 days after 03-06: a repeat now
    assert rates(early, "all") == {"all customers": (6, 4, pytest.approx(4 / 6))}


def test_business_minutes_split_the_first_reply_where_the_export_has_only_those() -> None:
    business = TICKETS.rename({"first_reply_minutes": "first_reply_business_minutes"})
    result = repeat_by_support(store(business).cursor(), MARCH, settings=THIRTY)
    assert result.first_reply_clock == "business"
    assert rates(result, "first_reply")["under 1 h"] == (2, 2, 1.0)


def test_without_first_replies_there_is_no_first_reply_split() -> None:
    result = repeat_by_support(store(TICKETS.drop("first_reply_minutes")).cursor(), MARCH, settings=THIRTY)
    assert result.first_reply_clock is None and "first_reply" not in result.table["dimension"].to_list()
    assert rates(result, "contact")["contacted support"] == (5, 2, 0.4)


def test_without_tickets_the_comparison_is_unknown_and_says_which_export_gives_it() -> None:
    result = repeat_by_support(store(tickets=None).cursor(), MARCH, settings=THIRTY)
    assert result.missing == NO_TICKETS
    assert result.table["dimension"].to_list() == ["all"]  # no "did not contact" group of everyone
    assert rates(result, "all") == {"all customers": (8, 4, 0.5)}


def test_orders_without_customers_say_which_export_gives_them() -> None:
    anonymous = ORDERS.with_columns(customer_key=pl.lit(None, pl.UInt64))
    result = repeat_by_support(store(orders=anonymous).cursor(), MARCH, settings=THIRTY)
    assert result.missing == NO_CUSTOMERS and rates(result, "all") == {"all customers": (0, 0, None)}


def test_retention_chart_draws_each_segment_with_its_customer_count() -> None:
    result = repeat_by_support(store().cursor(), MARCH, settings=THIRTY)
    figure = charts.repeat_by_support(result.table, min_sample=3)
    [bars] = figure.data
    labels = list(bars.y)
    contacted = labels.index("Contacted support")
    assert bars.x[contacted] == 0.4 and "5 customers" in bars.text[contacted]
    # a segment over fewer customers than the minimum sample is grey
    assert bars.marker.color[labels.index("CSAT · not satisfied")] == charts.SMALL_SAMPLE_GREY
    assert bars.marker.color[contacted] != charts.SMALL_SAMPLE_GREY


def test_a_repeat_rate_of_0_still_says_its_figures_beside_its_bar() -> None:
    table = pl.DataFrame({"dimension": ["all"], "segment": ["all customers"], "customers": [3216],
                          "repeat_customers": [0], "repeat_rate": [0.0]})
    [bars] = charts.repeat_by_support(table).data
    assert list(bars.text) == ["0% · 3,216 customers"] and list(bars.textposition) == ["outside"]
    wide = charts.repeat_by_support(pl.DataFrame({
        "dimension": ["all", "contact"], "segment": ["all customers", "contacted support"], "customers": [100, 40],
        "repeat_customers": [30, 2], "repeat_rate": [0.3, 0.05]})).data[0]
    assert list(wide.textposition) == ["inside", "outside"]


# Exactly N (30) days, to the microsecond: the newest order and ticket are at 05-01 00:00.
#   C1 03-01, again 03-31 (exactly 30 days: a repeat); its ticket at 03-31 comes with the second order: no contact
#   C2 03-02, again 30 days and 1 µs later: no repeat
#   C3 03-03, its ticket exactly 30 days later: no contact; C4 03-04, its ticket 1 µs within the 30 days: contact
#   C5 04-01 00:00, exactly 30 days before the newest: observed; C6 1 µs later: too recent
# Observed C1-C5: 5 customers, 1 repeat (C1); contacted C4 only (no repeat); did not contact: 4, 1 repeat.
_US = timedelta(microseconds=1)
EXACT_ORDERS = pl.DataFrame(
    [("e1", 1, D(2024, 3, 1)), ("e1b", 1, D(2024, 3, 31)), ("e2", 2, D(2024, 3, 2)),
     ("e2b", 2, D(2024, 4, 1) + _US), ("e3", 3, D(2024, 3, 3)), ("e4", 4, D(2024, 3, 4)), ("e5", 5, D(2024, 4, 1)),
     ("e6", 6, D(2024, 4, 1) + _US), ("e9", 9, D(2024, 5, 1))],
    schema={"order_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us")}, orient="row",
).with_columns(source=pl.lit("shop"), currency=pl.lit("USD"), cancelled_at=pl.lit(None, pl.Datetime("us")))
EXACT_TICKETS = TICKETS.clear().vstack(pl.DataFrame(
    [("x0", 70, D(2024, 2, 1), 30.0, None, None, "open", None),  # no customer's: the export reaches back before C1
     ("x1", 1, D(2024, 3, 31), 30.0, None, None, "open", None),
     ("x3", 3, D(2024, 4, 2), 30.0, None, None, "open", None),
     ("x4", 4, D(2024, 4, 3) - _US, 30.0, None, None, "open", None),
     ("x50", 50, D(2024, 5, 1), 30.0, None, None, "open", None)], schema=TICKETS.drop("source").schema, orient="row",
).with_columns(source=pl.lit("desk")))


@pytest.mark.parametrize("rollup", [True, False], ids=["first tickets kept per order", "tickets matched"])
def test_n_days_to_the_microsecond_count_as_within_them(rollup: bool) -> None:
    wh = store(EXACT_TICKETS, EXACT_ORDERS)
    assert rollup_holds(wh.cursor(), rollups.RETENTION, THIRTY)
    result = repeat_by_support(wh.cursor(), Filters(date(2024, 3, 1), date(2024, 4, 30)), settings=THIRTY,
                               rollup=rollup)
    assert result.too_recent == 1 and rates(result, "all") == {"all customers": (5, 1, 0.2)}
    assert rates(result, "contact") == {"did not contact support": (4, 1, 0.25), "contacted support": (1, 0, 0.0)}

# A second store, for the edge cases of matching tickets to anchors, counted by a plain-Python reading of the module's
# definitions (reference_split below), not by the SQL:
#   C1 two kept orders at the same instant 03-02 (the second is no return), again 03-20; a cancelled order 03-10
#      between them is no boundary; tickets 03-02 (at the anchor: counts) and 03-20 (at the next order: does not)
#   C2 kept order 02-25 before a mid-March view, 03-05 in it; tickets 03-01 (before the view's anchor) and two at
#      03-06 10:00 ("b10" before "b2" in text order, with other facts: the id breaks the tie)
#   C3 a cancelled order 03-03 and a kept one 03-04: the kept one anchors; ticket 03-03 before it, 03-05 after
#   C4 03-08 only, no ticket; C5 03-09, again 04-10 (32 days: no repeat at 30), ticket 04-01 within 30 days
#   C6 03-11, again 03-15, its one ticket at 03-15 with the second order: did not contact support
#   orders and tickets without a customer, and a ticket of nobody's order (C9) change nothing; C9's anchor 01-05 is
#      before the helpdesk export's first ticket (03-01): in all customers, not split by contact
EDGE_ORDERS = pl.DataFrame(
    [("a1", 1, D(2024, 3, 2), None), ("a2", 1, D(2024, 3, 2), None), ("a3", 1, D(2024, 3, 10), D(2024, 3, 10)),
     ("a4", 1, D(2024, 3, 20), None), ("b1", 2, D(2024, 2, 25), None), ("b2", 2, D(2024, 3, 5), None),
     ("c1", 3, D(2024, 3, 3), D(2024, 3, 3)), ("c2", 3, D(2024, 3, 4), None), ("d1", 4, D(2024, 3, 8), None),
     ("e1", 5, D(2024, 3, 9), None), ("e2", 5, D(2024, 4, 10), None), ("x1", None, D(2024, 3, 6), None),
     ("f1", 6, D(2024, 3, 11), None), ("f2", 6, D(2024, 3, 15), None), ("z1", 9, D(2024, 1, 5), None),
     ("last", 8, D(2024, 5, 30), None)],
    schema={"order_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us"),
            "cancelled_at": pl.Datetime("us")}, orient="row",
).with_columns(source=pl.lit("shop"), currency=pl.lit("USD"))
EDGE_TICKETS = pl.DataFrame(
    [("t1", 1, D(2024, 3, 2), 30.0, "good", None, "solved"), ("t1n", 1, D(2024, 3, 20), 5.0, None, None, "open"),
     ("t2a", 2, D(2024, 3, 1), 5.0, "good", None, "solved"), ("b2", 2, D(2024, 3, 6, 10), 500.0, "bad", None, "open"),
     ("b10", 2, D(2024, 3, 6, 10), 20.0, "good", None, "solved"),
     ("t3a", 3, D(2024, 3, 3), 5.0, None, 5, "solved"), ("t3b", 3, D(2024, 3, 5), 100.0, None, 2, "closed"),
     ("t5", 5, D(2024, 4, 1), 2000.0, None, None, "open"), ("t6", 6, D(2024, 3, 15), 5.0, None, None, "open"),
     ("tx", None, D(2024, 3, 7), 5.0, None, None, "open"),
     ("t9", 9, D(2024, 3, 7), 5.0, None, None, "open"), ("tl", 8, D(2024, 5, 30), None, None, None, "open")],
    schema={"ticket_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us"),
            "first_reply_minutes": pl.Float64, "satisfaction_rating": pl.String, "satisfaction_score": pl.Int16,
            "status": pl.String}, orient="row",
).with_columns(source=pl.lit("desk"))


def reference_split(start: date, end: date, days: int) -> dict[tuple[str, str], tuple[int, int]]:
    """(dimension, segment) -> (customers, repeat customers) of the observed cohort, worked out row by row."""
    window, after_end = timedelta(days=days), D.combine(end + timedelta(days=1), D.min.time())
    newest = min(EDGE_ORDERS["created_at"].max(), EDGE_TICKETS["created_at"].max())  # type: ignore[type-var]
    first_ticket = EDGE_TICKETS["created_at"].min()
    kept = EDGE_ORDERS.filter(pl.col("customer_key").is_not_null() & pl.col("cancelled_at").is_null())
    counts: dict[tuple[str, str], list[int]] = {}
    for (customer,), orders in kept.group_by("customer_key"):
        times = sorted(orders["created_at"])
        in_view = [t for t in times if D.combine(start, D.min.time()) <= t < after_end]
        if not in_view or in_view[0] + window > newest:
            continue
        anchor = in_view[0]
        later = [t for t in times if t > anchor]
        repeated = bool(later) and later[0] <= anchor + window
        bound = later[0] if repeated else anchor + window
        tickets = sorted((t["created_at"], t["ticket_id"], t) for t in EDGE_TICKETS.iter_rows(named=True)
                         if t["customer_key"] == customer and anchor <= t["created_at"] < bound)
        segments = [("all", "all customers")]
        reached = anchor >= first_ticket  # type: ignore[operator]  # before the helpdesk export: contact unknown
        if reached and tickets:
            first = tickets[0][2]
            reply, score = first["first_reply_minutes"], first["satisfaction_score"]
            segments += [("contact", "contacted support"),
                         ("first_reply", "no reply recorded" if reply is None else "under 1 h" if reply < 60
                          else "1–4 h" if reply < 240 else "4–24 h" if reply < 1440 else "24 h or more"),
                         ("csat", "satisfied" if (score or 0) >= 4 or (score is None and
                                                                       first["satisfaction_rating"] == "good")
                          else "not satisfied" if score is not None or first["satisfaction_rating"] == "bad"
                          else "no rating"),
                         ("solved", "solved" if first["status"] in ("solved", "closed") else "not solved")]
        elif reached:
            segments.append(("contact", "did not contact support"))
        for segment in segments:
            tally = counts.setdefault(segment, [0, 0])
            tally[0], tally[1] = tally[0] + 1, tally[1] + repeated
    return {key: (n, r) for key, (n, r) in counts.items()}


@pytest.mark.parametrize("rollup", [True, False], ids=["first tickets kept per order", "tickets matched"])
@pytest.mark.parametrize(("start", "end", "days"), [(date(2024, 3, 1), date(2024, 3, 31), 30),
                                                    (date(2024, 3, 3), date(2024, 3, 31), 30),
                                                    (date(2024, 3, 1), date(2024, 3, 31), 45),
                                                    (date(2024, 1, 1), date(2024, 5, 30), 30)])
def test_split_matches_each_anchor_to_its_first_ticket_before_the_next_kept_order(start: date, end: date,
                                                                                    days: int, rollup: bool) -> None:
    wh = store(EDGE_TICKETS, EDGE_ORDERS)
    settings = Settings(_env_file=None, retention_days=days)  # type: ignore[call-arg]
    assert rollup_holds(wh.cursor(), rollups.RETENTION, settings)  # the imports kept it: the served path is read
    result = repeat_by_support(wh.cursor(), Filters(start, end), settings=settings, rollup=rollup)
    got = {(r["dimension"], r["segment"]): (r["customers"], r["repeat_customers"])
           for r in result.table.iter_rows(named=True) if r["customers"]}
    expected = reference_split(start, end, days)
    assert expected[("contact", "contacted support")][0] >= 2  # the cases above are in it, not left out
    assert got == expected


def test_the_kept_first_tickets_read_the_first_reply_as_the_registry_does() -> None:
    """data/ may not import metrics/: data.rollups hands the table the ticket rollup's first reply expressions, which
    must be the registry's (the signature is a hash of the table's SQL with them)."""
    registry = (DURATIONS[0].expression(False), DURATIONS[0].expression(True))
    assert rollups.RETENTION.signature == retention_rollup.family("d", ("o",), registry).signature


# views and windows the Orders page may ask for, over the stores of tests/test_money_rollup.py
RETENTION_VIEWS = [Filters(date(2024, 1, 1), date(2024, 12, 31)), Filters(date(2024, 2, 12), date(2024, 4, 7)),
                   Filters(date(2024, 3, 10), date(2024, 3, 10))]


def assert_retention_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    """The kept first tickets are what a build from the rows gives, and the split read from them is the split the
    tickets give: called after every write of tests/test_money_rollup.py."""
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.RETENTION), "the table must be current, else the comparison proves nothing"
    replies = (DURATIONS[0].expression(False), DURATIONS[0].expression(True))
    for table, rows in ((retention_rollup.TABLE, retention_rollup._firsts("TRUE", replies)),
                        (retention_rollup.ORDERS_TABLE, retention_rollup._kept_orders("TRUE"))):
        held = cur.execute(f"SELECT * FROM {table} ORDER BY ALL").pl()
        assert_frame_equal(held, cur.execute(f"{rows} ORDER BY ALL").pl())
    for days in (30, 90):
        windowed = settings.model_copy(update={"retention_days": days})
        for view in RETENTION_VIEWS:
            served = repeat_by_support(cur, view, settings=windowed)
            raw = repeat_by_support(cur, view, settings=windowed, rollup=False)
            assert_frame_equal(served.table, raw.table)
            assert served.too_recent == raw.too_recent


def test_tickets_imported_before_any_order_then_the_orders_keep_the_first_tickets_as_a_whole_build() -> None:
    """Tickets before any order build the kept first tickets empty without matching them (no order anchors one);
    the orders that follow fill them as a build from every row does, and the split read from them is the raw one."""
    wh = Warehouse()
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": TICKETS}))
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.RETENTION)
    assert cur.execute(f"SELECT count(*) FROM {retention_rollup.TABLE}").fetchone()[0] == 0  # type: ignore[index]
    import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": ORDERS}))
    assert cur.execute(f"SELECT count(*) FROM {retention_rollup.TABLE}").fetchone()[0] > 0  # type: ignore[index]
    assert_retention_served_equals_raw(wh, THIRTY)
