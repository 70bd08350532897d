"""Medians and percentiles of the fulfilment lag from the order rollup (data/order_rollup.py), exactly as
``quantile_cont`` gives them over the orders' rows.

DuckDB's ``quantile_cont(x, q)`` over n values sorted: rank RN = (n - 1) * q (DOUBLE), the values at ranks
floor(RN) and ceil(RN) (0-based), and where those differ lo * (1 - d) + hi * d with d = RN - floor(RN); ``median``
is ``quantile_cont(x, 0.5)``. The bucket counts per period say which bucket holds each of those ranks and how many
values come before it, so only the values in those buckets are read and sorted (as metrics.query does for the
ticket durations from the ticket rollup).
"""

from __future__ import annotations

import re

import duckdb

from data import order_rollup
from data.clock import Clock, recorded
from data.rollups import bucket
from metrics.registry import Metric
from settings import Settings

# the KPI text the rollup's values give, as metrics.registry declares the fulfilment lag KPIs
LAG = f"CASE WHEN {order_rollup.VALID} THEN {order_rollup.LAG} END"


def current(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """The rollup holds the orders as they are now, on the settings' clock (its days are local days)."""
    return order_rollup.is_current(cur, bucket) and recorded(cur) == Clock.of(settings).recorded


def quantile_ctes(name: str, day: str, period: str, quantiles: dict[str, float]) -> str:
    """CTEs ending in ``name``: per period with values, ``total`` (the values: the orders with a valid lag) and
    one column per entry of ``quantiles`` (output name -> q). ``day`` is the rollup's day column placing an order
    (``created_day`` or ``fulfilled_day``), in the view's days ($start, $end_excl); ``period`` is SQL giving an
    order's period from ``{day}``. Periods without a value have no row."""
    if day not in order_rollup.DAY_OF:
        raise ValueError(f"day must be one of {tuple(order_rollup.DAY_OF)}, not {day!r}")
    in_view = f"{day} >= $start::DATE AND {day} < $end_excl::DATE"
    of_day = period.format(day=day)
    qs = list(quantiles.values())
    holds = " OR ".join(f"({r}{i} >= before AND {r}{i} < before + n)" for i in range(len(qs)) for r in ("lo", "hi"))
    ranks = ", ".join(f"(total - 1)::DOUBLE * {q!r}::DOUBLE AS rn{i}" for i, q in enumerate(qs))
    whole = ", ".join(f"floor(rn{i})::BIGINT AS lo{i}, ceil(rn{i})::BIGINT AS hi{i}" for i in range(len(qs)))
    picked = ", ".join(
        f"max(sorted[{r}{i} - before + 1]) FILTER (WHERE {r}{i} >= before AND {r}{i} < before + n) AS {r}_value{i}, "
        f"any_value({r}{i}) AS {r}{i}" for i in range(len(qs)) for r in ("lo", "hi"))
    picked += "".join(f", any_value(rn{i}) AS rn{i}" for i in range(len(qs)))
    outputs = ", ".join(
        f"(CASE WHEN lo{i} = hi{i} THEN lo_value{i} ELSE lo_value{i} * (1::DOUBLE - (rn{i} - lo{i})) "
        f"+ hi_value{i} * (rn{i} - lo{i}) END)::DOUBLE AS {output}" for i, output in enumerate(quantiles))
    counts = (f"SELECT {of_day} AS period, bucket, sum(n)::BIGINT AS n FROM {order_rollup.BUCKETS_TABLE} "
              f"WHERE {in_view} GROUP BY ALL")
    return (
        f"{name}_counts AS (SELECT period, bucket, n, (sum(n) OVER (PARTITION BY period ORDER BY bucket) - n)::BIGINT "
        f"AS before, (sum(n) OVER (PARTITION BY period))::BIGINT AS total FROM ({counts})),\n"
        f"{name}_wanted AS (SELECT * FROM (SELECT *, {whole} FROM (SELECT *, {ranks} FROM {name}_counts)) "
        f"WHERE {holds}),\n"
        # a join on the bucket column itself, whose few wanted buckets DuckDB hands the scan, which skips the row
        # groups of the others
        f"{name}_values AS (SELECT period, bucket, list_sort(list(value)) AS sorted FROM (SELECT {of_day} AS period, "
        f"bucket, value FROM {order_rollup.VALUES_TABLE} SEMI JOIN (SELECT DISTINCT bucket FROM {name}_wanted) "
        f"USING (bucket) WHERE {in_view}) JOIN {name}_wanted USING (period, bucket) GROUP BY ALL),\n"
        f"{name}_picked AS (SELECT period, any_value(total) AS total, {picked} FROM {name}_wanted "
        f"JOIN {name}_values USING (period, bucket) GROUP BY period),\n"
        f"{name} AS (SELECT period, total, {outputs} FROM {name}_picked)"
    )


_QUANTILE = re.compile(r"quantile_cont\((.*), (0?\.\d+)\)")
SAMPLE = f"count(*) FILTER (WHERE {order_rollup.VALID})"


def q_of(metric: Metric) -> float | None:
    """The q of a KPI the rollup serves: ``median`` or ``quantile_cont`` of the lag of the orders placed in a period
    (with the orders with a valid lag as its sample); None for any other KPI."""
    if (metric.table, metric.time, metric.until, metric.sample) != ("orders", "created_at", None, SAMPLE):
        return None
    if metric.sql == f"median({LAG})":
        return 0.5
    found = _QUANTILE.fullmatch(metric.sql)
    return float(found.group(2)) if found and found.group(1) == LAG else None


def kpi_cte(name: str, metrics: list[Metric], grain: str | None, samples: bool) -> str:
    """The CTE ``name`` metrics.query joins for these KPIs (each served: :func:`q_of`): per period of the orders'
    placed days, each KPI, and with ``samples`` its sample ``<name>_n``."""
    period = f"date_trunc('{grain}', {{day}})::DATE" if grain else "$start::DATE"
    ctes = quantile_ctes(f"{name}_lag", "created_day", period, {m.name: q_of(m) or 0.0 for m in metrics})
    columns = ", ".join(m.name for m in metrics) + ("".join(f", total AS {m.name}_n" for m in metrics)
                                                   if samples else "")
    return f"{ctes},\n{name} AS (SELECT period, {columns} FROM {name}_lag)"
