"""Medians and percentiles of the fulfilment lag from the order rollup (data/order_rollup.py), exactly as
``quantile_cont`` gives them over the orders' rows: the bucket counts per period, then only the values of the
buckets holding the wanted ranks (metrics/ranks.py, as metrics.query does for the ticket durations).
"""

from __future__ import annotations

import re

import duckdb

from data import order_rollup, rollups
from data.clock import rollup_holds
from metrics import ranks
from metrics.registry import Metric
from settings import Settings

# the KPI text the rollup's values give, as metrics.registry declares the fulfilment lag KPIs
LAG = f"CASE WHEN {order_rollup.VALID} THEN {order_rollup.LAG} END"


def current(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """The rollup holds the orders as they are now, on the settings' clock (its days are local days)."""
    return rollup_holds(cur, rollups.ORDERS, settings)


def quantile_ctes(name: str, day: str, period: str, quantiles: dict[str, float]) -> str:
    """CTEs ending in ``name``: per period with values, ``total`` (the values: the orders with a valid lag) and
    one column per entry of ``quantiles`` (output name -> q). ``day`` is the rollup's day column placing an order
    (``created_day`` or ``fulfilled_day``), in the view's days ($start, $end_excl); ``period`` is SQL giving an
    order's period from ``{day}``. Periods without a value have no row."""
    if day not in order_rollup.DAY_OF:
        raise ValueError(f"day must be one of {tuple(order_rollup.DAY_OF)}, not {day!r}")
    in_view = f"{day} >= $start::DATE AND {day} < $end_excl::DATE"
    of_day = period.format(day=day)
    counts = (f"SELECT {of_day} AS period, bucket, sum(n)::BIGINT AS n FROM {order_rollup.BUCKETS_TABLE} "
              f"WHERE {in_view} GROUP BY ALL")
    # a join on the bucket column itself, whose few wanted buckets DuckDB hands the scan, which skips the row groups
    # of the others
    values = (f"SELECT {of_day} AS period, bucket, value FROM {order_rollup.VALUES_TABLE} SEMI JOIN "
              f"(SELECT DISTINCT bucket FROM {name}_wanted) USING (bucket) WHERE {in_view}")
    outputs = ", ".join(f"{ranks.interpolated(i)} AS {output}" for i, output in enumerate(quantiles))
    return (f"{ranks.ctes(name, 'period', counts, values, list(quantiles.values()))},\n"
            f"{name} AS (SELECT period, total, {outputs} FROM {name}_picked)")


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
