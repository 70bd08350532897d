"""The order KPIs the Orders page's tiles read, from the order rollup's day tables (data/order_rollup.py) instead of
every order: exactly what the KPI's SQL gives over the orders' rows (tests/test_order_parts.py compares them).

A KPI is served only where its declaration is word for word the one written here (:data:`DECLARED`): a changed KPI
reads raw rows until its parts are written for it. The sources a whole-table list names (the exports that record
refunds) are worked out when the parts are read, over their ``source`` column, as over the orders' rows. The late
share reads the fulfilment lag's bucket counts and the values of the one bucket the target falls in; the repeat
purchase rate the orders counted by their customer's order before them, so that any period's first day works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from data.order_rollup import (
    BUCKETS_TABLE,
    CUSTOMERS_TABLE,
    LAG,
    ORDER_VALUE,
    PARTS_TABLE,
    SALES,
    VALID,
    VALUES_TABLE,
)
from data.rollups import bucket
from metrics.registry import PERIOD_START, Metric

_MEASURED = "list_contains((SELECT list(DISTINCT source) FROM orders WHERE refunded_amount IS NOT NULL), source)"
_REFUNDED = f"CASE WHEN refunded_amount > 0 THEN TRUE WHEN {_MEASURED} THEN FALSE END"
_FIRST = (f"customer_key IS NOT NULL AND NOT coalesce(customer_previous_local_date >= {PERIOD_START}, FALSE)")
_SECOND = (f"customer_previous_local_date >= {PERIOD_START} "
           f"AND NOT coalesce(customer_second_previous_local_date >= {PERIOD_START}, FALSE)")


@dataclass(frozen=True)
class Served:
    source: str  # which of the rollup's tables: "parts", "late" or "customers" (:func:`_sources`)
    value: str  # SQL over its columns, per period (and currency)
    sample: str


# (time column, per currency, the KPI's SQL, its sample) as metrics.registry declares it -> the same over the parts.
_N = "sum(n)::BIGINT"
_REFUND_SAMPLE = f"sum(CASE WHEN {_MEASURED} THEN n ELSE refunded END)::BIGINT"
_NOT_BEFORE_START = f"NOT coalesce(before >= {PERIOD_START}, FALSE)"
_FIRSTS = f"coalesce(sum(n) FILTER (WHERE kind = 'previous' AND {_NOT_BEFORE_START}), 0)::BIGINT"
# the orders whose second before is not in the period either: the customers' first and second orders in it
_FIRST_TWO = f"coalesce(sum(n) FILTER (WHERE kind = 'second' AND {_NOT_BEFORE_START}), 0)::BIGINT"
DECLARED: dict[tuple[str, bool, str, str], Served] = {
    ("created_at", False, "count(*)", "count(*)"): Served("parts", _N, _N),
    ("created_at", False, f"avg(({_REFUNDED})::INT)", f"count({_REFUNDED})"):
        Served("parts", f"sum(refunded)::DOUBLE / nullif({_REFUND_SAMPLE}, 0)", _REFUND_SAMPLE),
    ("fulfilled_at", False, "count(*)", "count(*)"): Served("parts", _N, _N),
    ("created_at", True, f"sum({SALES} - coalesce(refunded_amount, 0)) FILTER (WHERE {_MEASURED})", "count(*)"):
        Served("parts", f"sum(net_sum) FILTER (WHERE {_MEASURED})", _N),
    # avg of a DECIMAL: its sum in cents over the count in cents, as DuckDB's avg divides them
    ("created_at", True, f"avg({SALES})", "count(*)"):
        Served("parts", "(sum(sales_sum) * 100)::HUGEINT::DOUBLE / nullif(sum(sales_n) * 100, 0)::DOUBLE", _N),
    ("created_at", True, f"sum(refunded_amount) / nullif(sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL)"
                         ", 0)", "count(*)"):
        Served("parts", "sum(refunded_sum) / nullif(sum(refunded_charged), 0)", _N),
    ("created_at", False, f"avg(CASE WHEN {VALID} THEN ({LAG} > $fulfilment_target_hours)::INT END)",
     f"count(*) FILTER (WHERE {VALID})"): Served("late", "coalesce(sum(late), 0)::DOUBLE / nullif(sum(valid), 0)",
                                                       "sum(valid)"),
    ("created_at", False, f"count(*) FILTER (WHERE {_SECOND}) / nullif(count(*) FILTER (WHERE {_FIRST}), 0)",
     f"count(*) FILTER (WHERE {_FIRST})"): Served("customers", f"({_FIRST_TWO} - {_FIRSTS}) / nullif({_FIRSTS}, 0)",
                                                   _FIRSTS),
}


def served(metric: Metric) -> Served | None:
    """How the rollup gives ``metric``; None: it reads the orders' rows."""
    if metric.table != "orders" or metric.until:
        return None
    return DECLARED.get((metric.time, metric.by_currency, metric.sql, metric.sample))


def kpi_cte(name: str, metrics: list[Metric], grain: str | None, samples: bool,
            also_on_days: Callable[[str], str] = lambda day: "") -> str:
    """The CTE ``name`` metrics.query joins for these KPIs (of one time column and currency grouping, each served):
    per period of the view, each KPI, with ``samples`` (and not per currency) its sample ``<name>_n``;
    ``also_on_days`` gives what else a day (a local date column) meets to count, as `` AND ...``, or nothing."""
    first = metrics[0]
    day = "created_day" if first.time == "created_at" else "fulfilled_day"
    period = f"date_trunc('{grain}', {day})::DATE" if grain else "$start::DATE"
    currency = ", currency" if first.by_currency else ""
    keys = f"period{currency}"
    by_source: dict[str, list[Metric]] = {}
    for metric in metrics:
        by_source.setdefault(served(metric).source, []).append(metric)  # type: ignore[union-attr]
    # a KPI comparing each row with its period's first day (registry.PERIOD_START) works it out per row
    starts = f"greatest({period}, $start::DATE)"
    ctes = [f"{name}_{source} AS (SELECT {period} AS period{currency}, {_columns(kpis, samples)} "
            f"FROM {_rows(source, day, also_on_days(day))} GROUP BY ALL)".replace(PERIOD_START, starts)
            for source, kpis in by_source.items()]
    joined = f"{name}_{next(iter(by_source))}" + "".join(f" FULL JOIN {name}_{s} USING ({keys})"
                                                          for s in list(by_source)[1:])
    outputs = ", ".join(m.name for m in metrics) + ("".join(f", {m.name}_n" for m in metrics)
                                                   if samples and not first.by_currency else "")
    select = f"SELECT {keys}, {outputs} FROM {joined}"
    if first.by_currency:
        maps = ", ".join(f"map_from_entries(list((currency, {m.name}) ORDER BY currency)) AS {m.name}"
                         for m in metrics)
        select = f"SELECT period, {maps} FROM ({select}) GROUP BY ALL"
    return ",\n".join([*ctes, f"{name} AS ({select})"])


def _columns(metrics: list[Metric], samples: bool) -> str:
    ways = {m.name: served(m) for m in metrics}
    columns = [f"({ways[m.name].value}){'' if m.unit == 'count' else '::DOUBLE'} AS {m.name}"  # type: ignore[union-attr]
               for m in metrics]
    if samples and not metrics[0].by_currency:
        columns += [f"({ways[m.name].sample})::BIGINT AS {m.name}_n" for m in metrics]  # type: ignore[union-attr]
    return ", ".join(columns)


def _rows(source: str, day: str, also: str = "") -> str:
    """The rows of the view's days (that meet ``also``, `` AND ...``) the KPIs of ``source`` read."""
    in_view = f"{day} >= $start::DATE AND {day} < $end_excl::DATE{also}"
    if source == "late":  # per placed day: the valid lags, and those above the target (the values of its bucket)
        target = bucket("$fulfilment_target_hours")
        return (f"(SELECT {day}, sum(n) FILTER (WHERE bucket > {target}) AS late, sum(n) AS valid "
                f"FROM {BUCKETS_TABLE} WHERE {in_view} GROUP BY ALL UNION ALL "
                f"SELECT {day}, count(*) AS late, 0 AS valid FROM {VALUES_TABLE} "
                f"WHERE bucket = {target} AND value > $fulfilment_target_hours AND {in_view} GROUP BY ALL)")
    return f"{PARTS_TABLE if source == 'parts' else CUSTOMERS_TABLE} WHERE {in_view}"
