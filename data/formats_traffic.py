"""Store traffic per day: sessions, carts, checkouts and orders, as Shopify's "Sessions over time" and "Conversion
rate over time" reports, GA4 or a plain CSV export them. The optional input of conversion and cart abandonment.

Days are the shop's local dates: a day is kept as the date the export names, read on the account's clock (or the one
remembered for this source), never moved to UTC. The export's own rate column is not read: rates are recomputed
from the counts, so a period's rate is never an average of daily rates.
"""

from __future__ import annotations

import polars as pl

from data.format_types import Context, Field, Format, Typed


def shape_traffic(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    """One row per local day; a day without a sessions count says nothing and is left out, counted in the notes."""
    frame = typed.frame
    empty = frame.select(pl.col("sessions").is_null().sum()).item()
    if empty:
        typed.notes.append(f"{empty} days have no sessions count; they are left out.")
        frame = frame.filter(pl.col("sessions").is_not_null())
    # The typed date is local midnight moved to naive UTC; moved back it is the day the export named.
    day = pl.col("date").dt.replace_time_zone("UTC").dt.convert_time_zone(ctx.tz).dt.date()
    counts = [pl.col(c) if c in frame.columns else pl.lit(None, pl.Int64).alias(c) for c in COUNTS]
    traffic = frame.select(day.alias("date"), *counts)
    return {"traffic": traffic.with_columns(pl.col("date").cast(pl.Datetime("us")).alias("updated_at"))}


COUNTS = ("sessions", "carts", "checkouts", "orders")

TRAFFIC = Format(
    source="traffic",
    kind="traffic",
    label="Store traffic (sessions, carts, checkouts, orders)",
    signature=("sessions",),
    fields=(
        Field("date", ("day", "date", "week", "month"), "timestamp", required=True),
        Field("sessions", ("sessions",), "int", required=True),
        # Shopify's report headers, its ShopifyQL names, its admin's labels, GA4's, then the plain mapped names
        Field("carts", ("sessions with cart additions", "sessions_with_cart_additions", "added to cart",
                        "add to carts", "carts"), "int"),
        Field("checkouts", ("sessions that reached checkout", "sessions_that_reached_checkout", "reached checkout",
                            "checkouts started", "checkouts"), "int"),
        Field("orders", ("sessions that completed checkout", "sessions_that_completed_checkout", "sessions converted",
                         "purchases", "orders"), "int"),
    ),
    shape=shape_traffic,
)
