"""The data-quality checks, declared as data: what each finds and the rows behind it, over the whole warehouse (what
an export got wrong does not depend on the dates a page shows). metrics/quality.py runs them; their counts are
whole-warehouse facts (metrics/facts.py), worked out once per data version."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    why: str  # what it means and what to do, in a sentence
    select: str  # SELECT of the rows behind it, times as stored (UTC)
    order: str  # newest first
    local: tuple[str, ...] = ("created_at",)  # times shown on the account's clock

    @property
    def rows(self) -> str:
        return f"{self.select} ORDER BY {self.order}"


CHECKS = (
    Check("unlinked_tickets", "Tickets linked to no order",
          "No order-number column, no order number in the text and no order of the customer's in the window "
          "before: questions before a purchase, or orders not loaded yet.",
          """SELECT source, ticket_id, created_at, subject, order_id AS order_named
              FROM tickets t WHERE order_link IS NULL""", "t.created_at DESC, t.ticket_id"),
    Check("orders_without_customer", "Orders without a customer",
          "No email or customer id in the export: these orders cannot link to tickets by customer nor count "
          "towards repeat purchases.",
          """SELECT source, order_id, created_at, currency, total
              FROM orders o WHERE customer_key IS NULL""", "o.created_at DESC, o.order_id"),
    Check("duplicated_lines", "Duplicated line rows",
          "The same product, quantity and price twice in one order: a row exported twice, or a real second line; "
          "check the order in the shop before trusting sales by product.",
          """SELECT source, order_id, sku, product_name, quantity, price, count(*) AS copies
              FROM order_lines GROUP BY source, order_id, sku, product_name, quantity, price, currency
              HAVING count(*) > 1""", "copies DESC, source, order_id", ()),
    Check("tickets_before_first_order", "Tickets before the customer's first order",
          "The customer wrote before any order of theirs that is loaded: a pre-sale question, or an orders export "
          "that starts later than the tickets.",
          """SELECT t.source, t.ticket_id, t.created_at, t.subject,
                     f.first_order_at
              FROM tickets t JOIN (SELECT customer_key, min(created_at) AS first_order_at FROM orders
                                   WHERE customer_key IS NOT NULL GROUP BY ALL) f USING (customer_key)
              WHERE t.created_at < f.first_order_at""", "t.created_at DESC, t.ticket_id",
          ("created_at", "first_order_at")),
    Check("impossible_orders", "Impossible order values",
          "A refund above the order's total, or fulfilled before it was placed: kept, but worth checking in the "
          "shop (a refund of shipping or a fulfilment clock in another time zone).",
          """SELECT source, order_id, created_at, fulfilled_at, currency, total, refunded_amount,
                     concat_ws('; ', CASE WHEN refunded_amount > total THEN 'refund above total' END,
                               CASE WHEN o.fulfilled_at < o.created_at THEN 'fulfilled before created' END) AS problem
              FROM orders o WHERE refunded_amount > total OR o.fulfilled_at < o.created_at""",
          "o.created_at DESC, o.order_id", ("created_at", "fulfilled_at")),
)
BY_NAME = {check.name: check for check in CHECKS}


def count_of(check: Check) -> str:
    """SQL: how many rows the check finds."""
    return f"(SELECT count(*) FROM ({check.select}))"
