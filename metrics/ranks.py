"""Exact medians and percentiles from bucket counts, as DuckDB's ``quantile_cont`` gives them over the rows.

``quantile_cont(x, q)`` over n values sorted: rank RN = (n - 1) * q (DOUBLE), the values at ranks floor(RN) and
ceil(RN) (0-based), and where those differ lo * (1 - d) + hi * d with d = RN - floor(RN); ``median`` is
``quantile_cont(x, 0.5)``. Counts per bucket (a monotone function of the value) say which bucket holds each of those
ranks and how many values come before it, so only the values of those buckets are read and sorted. The ticket
durations (metrics.query, from data/rollups.py) and the fulfilment lag (metrics/lag_quantiles.py, from
data/order_rollup.py) are both read so.
"""

from __future__ import annotations

from collections.abc import Sequence


def ctes(name: str, keys: str, counts: str, values: str, qs: Sequence[float], *, fine: bool = False) -> str:
    """CTEs ending in ``{name}_picked``: per ``keys`` (SQL column list, e.g. ``period`` or ``period, by_value``),
    ``total`` (the values counted) and what :func:`interpolated` reads for each q of ``qs``. ``counts``: SQL
    giving ``keys``, ``bucket`` and ``n``, one row per key and bucket; ``values``: SQL giving ``keys``, ``bucket``
    and ``value`` for at least the buckets of ``{name}_wanted`` (the rows of the buckets holding a wanted rank).
    ``fine``: ``values`` gives ``fine`` too, a finer monotone bucket within ``bucket`` (:func:`_narrowed`)."""
    holds = " OR ".join(f"({r}{i} >= before AND {r}{i} < before + n)" for i in range(len(qs)) for r in ("lo", "hi"))
    ranks = ", ".join(f"(total - 1)::DOUBLE * {q!r}::DOUBLE AS rn{i}" for i, q in enumerate(qs))
    whole = ", ".join(f"floor(rn{i})::BIGINT AS lo{i}, ceil(rn{i})::BIGINT AS hi{i}" for i in range(len(qs)))
    picked = ", ".join(
        f"max(sorted[{r}{i} - before + 1]) FILTER (WHERE {r}{i} >= before AND {r}{i} < before + n) AS {r}_value{i}, "
        f"any_value({r}{i}) AS {r}{i}" for i in range(len(qs)) for r in ("lo", "hi"))
    picked += "".join(f", any_value(rn{i}) AS rn{i}" for i in range(len(qs)))
    held = "fine_wanted" if fine else "wanted"  # the buckets whose values are sorted
    return (
        f"{name}_counts AS (SELECT {keys}, bucket, n, (sum(n) OVER (PARTITION BY {keys} ORDER BY bucket) - n)::BIGINT "
        f"AS before, (sum(n) OVER (PARTITION BY {keys}))::BIGINT AS total FROM ({counts})),\n"
        f"{name}_wanted AS (SELECT * FROM (SELECT *, {whole} FROM (SELECT *, {ranks} FROM {name}_counts)) "
        f"WHERE {holds}),\n"
        + (_narrowed(name, keys, values, holds) if fine else
           f"{name}_values AS (SELECT {keys}, bucket, list_sort(list(value)) AS sorted FROM ({values}) "
           f"JOIN {name}_wanted USING ({keys}, bucket) GROUP BY ALL),\n")
        + f"{name}_picked AS (SELECT {keys}, any_value(total) AS total, {picked} FROM {name}_{held} "
        f"JOIN {name}_values USING ({keys}, bucket{', fine' if fine else ''}) GROUP BY {keys})"
    )


def _narrowed(name: str, keys: str, values: str, holds: str) -> str:
    """``{name}_values`` sorting only the fine buckets that hold a wanted rank, ``{name}_fine_wanted`` (each with its
    own ``n`` and ``before``): a coarse bucket of a keyed count spans several fine ones, and sorting all its values
    took most of the Overview's tiles with one channel chosen at 10M tickets (300k values for one median). The
    values of the wanted coarse buckets are read once and counted per fine bucket."""
    return (
        f"{name}_read AS MATERIALIZED (SELECT {keys}, bucket, fine, value FROM ({values}) "
        f"JOIN {name}_wanted USING ({keys}, bucket)),\n"
        f"{name}_fine AS (SELECT {keys}, bucket, fine, count(*)::BIGINT AS n_fine FROM {name}_read GROUP BY ALL),\n"
        f"{name}_fine_wanted AS (SELECT * FROM (SELECT w.* REPLACE (f.n_fine AS n, (w.before + sum(f.n_fine) OVER ("
        f"PARTITION BY {keys}, bucket ORDER BY f.fine) - f.n_fine)::BIGINT AS before), f.fine FROM {name}_wanted w "
        f"JOIN {name}_fine f USING ({keys}, bucket)) WHERE {holds}),\n"
        f"{name}_values AS (SELECT {keys}, bucket, fine, list_sort(list(value)) AS sorted FROM {name}_read "
        f"SEMI JOIN {name}_fine_wanted USING ({keys}, bucket, fine) GROUP BY ALL),\n"
    )


def interpolated(i: int) -> str:
    """The ``i``-th q's value from a row of ``{name}_picked`` (DOUBLE; NULL where no value was counted)."""
    return (f"(CASE WHEN lo{i} = hi{i} THEN lo_value{i} ELSE lo_value{i} * (1::DOUBLE - (rn{i} - lo{i})) "
            f"+ hi_value{i} * (rn{i} - lo{i}) END)::DOUBLE")
