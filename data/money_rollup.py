"""The money rollup: the Orders page's refunds of orders some ticket links to against the others ("money at stake",
metrics.orders_links ``_refunds``), as additive parts per placed local day, currency, source and ``with_tickets``.

Over the rows, every order of the view was tested against the set of every linked order (0.6-0.9 s at five million
orders and ten million tickets, four in ten linked): which orders tickets link to changes with ticket writes (of any
ticket day), and an order's values with order writes (of its placed day). So these tables:

* ``money_links``: per ticket local day (created), the orders tickets created that day link to (``order_source``,
  ``linked_order_id``, both set: what the raw query tests), with when those tickets are open (:func:`_links`). A
  ticket writer notes its tickets' days (data.rollups ``note_days``): their rows are read before they are worked out
  again, so the orders they linked to before the write and those they link to after it are known: only those orders
  may have changed ``with_tickets`` (or what waits on them).
* ``money_parts``: per placed local day, currency, source and ``with_tickets`` (:data:`PARTS`), worked out again for
  the placed days an order writer noted (data/order_rollup.py ``note_days``) and those of the orders above.
* ``money_waiting``: "revenue waiting on an answer" (``_waiting``: the orders tickets open at the view's end link to)
  as steps per view end, currency and the orders' placed day (:func:`_waiting`): worked out again for the same
  placed days. Its sum up to a view's end is the orders, tickets and value waiting then.
* ``money_open``: the tickets open at a view's end, linked or not (``_open_counts``), per created and solved day:
  worked out again for the noted ticket days.

The last two hold no category or priority filter: a view with one reads the rows. ``money_open`` is keyed by the
tickets' channel (a ticket has one: its counts add up over any channels chosen); ``money_waiting_by_channel`` holds
the steps of each channel's tickets apart (an order counts once per channel there, so it serves one channel).

Kept as a family of data/kept.py (data.rollups ``FAMILIES``) in every writer's transaction; on the clock the
warehouse records (a clock change moves every local day: stale, built whole). A reader uses it only while it is
marked current and the view's clock is the recorded one. Amounts are DECIMAL: the sums of the parts are the sums of
the rows, exactly (tests/test_money_rollup.py compares every value after every writer).
"""

from __future__ import annotations

import hashlib
import json
import logging

import duckdb

from data import kept
from data.order_rollup import CLOCK_KEY, ORDER_VALUE
from data.ticket_flags import STILL_OPEN

log = logging.getLogger(__name__)

LINKS_TABLE = "money_links"
PARTS_TABLE = "money_parts"
META_KEY = "money_rollup"
_TOUCHED = "money_touched_orders"  # temp: the orders whose with_tickets a ticket write may have changed
# an order some ticket links to, as the raw query tests it (metrics.orders_links ``_refunds``)
LINKED = "order_source IS NOT NULL AND linked_order_id IS NOT NULL"
PARTS: dict[str, str] = {
    "n": "count(*)",
    "refunded": "count(*) FILTER (WHERE refunded_amount > 0)",
    "measured": "count(refunded_amount)",  # the sample of avg((refunded_amount > 0)::INT)
    "order_value": f"sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL)",
    "refunded_value": f"sum(refunded_amount) FILTER (WHERE {ORDER_VALUE} IS NOT NULL)",
}


# "Waiting on an answer" (metrics.orders_links ``_waiting``): per order that tickets link to, the view ends E (local
# days, exclusive) at which a ticket of it is open (created before E, solved on or after E, or still open), as steps:
# a ticket opens the day after it was created and closes the day after it was solved; an order's tickets' spans
# merged into islands, so that an order counts once however many tickets wait on it. Summing the steps up to E gives
# the orders, tickets and value waiting at E, per currency.
WAITING_TABLE = "money_waiting"
# tickets open at the end of a view with no ticket filter, by created day, solved day and whether linked
# (metrics.orders_links ``_open_counts``): a few hundred thousand rows where the tickets are ten million
OPEN_TABLE = "money_open"
WAITING_BY_CHANNEL_TABLE = "money_waiting_by_channel"  # "waiting" with one channel chosen: per channel


def _spans(orders_where: str) -> str:
    """SQL: the linked tickets that are open at some view end (from ``money_links``: build it first), with the order
    they link to (of the orders that meet ``orders_where``): from the day after they were created to the day after
    they were solved (NULL: never closes)."""
    return f"""
        SELECT o.source, o.order_id, o.created_local_date AS placed, o.currency, {ORDER_VALUE} AS value,
               l.day + 1 AS opens, l.closes, l.tickets, l.channel
        FROM {LINKS_TABLE} l JOIN orders o ON o.source = l.order_source AND o.order_id = l.linked_order_id
        WHERE l.waits AND ({orders_where})"""


def _waiting(orders_where: str, by_channel: bool = False) -> str:
    """SQL: the steps of the orders that meet ``orders_where`` (alias ``o``): per placed day, currency and view end,
    the orders (+1 where an island of one opens, -1 where it closes), tickets and value that start or stop waiting
    then. Per placed day, not per order, so that a view reads a few hundred thousand rows, not millions; a write
    works out its placed days again. ``by_channel``: each channel's tickets apart, per channel."""
    waits = "source, order_id, channel" if by_channel else "source, order_id"  # what an island is of
    kept = "channel, " if by_channel else ""
    return f"""
        WITH spans AS ({_spans(orders_where)}),
        reached AS (SELECT *, max(coalesce(closes, DATE 'infinity')) OVER (
                        PARTITION BY {waits} ORDER BY opens, closes NULLS LAST
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach FROM spans),
        numbered AS (SELECT *, sum((reach IS NULL OR reach < opens)::INT) OVER (
                         PARTITION BY {waits} ORDER BY opens, closes NULLS LAST ROWS UNBOUNDED PRECEDING)
                         AS island FROM reached),
        islands AS (SELECT {waits}, placed, currency, value, island, min(opens) AS opens,
                           max(coalesce(closes, DATE 'infinity')) AS closes FROM numbered GROUP BY ALL),
        steps AS (SELECT {kept}placed, currency, opens AS day, 1 AS orders, 0 AS tickets,
                         value, (value IS NOT NULL)::INT AS valued FROM islands
                  UNION ALL
                  SELECT {kept}placed, currency, closes, -1, 0, -value, -(value IS NOT NULL)::INT
                  FROM islands WHERE closes < DATE 'infinity'
                  UNION ALL
                  SELECT {kept}placed, currency, opens, 0, tickets, 0, 0 FROM spans
                  UNION ALL
                  SELECT {kept}placed, currency, closes, 0, -tickets, 0, 0 FROM spans
                  WHERE closes IS NOT NULL)
        SELECT {kept}placed, currency, day, sum(orders)::BIGINT AS orders, sum(tickets)::BIGINT AS tickets,
               sum(value) AS value, sum(valued)::BIGINT AS valued
        FROM steps GROUP BY ALL"""


def _open(where: str) -> str:
    """SQL: the tickets that are ever open at a view's end, per created day, solved day, whether still open and
    whether linked to an order, of the tickets whose created day meets ``where``."""
    return (f"SELECT created_local_date AS day, CASE WHEN solved_at IS NOT NULL THEN solved_local_date END AS solved,"
            f" ({STILL_OPEN}) AS still_open, linked_order_id IS NULL AS unlinked, channel, count(*) AS tickets "
            f"FROM tickets "
            f"WHERE (solved_at IS NOT NULL OR {STILL_OPEN}) AND {where} GROUP BY ALL")


def _links(where: str) -> str:
    """SQL: the linked tickets per created day, order, solved day (``closes``: the day after) and whether they are
    open at some view end (``waits``: solved on a later day, or still open), of the tickets whose day meets
    ``where``. The waiting steps read these (four million rows at ten million tickets), not the tickets."""
    return (f"SELECT created_local_date AS day, order_source, linked_order_id, "
            f"CASE WHEN solved_at IS NOT NULL THEN solved_local_date + 1 END AS closes, "
            f"coalesce(solved_local_date > created_local_date, FALSE) OR ({STILL_OPEN}) AS waits, channel, "
            f"count(*) AS tickets FROM tickets WHERE {LINKED} AND {where} GROUP BY ALL")


def _parts(where: str) -> str:
    """SQL: the parts per placed day, currency, source and with_tickets, of the orders whose day meets ``where``
    (over ``money_links`` as it is: build it first). The links looked up for those orders only: a refresh of a few
    days built a set of every linked order (1.7 s at ten million tickets)."""
    parts = ", ".join(f"{sql} AS {name}" for name, sql in PARTS.items())
    # every order: every link, without the lookup (which took four times as long as the build without it at 10M)
    some = "" if where == "TRUE" else "WHERE (order_source, linked_order_id) IN (SELECT source, order_id FROM placed)"
    return f"""
        WITH placed AS (SELECT * FROM orders WHERE {where}),
        linked AS (SELECT DISTINCT order_source, linked_order_id FROM {LINKS_TABLE} {some})
        SELECT created_local_date AS day, currency, source,
               (source, order_id) IN (SELECT order_source, linked_order_id FROM linked) AS with_tickets, {parts}
        FROM placed GROUP BY ALL"""


_DECLARED = json.dumps([LINKS_TABLE, PARTS_TABLE, WAITING_TABLE, OPEN_TABLE, WAITING_BY_CHANNEL_TABLE,
                        _links("{where}"), _parts("{where}"), _waiting("{where}"), _waiting("{where}", True),
                        _open("{where}")])
SIGNATURE = hashlib.sha256(_DECLARED.encode()).hexdigest()[:16]


def family(ticket_days: str, order_days: str) -> kept.Family:
    """The money rollup as data/kept.py keeps it: the noted ticket days' links worked out again, then the noted
    order days' parts and those of the orders the changed links name."""
    return kept.Family("money", META_KEY, SIGNATURE, (ticket_days, order_days), rebuild,
                       lambda cur: _refresh_noted(cur, ticket_days, order_days), depends_on=(CLOCK_KEY,))


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    for table in (LINKS_TABLE, PARTS_TABLE, WAITING_TABLE, OPEN_TABLE, WAITING_BY_CHANNEL_TABLE):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {LINKS_TABLE} AS {_links('TRUE')} ORDER BY day")
    cur.execute(f"CREATE TABLE {PARTS_TABLE} AS {_parts('TRUE')} ORDER BY day")
    cur.execute(f"CREATE TABLE {WAITING_TABLE} AS {_waiting('TRUE')} ORDER BY day")
    cur.execute(f"CREATE TABLE {WAITING_BY_CHANNEL_TABLE} AS {_waiting('TRUE', by_channel=True)} ORDER BY day")
    cur.execute(f"CREATE TABLE {OPEN_TABLE} AS {_open('TRUE')} ORDER BY day")
    log.info("money rollup rebuilt")


def _refresh_noted(cur: duckdb.DuckDBPyConnection, ticket_days: str, order_days: str) -> None:
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_TOUCHED} (order_source VARCHAR, linked_order_id VARCHAR)")
    picked = kept.noted_rows(cur, (ticket_days,))
    if picked is not None:  # the orders the noted days' tickets linked to before the write, and link to now
        noted, params = picked
        cur.execute(f"INSERT INTO {_TOUCHED} SELECT order_source, linked_order_id FROM {LINKS_TABLE} "
                    f"WHERE {noted.format(day='day')}", params)
        cur.execute(f"DELETE FROM {LINKS_TABLE} WHERE {noted.format(day='day')}", params)
        cur.execute(f"INSERT INTO {LINKS_TABLE} {_links(noted.format(day='created_local_date'))}", params)
        cur.execute(f"DELETE FROM {OPEN_TABLE} WHERE {noted.format(day='day')}", params)
        cur.execute(f"INSERT INTO {OPEN_TABLE} {_open(noted.format(day='created_local_date'))}", params)
        cur.execute(f"INSERT INTO {_TOUCHED} SELECT order_source, linked_order_id FROM {LINKS_TABLE} "
                    f"WHERE {noted.format(day='day')}", params)
    kept.noted_days(cur, (order_days,))  # made where no order writer noted any
    placed = "money_placed_days"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {placed} AS SELECT day FROM {order_days} UNION "
                f"SELECT DISTINCT o.created_local_date FROM orders o SEMI JOIN {_TOUCHED} t "
                f"ON o.source = t.order_source AND o.order_id = t.linked_order_id")
    picked = kept.noted_rows(cur, (placed,))
    if picked is not None:
        noted, params = picked
        cur.execute(f"DELETE FROM {PARTS_TABLE} WHERE {noted.format(day='day')}", params)
        cur.execute(f"INSERT INTO {PARTS_TABLE} {_parts(noted.format(day='created_local_date'))}", params)
        # an order whose tickets or values may have changed: the placed days hold every order the links name
        for table, by_channel in ((WAITING_TABLE, False), (WAITING_BY_CHANNEL_TABLE, True)):
            cur.execute(f"DELETE FROM {table} WHERE {noted.format(day='placed')}", params)
            cur.execute(f"INSERT INTO {table} {_waiting(noted.format(day='o.created_local_date'), by_channel)}",
                        params)
    for table in (_TOUCHED, placed):
        cur.execute(f"DROP TABLE {table}")
