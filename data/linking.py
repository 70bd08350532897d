"""The linking step: every ticket is tied to the order it is about, after each import, with how that was decided.

In order of trust (the first rule that finds an order wins):

1. ``order_number`` — the ticket's own order-number column names an order that exists (``#1001`` and ``1001`` are
   the same number: a leading ``#``, spaces and case are ignored);
2. ``text`` — an order number written in the subject, tags or description: after ``#`` (``#1042``), after a word
   for order (``order 1042``, ``order no. 1042``, ``pedido 1042``), or a token of letters and digits in the store's
   own name format (``SH-1042``, an Olist order id); only numbers of orders that exist count;
3. ``customer`` — the same customer (salted email hash) placed an order within the window before the ticket
   (``CSPULSE_LINK_WINDOW_DAYS``): the newest such order.

Where one rule finds several orders (a number in two stores, two numbers in a text), the customer's own order wins,
then the newest placed before the ticket. A ticket with no order found keeps NULLs: unknown, never a guess.

Links are derived: every run links every ticket again, so an orders import links tickets imported earlier, and an
undone import unlinks them. One SQL statement for the three rules: 9 s for a million tickets and 600,000 orders
on two shared cores (measured as in tests/test_linking.py, at five times its size).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from data import rollups
from data.warehouse import Warehouse

log = logging.getLogger("cspulse")

METHODS = ("order_number", "text", "customer")  # in order of trust
LINKED_AT_META = "orders_linked_at_version"


def _number(column: str) -> str:
    """An order number as compared: no leading '#' or spaces, lower case."""
    return f"lower(regexp_replace(trim({column}), '^#\\s*', ''))"


# Candidate numbers in a ticket's text. Bare digits count only after '#' or a word for order; a token that mixes
# letters and digits is specific enough on its own (checked against the orders that exist, like all of them).
_ORDER_WORD = r"(?:order|pedido|encomenda|commande|bestellung|bestelling|ordine)"
_NUMBER_WORD = r"(?:number|num\.?|no\.?|nr\.?|n[º°o]\.?|#|:)?"
_TOKEN = r"[a-z0-9][a-z0-9_-]*"
TEXT_PATTERNS = (
    rf"#\s?({_TOKEN})",
    rf"\b{_ORDER_WORD}s?\s*{_NUMBER_WORD}\s*#?\s*([a-z0-9_-]*\d[a-z0-9_-]*)",
    r"\b([a-z0-9_-]*[a-z][a-z0-9_-]*\d[a-z0-9_-]*|[a-z0-9_-]*\d[a-z0-9_-]*[a-z][a-z0-9_-]*)\b",
)

_ORDERS = f"SELECT source AS order_source, order_id, {_number('order_id')} AS number, created_at AS placed_at, " \
          "customer_key AS buyer FROM orders"

_BY_COLUMN = f"""
    SELECT t.source, t.ticket_id, t.created_at, t.customer_key, o.*, 1 AS rank
    FROM tickets t JOIN ({_ORDERS}) o ON {_number('t.order_id')} = o.number
    WHERE t.order_id IS NOT NULL"""

_TEXT = "lower(concat_ws(' ', subject, tags, description))"
_BY_TEXT = f"""
    SELECT c.source, c.ticket_id, c.created_at, c.customer_key, o.*, 2 AS rank
    FROM (
        SELECT source, ticket_id, created_at, customer_key, unnest(list_distinct(list_concat(
            {", ".join(f"regexp_extract_all({_TEXT}, '{p}', {1 if '(' in p else 0})" for p in TEXT_PATTERNS)}
        ))) AS number
        FROM tickets WHERE coalesce(subject, tags, description) IS NOT NULL
    ) c JOIN ({_ORDERS}) o ON c.number = o.number"""

_BY_CUSTOMER = f"""
    SELECT t.source, t.ticket_id, t.created_at, t.customer_key, o.*, 3 AS rank
    FROM tickets t JOIN ({_ORDERS}) o ON o.buyer = t.customer_key
    WHERE o.placed_at <= t.created_at AND o.placed_at >= t.created_at - to_days($window_days)"""

_LINKS = f"""
    SELECT source, ticket_id, order_source, order_id AS linked_order_id,
           ['{METHODS[0]}', '{METHODS[1]}', '{METHODS[2]}'][rank] AS order_link
    FROM ({_BY_COLUMN} UNION ALL {_BY_TEXT} UNION ALL {_BY_CUSTOMER})
    QUALIFY row_number() OVER (
        PARTITION BY source, ticket_id
        ORDER BY rank, buyer IS NOT DISTINCT FROM customer_key AND buyer IS NOT NULL DESC,
                 placed_at <= created_at DESC, placed_at DESC, order_source, order_id
    ) = 1"""


@dataclass(frozen=True)
class Linked:
    tickets: int
    by_method: dict[str, int]  # order_number | text | customer | none


_NO_LINKS = ("SELECT source, ticket_id, order_source, linked_order_id, order_link FROM tickets "
             "WHERE FALSE AND $window_days IS NOT NULL")


def link(warehouse: Warehouse, window_days: int | None = None) -> Linked:
    """Link every ticket to its order again (see the module's docstring), in one transaction."""
    window = _window(window_days)
    with warehouse.transaction() as cur:
        # without orders no rule finds one: a helpdesk alone skips reading every ticket's text (1 s a million)
        found = _LINKS if cur.execute("SELECT EXISTS (SELECT 1 FROM orders)").fetchone()[0] else _NO_LINKS
        cur.execute("CREATE OR REPLACE TEMP TABLE ticket_links AS " + found, {"window_days": window})
        # the tickets whose link comes, goes, moves to another shop's order of the same number or is found by
        # another rule: the days of the rollup's share of linked tickets, and of the tickets per order value and
        # per link rule (data/contact_rollup.py), that change
        rollups.note_days(cur, "SELECT t.created_local_date, t.solved_local_date FROM tickets t LEFT JOIN "
                               "ticket_links l ON t.source = l.source AND t.ticket_id = l.ticket_id "
                               "WHERE t.linked_order_id IS DISTINCT FROM l.linked_order_id "
                               "OR t.order_source IS DISTINCT FROM l.order_source "
                               "OR t.order_link IS DISTINCT FROM l.order_link")
        cur.execute("UPDATE tickets SET order_source = NULL, linked_order_id = NULL, order_link = NULL "
                    "WHERE order_link IS NOT NULL")
        cur.execute("UPDATE tickets t SET order_source = l.order_source, linked_order_id = l.linked_order_id, "
                    "order_link = l.order_link FROM ticket_links l "
                    "WHERE t.source = l.source AND t.ticket_id = l.ticket_id")
        cur.execute("DROP TABLE ticket_links")
        rollups.bump_version(cur)
        counts = dict(cur.execute("SELECT coalesce(order_link, 'none'), count(*) FROM tickets GROUP BY ALL").fetchall())
        warehouse.set_meta(cur, LINKED_AT_META, _version(cur))
    log.info("linked tickets to orders: %s", counts)
    return Linked(sum(counts.values()), counts)


def link_if_stale(warehouse: Warehouse, window_days: int | None = None) -> Linked | None:
    """Link again when data changed since the last linking (an import, an undo, a cleared demo); else nothing."""
    if warehouse.meta(LINKED_AT_META) == str(warehouse.data_version()):
        return None
    return link(warehouse, window_days)


def _version(cur: duckdb.DuckDBPyConnection) -> str:
    return Warehouse.meta_in(cur, "data_version")  # type: ignore[return-value]  # the migration's first row


def _window(window_days: int | None) -> int:
    if window_days is not None:
        return window_days
    from settings import get_settings  # read only when the caller passes no window (the shell, the dashboard)

    return get_settings().link_window_days
