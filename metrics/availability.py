"""Which KPIs the loaded data cannot give: their source columns hold no value at all."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from metrics.registry import BY_NAME


def unavailable(cur: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, str]:
    """{metric name: what provides it} for the KPIs whose source columns hold no data at all."""
    metrics = [BY_NAME[name] for name in names if BY_NAME[name].needs]
    columns = sorted({column for metric in metrics for column in metric.needs})
    if not columns:
        return {}
    counts = cur.execute(f"SELECT {', '.join(f'count({c})' for c in columns)} FROM tickets").fetchone() or ()
    present = {column for column, count in zip(columns, counts, strict=True) if count}
    return {m.name: m.provided_by for m in metrics if not present & set(m.needs)}
