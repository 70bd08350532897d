"""What customers complain about: category shares and volumes, which categories are rising, and what in the orders
(products, vendors, shipping methods, discount codes) the complaints attach to.

Same rules as ``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import polars as pl

from data import complaint_rollup, contact_rollup, line_facts, rollups
from data.clock import rollup_holds
from metrics.orders import IN_HELD_FILTERS, contact_rollup_serves, placed_in_view, placed_per_value
from metrics.query import (
    Filters,
    data_range,
    dimension_filter,
    ends_before_every_row,
    execute,
    in_view,
    on_shared_days,
    query,
    shown_local,
    ticket_reaches_order,
)
from settings import Settings

UNCATEGORISED = "uncategorised"
# what an order-side breakdown joins on, and whether it is per order or per unit sold
ORDER_DIMENSIONS: dict[str, tuple[str, str]] = {
    "sku": ("order_lines", "units"),
    "vendor": ("order_lines", "units"),
    "shipping_method": ("orders", "orders"),
    "discount_code": ("orders", "orders"),
}


# The view's days and filters on the complaint rollup's rows, which carry the tickets' filter columns.
_IN_ROLLUP = f"day >= $start::DATE AND day < $end_excl::DATE AND {dimension_filter('tickets')}"


def complaint_rollup_serves(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """The complaint rollup (data/complaint_rollup.py) holds the data as it is now, in local days of the settings'
    clock. It holds every ticket filter as a key, so it serves any view."""
    return rollup_holds(cur, rollups.COMPLAINTS, settings)


def _view_counts(cur: duckdb.DuckDBPyConnection, by: str, settings: Settings, rollup: bool) -> str:
    """SQL: the view's tickets (``tickets``) per ``by`` (ticket columns the complaint rollup holds, and
    ``created_local_date``): its days' counts added up where it serves (unless ``rollup`` is False), else the rows
    counted."""
    if rollup and complaint_rollup_serves(cur, settings):
        return (f"SELECT {by}, sum(tickets)::BIGINT AS tickets FROM (SELECT *, day AS created_local_date "
                f"FROM {complaint_rollup.TABLE} WHERE {_IN_ROLLUP}) GROUP BY ALL")
    return f"SELECT {by}, count(*) AS tickets FROM tickets WHERE {in_view('created_at')} GROUP BY ALL"


def _newest_days_holding(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, count: str,
                         where: str, limit: int, **params: object) -> Filters:
    """The view from the latest day on which the days up to its end hold at least ``limit`` of the tickets ``count``
    sums up (a column of the complaint rollup, over its rows that meet ``where``): a list of the newest ``limit`` of
    them reads those days only. The view itself where they hold fewer."""
    sql = f"""SELECT max(day) FROM (SELECT day, sum(tickets) OVER (ORDER BY day DESC) AS held
              FROM (SELECT day, sum({count}) AS tickets FROM {complaint_rollup.TABLE}
                    WHERE {_IN_ROLLUP} AND {where} GROUP BY day)) WHERE held >= {int(limit)}"""
    since: date | None = execute(cur, sql, filters, settings, **params).item()
    return filters if since is None else replace(filters, start=since)


@dataclass(frozen=True)
class RisingTest:
    """A category is rising when its last week's tickets stand ``z`` standard deviations above the mean of the
    ``weeks`` weeks before it (and it has at least ``min_tickets`` that week, so 0 -> 2 is not news)."""

    weeks: int = 8
    z: float = 3.0
    min_tickets: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> RisingTest:
        return cls(weeks=settings.rising_weeks, z=settings.rising_z, min_tickets=settings.rising_min)

    def describe(self) -> str:
        return (f"Rising: the last 7 days hold at least {self.min_tickets} tickets and stand at least {self.z:g} "
                f"standard deviations above the mean of the {self.weeks} weeks before (z-score; a category "
                "without any spread in those weeks needs only to exceed their mean).")


def category_shares(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> pl.DataFrame:
    """Tickets per category (``by_value``) in the view and in the period of the same length just before it
    (``before``), each category's ``share`` of the view's tickets and the ``change`` in tickets. Categories without
    tickets in the view are left out; the largest first (ties by category). Where the helpdesk export does not reach
    into the period before, ``before`` and ``change`` are unknown (NULL), not a rise from 0."""
    def count(period: Filters, name: str) -> pl.DataFrame:
        frame = query(cur, ["tickets_created"], period, by="category", settings=settings)
        return frame.select("by_value", pl.col("tickets_created").alias(name))

    previous = filters.previous()
    # before every ticket: unknown in every category without a statement, as before a view over the whole data
    before = (pl.DataFrame(schema={"by_value": pl.String, "before": pl.Int64})
              if ends_before_every_row(cur, ["tickets_created"], previous, settings) else count(previous, "before"))
    table = count(filters, "tickets").join(before, on="by_value", how="left")
    return table.filter(pl.col("tickets") > 0).with_columns(
        share=pl.col("tickets") / pl.col("tickets").sum(),
        change=pl.col("tickets") - pl.col("before"),  # NULL where the export does not reach the period before
    ).sort(["tickets", "by_value"], descending=[True, False])


def weekly_counts(cur: duckdb.DuckDBPyConnection, filters: Filters, weeks: int, settings: Settings, *,
                  rollup: bool = True) -> pl.DataFrame:
    """Tickets per category in the 7-day windows ending on the view's last day (week 0) and ``weeks`` before
    it; every category and week present, zeros included, but for weeks that end before the helpdesk export's first
    ticket: their count is unknown, not 0, so they are left out of the baseline. Counted in the complaint rollup's
    days where it serves, unless ``rollup`` is False."""
    span = data_range(cur, settings, ("tickets",))
    if span is not None:  # whole weeks between the export's first day and the view's last
        weeks = max(0, min(weeks, (filters.end - span[0]).days // 7))
    start = filters.end - timedelta(days=7 * (weeks + 1) - 1)
    window = replace(filters, start=start)
    age = "(($end_excl::DATE - created_local_date - 1) // 7)"
    sql = f"""
        WITH counts AS (SELECT coalesce(category, '{UNCATEGORISED}') AS category, {age} AS weeks_ago,
                               sum(tickets)::BIGINT AS tickets
                        FROM ({_view_counts(cur, "category, created_local_date", settings, rollup)}) GROUP BY ALL),
        cells AS (SELECT DISTINCT category, w AS weeks_ago FROM counts CROSS JOIN range({weeks + 1}) r(w))
        SELECT category, weeks_ago::INT AS weeks_ago, coalesce(tickets, 0) AS tickets
        FROM cells LEFT JOIN counts USING (category, weeks_ago) ORDER BY category, weeks_ago"""
    return execute(cur, sql, window, settings)


def rising(weekly: pl.DataFrame, test: RisingTest) -> pl.DataFrame:
    """One row per category: this week, the baseline mean and spread, the z-score and whether it is rising."""
    baseline = weekly.filter(pl.col("weeks_ago") > 0)
    stats = baseline.group_by("category").agg(mean=pl.col("tickets").mean(), std=pl.col("tickets").std(ddof=1))
    now = weekly.filter(pl.col("weeks_ago") == 0).select("category", this_week="tickets")
    frame = now.join(stats, on="category", how="left")
    z = pl.when(pl.col("std") > 0).then((pl.col("this_week") - pl.col("mean")) / pl.col("std"))
    flat_rise = (pl.col("std").fill_null(0) == 0) & (pl.col("this_week") > pl.col("mean"))
    return frame.with_columns(z=z).with_columns(
        is_rising=(pl.col("this_week") >= test.min_tickets) & ((pl.col("z") >= test.z).fill_null(False) | flat_rise)
    ).sort(["is_rising", "z"], descending=True, nulls_last=True)


def by_order_dimension(cur: duckdb.DuckDBPyConnection, filters: Filters, dimension: str,
                       settings: Settings, *, rollup: bool = True) -> pl.DataFrame:
    """Complaints per 1,000 orders (or units sold) for each value of an order-side dimension, per category.

    Tickets reach orders as ``ticket_reaches_order`` says; orders count by order time in the view, tickets by
    creation time, both on the view's days both exports cover (as the contact rate: metrics.orders). A ticket
    about an order of several products counts against each of them, once per value. Returns the dimension's value,
    category, tickets, the orders or units it sold, and the rate. The tickets come from the contact rollup
    (data/contact_rollup.py) where it serves the view, and what sold from the order rollup where it holds the data,
    unless ``rollup`` is False."""
    if dimension not in ORDER_DIMENSIONS:
        raise ValueError(f"dimension must be one of {tuple(ORDER_DIMENSIONS)}, not {dimension!r}")
    table, base = ORDER_DIMENSIONS[dimension]
    if rollup and contact_rollup_serves(cur, filters, settings):
        linked = (f"SELECT value, category, tickets FROM {contact_rollup.TABLE} WHERE dimension = '{dimension}' "
                  f"AND day >= $start::DATE AND day < $end_excl::DATE AND {on_shared_days('day')} "
                  f"AND {IN_HELD_FILTERS}")
    else:
        # tickets without any order number first: the join's coalesce hides from the planner that they reach none
        reaching = (f"coalesce(t.linked_order_id, t.order_id) IS NOT NULL AND {in_view('t.created_at')} "
                    f"AND {on_shared_days('t.created_local_date')}")
        joined = "order_lines l" if table == "order_lines" else "orders l"
        linked = (f"SELECT DISTINCT t.ticket_id, t.source, t.category, l.{dimension} AS value, 1 AS tickets "
                  f"FROM tickets t JOIN {joined} ON {ticket_reaches_order('t', 'l')} WHERE {reaching}")
    complaints = execute(cur, f"""SELECT value, coalesce(category, '{UNCATEGORISED}') AS category,
                                         sum(tickets)::BIGINT AS tickets
                                  FROM ({linked}) WHERE value IS NOT NULL GROUP BY ALL""", filters, settings)
    # what sold only for the values a complaint reaches, as a second statement: in one, the planner joined every
    # order line of the period to its order first (seconds over millions of lines) even where no ticket reached one
    sold = _sold(cur, filters, dimension, complaints["value"].unique().to_list(), settings, rollup=rollup)
    return (complaints.join(sold, on="value").with_columns(per_1000=1000.0 * pl.col("tickets") / pl.col("sold"))
            .with_columns(pl.when(pl.col("sold") > 0).then(pl.col("per_1000")).alias("per_1000"))
            .sort(["per_1000", "tickets"], descending=True, nulls_last=True).with_columns(pl.lit(base).alias("per")))


def _sold(cur: duckdb.DuckDBPyConnection, filters: Filters, dimension: str, values: list[str],
          settings: Settings, *, rollup: bool = True) -> pl.DataFrame:
    """Orders (or units, for a line's dimension) with each of ``values`` ordered in the view's dates: the order
    rollup's days (data/order_rollup.py) added up where it holds the data, unless ``rollup`` is False."""
    table, _ = ORDER_DIMENSIONS[dimension]
    if not values:
        return pl.DataFrame(schema={"value": pl.String, "sold": pl.Float64})
    if rollup and rollup_holds(cur, rollups.ORDERS, settings):
        sql = placed_per_value("units", "list_contains($values, value)")
        return execute(cur, sql, filters, settings, values=values, dimension=dimension).rename(
            {"units": "sold"}).cast({"value": pl.String, "sold": pl.Float64})
    # a line's order time is stored on it (data/line_facts.py): no join to the orders
    ordered = line_facts.ORDER_TIME if table == "order_lines" else "created_at"
    sold = "sum(quantity)" if table == "order_lines" else "count(*)"
    sql = (f"SELECT {dimension} AS value, {sold} AS sold FROM {table} WHERE {placed_in_view(ordered)} "
           f"AND list_contains($values, {dimension}) GROUP BY ALL")
    return execute(cur, sql, filters, settings, values=values).cast({"value": pl.String, "sold": pl.Float64})


def examples(cur: duckdb.DuckDBPyConnection, filters: Filters, category: str, limit: int = 5, *,
             settings: Settings, rollup: bool = True) -> pl.DataFrame:
    """The newest tickets of a category in the view, with where their category came from. Text as stored:
    the caller masks it. Read from the newest days that hold ``limit`` of them, as the complaint rollup counts them
    where it serves (unless ``rollup`` is False), not from every ticket of the view."""
    in_category = f"coalesce(category, '{UNCATEGORISED}') = $example_category"
    if rollup and complaint_rollup_serves(cur, settings):
        filters = _newest_days_holding(cur, filters, settings, "tickets", in_category, limit,
                                       example_category=category)
    sql = shown_local(f"""SELECT ticket_id, source, created_at, subject, description, category_source,
                                 category_confidence
                          FROM tickets WHERE {in_view('created_at')} AND {in_category}
                          ORDER BY created_at DESC, ticket_id LIMIT {int(limit)}""")
    return execute(cur, sql, filters, settings, example_category=category)


# The complaints that point at a cause on each side of an order (the examples: damaged and wrong items
# per product, "where is my order" per carrier).
FOCUS: dict[str, tuple[str, ...]] = {
    "sku": ("damaged_item", "wrong_item", "return"),
    "vendor": ("damaged_item", "wrong_item", "return"),
    "shipping_method": ("shipping_status", "damaged_item"),
    "discount_code": ("discount",),
}


def for_categories(table: pl.DataFrame, categories: tuple[str, ...]) -> pl.DataFrame:
    """``by_order_dimension`` summed over some categories: one row per value, worst rate first."""
    chosen = table.filter(pl.col("category").is_in(list(categories)))
    return (chosen.group_by("value", "per").agg(pl.col("tickets").sum(), pl.col("sold").first())
            .with_columns(per_1000=1000.0 * pl.col("tickets") / pl.col("sold"))
            .sort(["per_1000", "tickets"], descending=True))


def category_counts(cur: duckdb.DuckDBPyConnection, filters: Filters, labels: Mapping[str, str],
                    builtin: Collection[str], settings: Settings) -> list[dict[str, object]]:
    """The view's tickets per category, largest first (ties by category), as ``{category, label, source, tickets}``.

    ``labels`` names every category (the taxonomy's labels and the store's own names, see
    :func:`data.categorising.category_labels`); ``builtin`` are the taxonomy's categories. ``source`` says where the
    category itself comes from: "export" for one of the store's own (its name as exported), "taxonomy" for a
    built-in one, "none" for tickets no source could place."""
    sql = f"""SELECT coalesce(category, '{UNCATEGORISED}') AS category, count(*) AS tickets FROM tickets
              WHERE {in_view('created_at')} GROUP BY ALL ORDER BY tickets DESC, category"""
    rows = execute(cur, sql, filters, settings).iter_rows(named=True)
    return [{"category": row["category"], "label": labels.get(row["category"], row["category"]),
             "source": _category_origin(row["category"], builtin), "tickets": row["tickets"]} for row in rows]


def _category_origin(category: str, builtin: Collection[str]) -> str:
    if category == UNCATEGORISED:
        return "none"
    return "taxonomy" if category in builtin else "export"


def focus_categories(dimension: str, present: Sequence[str], count: int = 3) -> list[str]:
    """The categories first shown against an order-side dimension: those that point at a cause there (``FOCUS``),
    or, for a store whose own categories are none of them, its ``count`` largest (``present`` is largest first)."""
    focus = [category for category in FOCUS[dimension] if category in present]
    return focus or [category for category in present if category != UNCATEGORISED][:count]


def category_sources(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
                     rollup: bool = True) -> pl.DataFrame:
    """How the view's tickets got their category: tickets per source (export, mapping, analyst, rules, model,
    none; "pending" before categorisation ran) and their share of the view. Counted in the complaint rollup's days
    where it serves, unless ``rollup`` is False."""
    sql = f"""SELECT coalesce(category_source, 'pending') AS category_source, sum(tickets)::BIGINT AS tickets,
                     sum(tickets) / sum(sum(tickets)) OVER () AS share
              FROM ({_view_counts(cur, "category_source", settings, rollup)})
              GROUP BY ALL ORDER BY tickets DESC, category_source"""
    return execute(cur, sql, filters, settings)


def placed_by(cur: duckdb.DuckDBPyConnection, filters: Filters, category_source: str, limit: int = 200, *,
              settings: Settings, rollup: bool = True) -> pl.DataFrame:
    """The view's tickets whose category came from ``category_source`` (as ``category_sources`` names it), the least
    sure first: where an analyst's correction pays most. Text as stored: the caller masks it. Where the complaint
    rollup serves (unless ``rollup`` is False), read from the newest days that hold ``limit`` of the tickets that
    sort first, if that many do (:func:`_least_sure_days`)."""
    if rollup and complaint_rollup_serves(cur, settings):
        filters = _least_sure_days(cur, filters, category_source, limit, settings)
    sql = shown_local(f"""SELECT ticket_id, source, created_at, subject,
                                 coalesce(category, '{UNCATEGORISED}') AS category, category_confidence
                          FROM tickets WHERE {in_view('created_at')}
                            AND coalesce(category_source, 'pending') = $category_source
                          ORDER BY category_confidence ASC NULLS FIRST, created_at DESC, ticket_id
                          LIMIT {int(limit)}""")
    return execute(cur, sql, filters, settings, category_source=category_source)


def _least_sure_days(cur: duckdb.DuckDBPyConnection, filters: Filters, category_source: str, limit: int,
                     settings: Settings) -> Filters:
    """The view from the day the ``limit`` least sure tickets of ``category_source`` are found on: they sort by
    confidence (NULL first), then newest first, so where at least ``limit`` tickets share the first confidence
    (none, else the lowest), they are the newest of those, found in the newest days that hold ``limit`` of them.
    The view itself where fewer share it (their confidences differ: every ticket of the view is read)."""
    in_source = "coalesce(category_source, 'pending') = $category_source"
    sql = (f"SELECT sum(unsure) AS unsure, min(least_sure) AS least_sure FROM {complaint_rollup.TABLE} "
           f"WHERE {_IN_ROLLUP} AND {in_source}")
    unsure, least_sure = execute(cur, sql, filters, settings, category_source=category_source).row(0)
    if unsure:  # the tickets without a confidence come first
        return _newest_days_holding(cur, filters, settings, "unsure", in_source, limit,
                                    category_source=category_source)
    if least_sure is None:
        return filters  # no ticket of the source, or none with a confidence: nothing to narrow
    return _newest_days_holding(cur, filters, settings, "at_least_sure", f"{in_source} AND least_sure = $least_sure",
                                limit, category_source=category_source, least_sure=least_sure)
