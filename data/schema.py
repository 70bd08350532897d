"""The canonical warehouse schema, declared once as data.

Every reader (demo generator, helpdesk and order exports) produces frames with these columns; the warehouse
creates its tables from the same declaration. Timestamps are naive ``TIMESTAMP`` values in UTC; money is
``DECIMAL(18, 2)`` beside a ``currency`` column; customer identity is a salted hash, never an email.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_SOURCE = "demo"  # the source of the demo store's rows: here, so that a page can ask for it without the generator

# Why a ticket's durations are kept out of the KPIs (its `data_issues`), and the durations each reason spoils, on
# both clocks: metrics/registry.py keeps a business-hours KPI out by these reasons, whichever column it came from.
# Here, not with the checks in data/format_types.py, so that the KPIs do not import the file readers.
FIRST_REPLY_BEFORE_CREATION = "first reply before creation"
RESOLVED_BEFORE_CREATED = "resolved before created"
RESOLVED_BEFORE_FIRST_REPLY = "resolved before first reply"
RESOLUTION_MINUTES = ("first_resolution_minutes", "full_resolution_minutes", "full_resolution_business_minutes")
ISSUE_SPOILS: dict[str, tuple[str, ...]] = {
    FIRST_REPLY_BEFORE_CREATION: ("first_reply_minutes", "first_reply_business_minutes"),
    RESOLVED_BEFORE_CREATED: RESOLUTION_MINUTES,
    RESOLVED_BEFORE_FIRST_REPLY: RESOLUTION_MINUTES,
}


@dataclass(frozen=True)
class Table:
    """A canonical table. A column added after the table's first schema version is declared at the end as
    ``(name, type, version)``; migrations are derived from these numbers, so old warehouses upgrade in place."""

    name: str
    columns: tuple[tuple[str, str] | tuple[str, str, int], ...]
    key: tuple[str, ...]
    required: tuple[str, ...]
    since: int = 1
    # Columns CS Pulse computes after an import: a re-import neither compares nor keeps them, so it leaves them
    # to be worked out again from what the export now says.
    derived: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [column[0] for column in self.columns]

    def columns_in(self, version: int) -> list[tuple[str, str]]:
        """The columns this table has at a schema version."""
        return [(c[0], c[1]) for c in self.columns if (c[2] if len(c) > 2 else self.since) <= version]

    def added_in(self, version: int) -> list[tuple[str, str]]:
        return [(c[0], c[1]) for c in self.columns if len(c) > 2 and c[2] == version]

    @property
    def types(self) -> dict[str, str]:
        return {c[0]: c[1] for c in self.columns}


TICKETS = Table(
    name="tickets",
    columns=(
        ("source", "VARCHAR"),
        ("ticket_id", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"),
        ("first_reply_at", "TIMESTAMP"),
        ("first_solved_at", "TIMESTAMP"),
        ("solved_at", "TIMESTAMP"),
        ("status", "VARCHAR"),  # new | open | pending | hold | solved | closed
        ("channel", "VARCHAR"),  # email | chat | phone | social | web | other
        ("priority", "VARCHAR"),  # low | normal | high | urgent
        ("category", "VARCHAR"),  # a taxonomy slug, or the slug of the store's own category
        ("group_name", "VARCHAR"),
        ("assignee", "VARCHAR"),
        ("subject", "VARCHAR"),
        ("description", "VARCHAR"),
        ("customer_key", "UBIGINT"),  # first 64 bits of the salted sha256 of the normalised email
        ("order_id", "VARCHAR"),
        ("agent_replies", "INTEGER"),
        ("reopens", "INTEGER"),
        ("first_reply_minutes", "DOUBLE"),
        ("first_reply_business_minutes", "DOUBLE"),
        ("first_resolution_minutes", "DOUBLE"),
        ("full_resolution_minutes", "DOUBLE"),
        ("full_resolution_business_minutes", "DOUBLE"),
        ("requester_wait_minutes", "DOUBLE"),
        ("satisfaction_rating", "VARCHAR"),  # offered | good | bad (NULL: not offered)
        ("satisfaction_score", "SMALLINT"),  # 1-5 where the source rates on a scale
        ("import_id", "VARCHAR"),
        ("tags", "VARCHAR", 2),  # as exported, space- or comma-separated
        ("data_issues", "VARCHAR", 2),  # why a value was kept out of the KPIs, e.g. "resolved before created"
        ("nps_score", "SMALLINT", 3),  # 0-10 "how likely to recommend", where the export has it
        ("category_exported", "VARCHAR", 3),  # the export's own category, type or custom field, as exported
        # Derived by data/categorising.py after each import, never by a reader, like `category` above
        ("category_source", "VARCHAR", 3),  # export | mapping | rules | model | analyst | none; NULL: pending
        ("category_confidence", "DOUBLE", 3),  # 0-1; 1 for a category the export, a mapping or an analyst gave
        ("order_source", "VARCHAR", 4),  # the linked order's source
        ("linked_order_id", "VARCHAR", 4),  # the order this ticket is about (see data/linking.py)
        ("order_link", "VARCHAR", 4),  # how: order_number | text | customer; NULL: no order found
        # Derived by data/clock.py in each import's transaction, on the account's clock (time zone and business
        # hours) that warehouse_meta records: what every query groups by, read instead of converting every row
        ("created_local_at", "TIMESTAMP", 6),  # created_at on the account's wall clock
        ("created_local_date", "DATE", 6),
        ("created_local_hour", "SMALLINT", 6),  # 0-23
        ("created_local_isodow", "SMALLINT", 6),  # 1 = Monday .. 7 = Sunday
        ("solved_local_date", "DATE", 6),
        # on the configured schedule, where the export gives no business minutes of its own (NULL where it does)
        ("first_reply_business_minutes_computed", "DOUBLE", 6),
        ("first_resolution_business_minutes_computed", "DOUBLE", 6),
        ("full_resolution_business_minutes_computed", "DOUBLE", 6),
        # Derived by data/tags.py in each import's transaction: the tags split into lower-case words
        ("tag_list", "VARCHAR[]", 7),
    ),
    key=("source", "ticket_id"),
    required=("source", "ticket_id", "created_at"),
    derived=("category", "category_source", "category_confidence", "order_source", "linked_order_id",
             "order_link", "created_local_at", "created_local_date", "created_local_hour", "created_local_isodow",
             "solved_local_date", "first_reply_business_minutes_computed",
             "first_resolution_business_minutes_computed", "full_resolution_business_minutes_computed",
             "tag_list"),
)

ORDERS = Table(
    name="orders",
    columns=(
        ("source", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"),
        ("customer_key", "UBIGINT"),
        ("currency", "VARCHAR"),
        ("gross_sales", "DECIMAL(18,2)"),  # sum of line price x quantity, before discounts
        ("discounts", "DECIMAL(18,2)"),
        ("shipping", "DECIMAL(18,2)"),
        ("taxes", "DECIMAL(18,2)"),
        ("total", "DECIMAL(18,2)"),
        ("refunded_amount", "DECIMAL(18,2)"),
        ("financial_status", "VARCHAR"),  # paid | refunded | partially_refunded | pending | voided
        ("fulfillment_status", "VARCHAR"),  # fulfilled | partial | unfulfilled
        ("fulfilled_at", "TIMESTAMP"),
        ("cancelled_at", "TIMESTAMP"),
        ("shipping_method", "VARCHAR"),
        ("discount_code", "VARCHAR"),
        ("import_id", "VARCHAR"),
        ("country", "VARCHAR", 4),  # where the order ships to (Shopify's shipping, else billing country); no address
        ("sales_channel", "VARCHAR", 4),  # as the shop names it (Shopify's Source: web, pos, an app's id)
        ("created_local_date", "DATE", 6),  # on the account's clock, by data/clock.py like the tickets' own
        ("fulfilled_local_date", "DATE", 6),
        # Derived by data/order_sequence.py in each write's transaction: the order's neighbours among the same
        # customer's orders, what the repeat purchase rate and retention count by
        ("customer_previous_at", "TIMESTAMP", 8),
        ("customer_second_previous_at", "TIMESTAMP", 8),
        ("kept_previous_at", "TIMESTAMP", 8),  # of not cancelled orders only
        ("kept_next_at", "TIMESTAMP", 8),
        ("customer_previous_local_date", "DATE", 8),  # on the account's clock, by data/clock.py
        ("customer_second_previous_local_date", "DATE", 8),
    ),
    key=("source", "order_id"),
    required=("source", "order_id", "created_at", "currency"),
    derived=("created_local_date", "fulfilled_local_date", "customer_previous_at", "customer_second_previous_at",
             "kept_previous_at", "kept_next_at", "customer_previous_local_date",
             "customer_second_previous_local_date"),
)

ORDER_LINES = Table(
    name="order_lines",
    columns=(
        ("source", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("line_number", "INTEGER"),
        ("sku", "VARCHAR"),
        ("product_name", "VARCHAR"),
        ("vendor", "VARCHAR"),
        ("quantity", "INTEGER"),
        ("price", "DECIMAL(18,2)"),
        ("currency", "VARCHAR"),
        ("import_id", "VARCHAR"),
        # Derived by data/line_facts.py in each write's transaction, what a period's lines are counted by without
        # joining them to their orders: the order's created_at (UTC), and whether the line is the order's first
        # (by line number) with its SKU, and with its vendor
        ("order_created_at", "TIMESTAMP", 9),
        ("first_of_sku", "BOOLEAN", 9),
        ("first_of_vendor", "BOOLEAN", 9),
    ),
    key=("source", "order_id", "line_number"),
    required=("source", "order_id", "line_number"),
    derived=("order_created_at", "first_of_sku", "first_of_vendor"),
)

# Marketplace reviews (Olist): a CSAT-like signal tied to an order rather than to a ticket.
REVIEWS = Table(
    name="reviews",
    columns=(
        ("source", "VARCHAR"),
        ("review_id", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"),
        ("score", "SMALLINT"),  # 1-5
        ("title", "VARCHAR"),
        ("message", "VARCHAR"),
        ("import_id", "VARCHAR"),
    ),
    key=("source", "review_id", "order_id"),
    required=("source", "review_id", "order_id", "created_at"),
    since=2,
)

# Who was scheduled to work when: one row per agent shift, as a workforce tool or a spreadsheet exports it.
ROSTER = Table(
    name="roster",
    columns=(
        ("source", "VARCHAR"),
        ("agent", "VARCHAR"),
        ("starts_at", "TIMESTAMP"),
        ("ends_at", "TIMESTAMP"),
        ("channel", "VARCHAR"),  # the channel the shift serves; NULL: any
        ("updated_at", "TIMESTAMP"),
        ("import_id", "VARCHAR"),
    ),
    key=("source", "agent", "starts_at"),
    required=("source", "agent", "starts_at", "ends_at"),
    since=3,
)

# Store traffic per day (Shopify "Sessions over time" / "Conversion rate over time", GA4, or a mapped file): what
# conversion and cart abandonment rest on. ``date`` is the shop's local day as exported, never moved to UTC.
TRAFFIC = Table(
    name="traffic",
    columns=(
        ("source", "VARCHAR"),
        ("date", "DATE"),
        ("sessions", "BIGINT"),
        ("carts", "BIGINT"),  # sessions with an item added to the cart; NULL: the export does not say
        ("checkouts", "BIGINT"),  # sessions that reached checkout; NULL: the export does not say
        ("orders", "BIGINT"),  # sessions that completed checkout (converted); NULL: the export does not say
        ("updated_at", "TIMESTAMP"),  # the day itself: a newer export of the same day replaces its numbers
        ("import_id", "VARCHAR"),
    ),
    key=("source", "date"),
    required=("source", "date", "sessions"),
    since=4,
)

FACT_TABLES: dict[str, Table] = {t.name: t for t in (TICKETS, ORDERS, ORDER_LINES, REVIEWS, ROSTER, TRAFFIC)}
