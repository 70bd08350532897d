"""Synthetic tickets for benchmarks, straight from numpy: millions of rows in seconds, seeded.

Two years of tickets (2024-01-01 .. 2025-12-31 UTC) with a growth trend, busier weekdays and working hours,
channel-dependent lognormal reply and resolution times, timestamps consistent with the minute columns, about 10%
still open (mostly the newest), surveys, NPS answers, tags, groups and agents. Not the demo generator: that one
models a store and its orders and is far too slow for ten million tickets.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data.taxonomy import CATEGORIES, CHANNELS, PRIORITIES

START = np.datetime64("2024-01-01T00:00:00", "us")
DAYS = 731  # 2024 is a leap year: 2024-01-01 .. 2025-12-31
END = START + np.timedelta64(DAYS, "D")
MINUTE_US = 60_000_000

GROUPS = ("Support", "Billing", "Tier 2", "Escalations", "Returns desk")
TAGS = ("vip", "escalated", "auto_closed", "Escalated vip", "refund,vip", "bot;shipping", "tier2",
        "escalation-review", "follow_up", "AUTO_CLOSED  wismo")
RATINGS = ("offered", "good", "bad")

# channel -> (log-mean of first reply minutes, log-mean of resolution minutes); chat and phone are fast
SPEED = {"email": (5.5, 7.6), "chat": (0.3, 4.0), "phone": (0.0, 3.5), "social": (4.5, 7.0), "web": (5.6, 7.7),
         "other": (5.8, 7.8)}


def tickets(rows: int, seed: int = 7) -> pl.DataFrame:
    """``rows`` tickets in the warehouse's canonical columns (those not given stay NULL on import)."""
    rng = np.random.default_rng(seed)
    # in creation order, as a helpdesk numbers its tickets and lists them in an export
    created = np.sort(_created(rng, rows))
    channel = rng.choice(len(CHANNELS), rows, p=[0.42, 0.25, 0.08, 0.08, 0.15, 0.02])
    reply_mu = np.array([SPEED[c][0] for c in CHANNELS])[channel]
    solve_mu = np.array([SPEED[c][1] for c in CHANNELS])[channel]

    # first reply: most tickets get one, a few are closed without a reply
    replied = rng.random(rows) < 0.96
    reply_us = _minutes_us(rng.lognormal(reply_mu, 1.4))
    # resolution after the reply; the last solve can follow a reopen
    full_us = reply_us + _minutes_us(rng.lognormal(solve_mu, 1.3))
    reopens = rng.poisson(0.12, rows).astype(np.int32)
    first_us = np.where(reopens > 0, (full_us * rng.uniform(0.2, 0.9, rows)).astype(np.int64), full_us)
    first_us = np.maximum(first_us, np.where(replied, reply_us, 0))
    solved_at = created + full_us.astype("timedelta64[us]")
    # ~10% open: a random few, and every ticket whose solve would fall after the data's end
    open_ = (rng.random(rows) < 0.09) | (solved_at >= END)
    reply_at = created + reply_us.astype("timedelta64[us]")
    replied &= reply_at < END
    updated = np.where(open_, np.where(replied, reply_at, created), solved_at)

    agent_replies = np.where(replied, 1 + rng.poisson(0.9, rows), 0).astype(np.int32)
    satisfaction = _surveys(rng, rows, open_)
    nps = np.where(rng.random(rows) < 0.04, rng.choice(12, rows, p=[*[0.03] * 7, 0.1, 0.15, 0.25, 0.26, 0.03]), -1)
    tags = np.where(rng.random(rows) < 0.3, rng.integers(0, len(TAGS), rows), -1)
    assignee = np.where(rng.random(rows) < 0.05, -1, rng.zipf(1.6, rows) % 40)
    frame = pl.DataFrame({
        "ticket_id": pl.int_range(0, rows, eager=True).cast(pl.String).str.zfill(9),
        "created_at": created,
        "updated_at": updated,
        "first_reply_at": _masked(reply_at, ~replied),
        "first_solved_at": _masked(created + first_us.astype("timedelta64[us]"), open_),
        "solved_at": _masked(solved_at, open_),
        "status": _pick(("solved", "closed", "open", "pending", "new", "hold"),
                        np.where(open_, rng.choice([2, 3, 4, 5], rows, p=[0.5, 0.3, 0.1, 0.1]),
                                 rng.integers(0, 2, rows))),
        "channel": _pick(CHANNELS, np.where(rng.random(rows) < 0.005, -1, channel)),
        "priority": _pick(PRIORITIES, np.where(rng.random(rows) < 0.02, -1,
                                               rng.choice(len(PRIORITIES), rows, p=[0.25, 0.55, 0.15, 0.05]))),
        "category": _pick(tuple(CATEGORIES), rng.integers(0, len(CATEGORIES), rows)),
        "group_name": _pick(GROUPS, np.where(rng.random(rows) < 0.04, -1,
                                             rng.choice(len(GROUPS), rows, p=[0.6, 0.15, 0.1, 0.05, 0.1]))),
        "assignee": _pick(tuple(f"agent{k:02d}" for k in range(40)), assignee),
        "agent_replies": pl.Series(agent_replies).set(pl.Series(rng.random(rows) < 0.03), None),
        "reopens": pl.Series(reopens).set(pl.Series(rng.random(rows) < 0.03), None),
        "first_reply_minutes": _masked_minutes(reply_us, ~replied),
        "first_resolution_minutes": _masked_minutes(first_us, open_),
        "full_resolution_minutes": _masked_minutes(full_us, open_),
        # the helpdesk's own business-hour figures (its holidays) for a fifth of the tickets
        "first_reply_business_minutes": _masked_minutes(reply_us // 3, ~replied | (rng.random(rows) < 0.8)),
        "full_resolution_business_minutes": _masked_minutes(full_us // 4, open_ | (rng.random(rows) < 0.8)),
        "requester_wait_minutes": _masked_minutes((full_us * rng.uniform(0.3, 1.0, rows)).astype(np.int64),
                                                  open_ | (rng.random(rows) < 0.1)),
        **satisfaction,
        "tags": _pick(TAGS, tags),
        "nps_score": pl.Series(nps.astype(np.int16)).set(pl.Series(nps < 0), None),
    })
    return frame.with_columns(source=pl.lit("bench"))


def _created(rng: np.random.Generator, rows: int) -> np.ndarray:
    day = np.arange(DAYS)
    weight = (1 + day / DAYS) * np.where((day % 7) < 5, 1.0, 0.6)  # 2024-01-01 is a Monday
    hour_weight = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1.5])
    days = rng.choice(DAYS, rows, p=weight / weight.sum())
    hours = rng.choice(24, rows, p=hour_weight / hour_weight.sum())
    seconds = days * 86_400 + hours * 3_600 + rng.integers(0, 3_600, rows)
    return START + (seconds * 1_000_000).astype("timedelta64[us]")


def _minutes_us(minutes: np.ndarray) -> np.ndarray:
    """Whole seconds, as microseconds: the minute columns then match the timestamps exactly."""
    return (np.round(minutes * 60) * 1_000_000).astype(np.int64)


def _masked(values: np.ndarray, missing: np.ndarray) -> pl.Series:
    return pl.Series(values).set(pl.Series(missing), None)


def _masked_minutes(us: np.ndarray, missing: np.ndarray) -> pl.Series:
    return pl.Series(us / MINUTE_US).set(pl.Series(missing), None)


def _pick(vocabulary: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """Strings from a small vocabulary by code; -1 is NULL."""
    codes = pl.Series(codes.astype(np.int32))
    return pl.Series(list(vocabulary), dtype=pl.String).gather(codes.set(codes < 0, None))


def _surveys(rng: np.random.Generator, rows: int, open_: np.ndarray) -> dict[str, pl.Series]:
    """A survey is offered on 40% of solved tickets and answered on 45% of those; some helpdesks send a 1-5
    score, some only Good/Bad, and a few a score beside a rating."""
    offered = ~open_ & (rng.random(rows) < 0.4)
    answered = offered & (rng.random(rows) < 0.45)
    score = rng.choice([1, 2, 3, 4, 5], rows, p=[0.08, 0.05, 0.1, 0.27, 0.5])
    kind = rng.random(rows)  # < 0.5 rating only, < 0.8 score only, else both
    rating = np.where(answered, np.where(score >= 4, 1, 2), np.where(offered, 0, -1))
    rating = np.where(answered & (kind >= 0.5) & (kind < 0.8), -1, rating)
    has_score = answered & (kind >= 0.5)
    return {"satisfaction_rating": _pick(RATINGS, rating),
            "satisfaction_score": pl.Series(score.astype(np.int16)).set(pl.Series(~has_score), None)}


SKUS = tuple(f"SKU-{k:03d}" for k in range(60))
SHIPPING = ("Standard", "Express", "Pickup", "Economy")


def orders(rows: int, seed: int = 11) -> dict[str, pl.DataFrame]:
    """``rows`` orders of a shop over the same two years, and their 1-4 line items: customers come back (about
    one order in three is a repeat), a few pay in euros, 6% are refunded in part or whole, most are fulfilled
    within days, 1% cancelled."""
    rng = np.random.default_rng(seed)
    created = np.sort(_created(rng, rows))
    customers = max(rows * 2 // 3, 1)
    currency = np.where(rng.random(rows) < 0.1, "EUR", "USD")
    total_cents = np.round(rng.lognormal(4.2, 0.7, rows) * 100).astype(np.int64)
    refunded = rng.random(rows) < 0.06
    refund_cents = np.where(refunded, (total_cents * rng.choice([0.3, 0.5, 1.0], rows)).astype(np.int64), 0)
    fulfilled = rng.random(rows) < 0.95
    fulfilled_at = created + _minutes_us(rng.lognormal(7.0, 0.8, rows)).astype("timedelta64[us]")
    cancelled = ~fulfilled & (rng.random(rows) < 0.2)
    ids = pl.int_range(1, rows + 1, eager=True).cast(pl.String)
    frame = pl.DataFrame({
        "order_id": ids,
        "created_at": created,
        "customer_key": pl.Series(rng.integers(1, customers + 1, rows).astype(np.uint64)),
        "currency": currency,
        "total": pl.Series(total_cents / 100).cast(pl.Decimal(18, 2)),
        "gross_sales": pl.Series(total_cents / 100).cast(pl.Decimal(18, 2)),
        "refunded_amount": pl.Series(refund_cents / 100).cast(pl.Decimal(18, 2)),
        "financial_status": np.where(refunded, np.where(refund_cents == total_cents, "refunded",
                                                        "partially_refunded"), "paid"),
        "fulfillment_status": np.where(fulfilled, "fulfilled", "unfulfilled"),
        "fulfilled_at": _masked(fulfilled_at, ~fulfilled | (fulfilled_at >= END)),
        "cancelled_at": _masked(created + np.timedelta64(3, "h"), ~cancelled),
        "shipping_method": _pick(SHIPPING, rng.choice(len(SHIPPING), rows, p=[0.6, 0.2, 0.1, 0.1])),
    }).with_columns(source=pl.lit("bench-shop"))
    per_order = rng.choice([1, 2, 3, 4], rows, p=[0.55, 0.25, 0.13, 0.07])
    order = np.repeat(np.arange(rows), per_order)
    line_number = np.arange(len(order)) - np.repeat(np.cumsum(per_order) - per_order, per_order) + 1
    lines = pl.DataFrame({
        "order_id": ids.gather(pl.Series(order)),
        "line_number": line_number.astype(np.int32),
        "sku": _pick(SKUS, rng.integers(0, len(SKUS), len(order))),
        "quantity": rng.choice([1, 2, 3], len(order), p=[0.8, 0.15, 0.05]).astype(np.int32),
        "price": pl.Series(np.round(rng.lognormal(3.3, 0.6, len(order)), 2)).cast(pl.Decimal(18, 2)),
        "currency": currency[order],
    }).with_columns(source=pl.lit("bench-shop"), product_name=pl.col("sku"))
    return {"orders": frame, "order_lines": lines}


LINKED = 0.4  # of tickets about an order, as a store's helpdesk has them
BY_NUMBER = 0.75  # of those, the order number in the ticket's own column; the others found by their customer alone
LINK_DAYS = 14  # an order a ticket is about was placed at most this long before it (within the linking window)


def about_orders(created: np.ndarray, orders: pl.DataFrame, seed: int = 13) -> pl.DataFrame:
    """For tickets created at ``created`` (naive UTC), the columns a helpdesk export gives about their orders
    (``order_id``, ``customer_key``), for data/linking.py to link after the import as it would a store's. ``orders``
    as :func:`orders` makes them, sorted by ``created_at``. LINKED of the tickets are about an order placed up to
    LINK_DAYS before them and come from its customer; BY_NUMBER of those name it in their order-number column, the
    others are linked by their customer (to that customer's newest order in the window); every other ticket comes
    from someone who never ordered. A pure function of its inputs: bench/trends.py applies it to a kept warehouse's
    rows to link one made before it."""
    rng = np.random.default_rng(seed)
    rows = len(created)
    placed = orders["created_at"].to_numpy()
    asked_about = created - (rng.integers(0, LINK_DAYS * 86_400, rows) * 1_000_000).astype("timedelta64[us]")
    index = np.searchsorted(placed, asked_about, side="right") - 1  # the newest order placed by then
    linked = (rng.random(rows) < LINKED) & (index >= 0)
    named = linked & (rng.random(rows) < BY_NUMBER)
    index = np.maximum(index, 0)
    buyers = orders["customer_key"].to_numpy().astype(np.uint64)
    strangers = buyers.max() + np.uint64(1) + rng.integers(0, max(rows, 1), rows).astype(np.uint64)
    return pl.DataFrame({
        "order_id": orders["order_id"].gather(pl.Series(index)).set(pl.Series(~named), None),
        "customer_key": pl.Series(np.where(linked, buyers[index], strangers)),
    })
