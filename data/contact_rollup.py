"""The contact rollup: per local day tickets were created on, per order dimension the Orders page breaks the contact
rate down by (:data:`DIMENSIONS`), per value and per ticket category, the tickets created that day about an order
with that value (the Complaints page's complaints per product, vendor, shipping method and discount code read the
categories; a category filter is served too).

Tickets per 100 orders by SKU (metrics.orders ``contact_rate_by``) joined every ticket of the view that reaches an
order to that order's lines: 6.6-7.2 s at ten million tickets when four in ten name an order. A ticket counts once
per value it reaches, whatever else it reaches, so the count is a sum over tickets and adds up over days: a view
without ticket filters, or with category and channel filters (:data:`FILTERS`, keys of its rows: a ticket has one
of each, so the counts add up over them too), adds up its days' rows here instead. A view with a priority filter
still reads the rows (the table is not keyed by it). The Complaints page's
query per category joined every linked ticket to its order's lines too: 10-12 s over two years at ten million.

A ticket reaches its order as ``metrics.query.ticket_reaches_order`` says (:data:`REACHES` is that text, a test
holds them equal: data/ may not import metrics/): by the link data/linking.py found, else the export's own
order-number column.

Kept in the transaction of every write, as a family of data/kept.py (data.rollups ``FAMILIES``). What a row counts
changes with the tickets (their day or their link) or with the orders' values. Ticket writers note the local days
of the tickets they change for the ticket rollup (data.rollups ``note_days``: import, undo, linking, ...); those
days are worked out again here. The orders' values are checked by a fingerprint (a sum of hashes of every order's
and line's values, 0.1-0.2 s at five million orders) recorded beside the rollup: where it moved (an orders import,
undo or clear) the whole rollup is built again, since a changed order may be named by tickets of any day. A reader
uses it only while it is marked current (data.rollups ``is_current(cur, CONTACTS)``), so a write that moves the
version another way leaves it unused (slower, never wrong) until the next write or start builds it.
"""

from __future__ import annotations

import hashlib
import json

from data import kept

TABLE = "contact_rollup"
META_KEY = "contact_rollup"
ORDERS_KEY = "contact_rollup_orders"  # the fingerprint of the orders' values the rollup was built on
# dimension -> the table that holds it, and the flag of an order's first line with its value (data/line_facts.py)
DIMENSIONS: dict[str, tuple[str, str | None]] = {
    "sku": ("order_lines", "first_of_sku"),
    "vendor": ("order_lines", "first_of_vendor"),
    "shipping_method": ("orders", None),
    "discount_code": ("orders", None),
    "country": ("orders", None),
    "sales_channel": ("orders", None),
}

# the ticket filters held as keys of the rows (a view filtering by another reads the rows)
FILTERS: tuple[str, ...] = ("category", "channel")

# Beside them, every ticket by how it was linked (data/linking.py: order_link; 'none': no order found), as the
# dimension LINKED_BY: the Orders page's "how tickets reach orders" (metrics.orders_links link_shares).
LINKED_BY = "order_link"


def reaches(ticket: str, order: str) -> str:
    """metrics.query ``ticket_reaches_order``, which the raw query joins by (tests/test_contact_rollup.py)."""
    return (f"{order}.order_id = coalesce({ticket}.linked_order_id, {ticket}.order_id) "
            f"AND ({ticket}.order_source IS NULL OR {order}.source = {ticket}.order_source)")


# each order's values, one row per (order, dimension, value): an order line only where it is the order's first
# with its value, so a ticket's order joins each value once
_VALUED = " UNION ALL ".join(
    f"SELECT source, order_id, '{name}' AS dimension, {name} AS value FROM {table}"
    + (f" WHERE {first}" if first else "") for name, (table, first) in DIMENSIONS.items())
_KEYS, _KEYS_OF_G = ", ".join(FILTERS), ", ".join(f"g.{key}" for key in FILTERS)


def _counts(where: str) -> str:
    """SQL: the rollup's rows for the tickets that match ``where``. Tickets naming the same order (the same link
    columns) are joined once as a group; a group without an order source may reach orders of several shops with
    the same value, hence the DISTINCT (a ticket counts once per value)."""
    return f"""
        WITH groups AS (SELECT created_local_date AS day, {_KEYS}, order_source, linked_order_id, order_id,
                               count(*) AS tickets
                        FROM tickets WHERE ({where}) AND coalesce(linked_order_id, order_id) IS NOT NULL
                        GROUP BY ALL),
        reached AS (SELECT DISTINCT g.day, {_KEYS_OF_G}, g.order_source, g.linked_order_id, g.order_id,
                           g.tickets, v.dimension, v.value
                    FROM groups g JOIN ({_VALUED}) v ON {reaches('g', 'v')})
        SELECT day, dimension, value, {_KEYS}, sum(tickets)::BIGINT AS tickets FROM reached GROUP BY ALL
        UNION ALL
        SELECT created_local_date, '{LINKED_BY}', coalesce(order_link, 'none'), {_KEYS}, count(*) FROM tickets
        WHERE {where} GROUP BY ALL"""


# Every order's and line's values a row may count by (a sum of hashes: any change of a value, an order or a line
# moves it but by a 2^-64 chance), and the lines' first-of flags.
_FINGERPRINT = f"""
    SELECT (SELECT count(*) || ':' || coalesce(sum(hash(source, order_id, line_number, sku, vendor, first_of_sku,
                                                      first_of_vendor)), 0) FROM order_lines)
           || '|' || (SELECT count(*) || ':' || coalesce(sum(hash(source, order_id, {", ".join(
               name for name, (table, _) in DIMENSIONS.items() if table == "orders")})), 0) FROM orders)"""

SIGNATURE = hashlib.sha256(json.dumps([TABLE, _VALUED, _counts("{where}"), _FINGERPRINT]).encode()).hexdigest()[:16]


def family(ticket_days: str) -> kept.Family:
    """The contact rollup as data/kept.py keeps it: the ticket days the ticket rollup's writers note
    (``ticket_days``, its temp table) worked out again; built whole where the orders' values moved (a fingerprint
    of them, as no writer notes which tickets name a changed order) or a write changed everything."""
    rebuild, refresh = kept.per_ticket_day(TABLE, _counts, "dimension, day", ticket_days)
    return kept.Family("contacts", META_KEY, SIGNATURE, (ticket_days,), rebuild, refresh,
                       fingerprint=lambda cur: cur.execute(_FINGERPRINT).fetchone()[0],  # type: ignore[index]
                       fingerprint_key=ORDERS_KEY)
