"""Link shares and money at stake (metrics/orders_links.py) on a hand-made store, every value worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from datetime import datetime as D

import polars as pl
import pytest

import charts
from data import rollups
from data.ingest import Batch, import_batch
from data.linking import link
from data.warehouse import Warehouse
from metrics.orders_links import link_shares, money_at_stake
from metrics.query import Filters
from settings import Settings

MARCH = Filters(start=date(2024, 3, 1), end=date(2024, 3, 31))

# #7 was placed before the view (so it is no order of the view's) but a ticket open in it waits on it.
ORDERS = pl.DataFrame({
    "order_id": ["#1", "#2", "#3", "#4", "#5", "#6", "#7"],
    "created_at": [D(2024, 3, 2), D(2024, 3, 3), D(2024, 3, 4), D(2024, 3, 5), D(2024, 3, 6), D(2024, 3, 7),
                   D(2024, 2, 20)],
    "currency": ["USD", "USD", "USD", "USD", "EUR", "EUR", "USD"],
    "total": [100.0, 50.0, 200.0, 40.0, 80.0, 30.0, 999.0],
    "refunded_amount": [100.0, 0.0, 20.0, 0.0, 0.0, None, 0.0],  # #6: the export says nothing of its refunds
    "customer_key": [None, None, None, 44, None, None, None],
}).with_columns(source=pl.lit("shop"), customer_key=pl.col("customer_key").cast(pl.UInt64))

# T1, T2, T3, T5 name their order in the column ("2" is #2); T4 in its subject; T7 by customer 44 (#4, 5 days
# before); T6 names none and its customer has no orders. T7 was solved after the view's end: open at its end.
TICKETS = pl.DataFrame({
    "ticket_id": ["T1", "T2", "T3", "T4", "T5", "T6", "T7"],
    "created_at": [D(2024, 3, 3), D(2024, 3, 4), D(2024, 3, 8), D(2024, 3, 9), D(2024, 3, 20), D(2024, 3, 21),
                   D(2024, 3, 10)],
    "solved_at": [None, D(2024, 3, 5), None, None, None, None, D(2024, 4, 5)],
    "status": ["open", "solved", "open", "pending", "open", "open", "solved"],
    "order_id": ["#1", "2", "#5", None, "#7", None, None],
    "subject": ["Refund", "Late", "Broken", "Where is #5?", "Hi", "Question", "Hello"],
    "customer_key": [None, None, None, None, None, 99, 44],
}).with_columns(source=pl.lit("desk"), customer_key=pl.col("customer_key").cast(pl.UInt64))


@pytest.fixture
def store() -> Iterator[Warehouse]:
    wh = Warehouse()
    import_batch(wh, Batch("orders.csv", "sha-o", "shop", "orders", {"orders": ORDERS}))
    import_batch(wh, Batch("tickets.csv", "sha-t", "desk", "tickets", {"tickets": TICKETS}))
    link(wh, 30)
    yield wh
    wh.close()


def test_link_shares_lists_every_method_in_order_of_trust_with_its_share(store: Warehouse, settings: Settings) -> None:
    shares = link_shares(store.cursor(), MARCH, settings)
    # 7 tickets: order_number T1 T2 T3 T5, text T4, customer T7, none T6
    assert shares.rows() == [("order_number", 4, 4 / 7), ("text", 1, 1 / 7), ("customer", 1, 1 / 7),
                             ("none", 1, 1 / 7)]


def test_link_shares_are_empty_for_a_view_without_tickets(store: Warehouse, settings: Settings) -> None:
    assert link_shares(store.cursor(), Filters(start=date(2023, 1, 1), end=date(2023, 1, 31)), settings).is_empty()


def test_refund_rate_of_orders_with_tickets_against_those_without_per_currency(
        store: Warehouse, settings: Settings) -> None:
    refunds = money_at_stake(store.cursor(), MARCH, settings).refunds
    rows = {(r["currency"], r["with_tickets"]): r for r in refunds.iter_rows(named=True)}
    # USD with tickets: #1 (T1), #2 (T2), #4 (T7); refunded #1 -> 1/3; value 100 of 100 + 50 + 40 = 190
    usd = rows[("USD", True)]
    assert (usd["orders"], usd["refunded_orders"], usd["refund_rate"]) == (3, 1, pytest.approx(1 / 3))
    assert (float(usd["order_value"]), float(usd["refunded_value"])) == (190.0, 100.0)
    assert usd["refund_rate_by_value"] == pytest.approx(100 / 190)
    # USD without: #3, refunded 20 of 200 (#7 was placed before the view)
    assert rows[("USD", False)]["refund_rate"] == 1.0
    assert rows[("USD", False)]["refund_rate_by_value"] == pytest.approx(0.1)
    # EUR with tickets: #5 (T3, T4), nothing refunded -> 0, a measured zero
    assert (rows[("EUR", True)]["refund_rate"], rows[("EUR", True)]["refund_rate_by_value"]) == (0.0, 0.0)
    # EUR without: #6, whose refunds the export does not give -> unknown, not 0
    assert rows[("EUR", False)]["orders"] == 1
    assert rows[("EUR", False)]["refund_rate"] is None
    assert rows[("EUR", False)]["refund_rate_by_value"] is None


def test_revenue_waiting_on_an_answer_counts_each_order_once_per_currency(
        store: Warehouse, settings: Settings) -> None:
    stake = money_at_stake(store.cursor(), MARCH, settings)
    # open on 31 March: T1 (#1 USD 100), T3 and T4 (both #5, EUR 80), T5 (#7 USD 999), T7 (#4 USD 40, solved
    # in April), T6 (no order); T2 was solved on 5 March
    assert stake.waiting.rows() == [("EUR", 1, 2, 80), ("USD", 3, 3, 1139)]
    assert (stake.open_tickets, stake.open_unlinked) == (6, 1)


def test_link_share_chart_stacks_methods_in_order_of_trust_with_their_ticket_counts(
        store: Warehouse, settings: Settings) -> None:
    figure = charts.link_shares(link_shares(store.cursor(), MARCH, settings))
    assert [bar.name for bar in figure.data] == ["Order-number column", "Order number in the text",
                                                 "Customer's recent order", "No order found"]
    assert [bar.text[0] for bar in figure.data] == ["57%", "14%", "14%", "14%"]  # 4/7, 1/7, 1/7, 1/7
    assert [bar.customdata[0] for bar in figure.data] == [4, 1, 1, 1]
    assert figure.layout.barmode == "stack"


def test_open_tickets_that_name_no_order_wait_on_no_revenue(store: Warehouse, settings: Settings) -> None:
    with store.transaction() as cur:  # every ticket unlinked: the open ones still count, none waits on an order
        cur.execute("UPDATE tickets SET linked_order_id = NULL")
        # as a writer does: the rollups kept in its transaction (a bare UPDATE left them current on the old links)
        rollups.note_days(cur, "SELECT created_local_date, solved_local_date FROM tickets")
        rollups.bump_version(cur)
    stake = money_at_stake(store.cursor(), MARCH, settings)
    assert stake.waiting.is_empty() and stake.waiting.columns == ["currency", "orders", "open_tickets", "order_value"]
    assert (stake.open_tickets, stake.open_unlinked) == (6, 6)
