"""Which KPIs the loaded data cannot give (their source columns hold no value at all, or their ``known`` condition
fails), and the defaults a page can serve instead of an empty chart."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from metrics import facts
from metrics.registry import BY_NAME, other_clock


def unavailable(cur: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, str]:
    """{metric name: what provides it} for the KPIs the loaded data cannot give at all."""
    metrics = [BY_NAME[name] for name in dict.fromkeys(names)]
    columns = sorted({column for metric in metrics for column in metric.needs})
    conditions = sorted({metric.known for metric in metrics if metric.known})
    presence = {column: facts.column_present(column) for column in columns}
    holds = facts.values(cur, [*presence.values(), *conditions]) if columns or conditions else {}
    present = {column for column, sql in presence.items() if holds[sql]}
    return {m.name: m.provided_by for m in metrics
            if (m.needs and not present & set(m.needs)) or (m.known and not holds[m.known])}


def first_available(cur: duckdb.DuckDBPyConnection, candidates: Sequence[str]) -> str:
    """The first of ``candidates`` the loaded data can give; the first one when none can (its explanation then says
    what is missing)."""
    missing = unavailable(cur, candidates)
    return next((name for name in candidates if name not in missing), candidates[0])


def on_a_clock_with_data(cur: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[str]:
    """``names`` with each duration the data cannot give on its clock replaced by the same duration on the other
    clock, where that one has data: an export with business-hours first replies only shows those."""
    twins = {name: twin for name in names if (twin := other_clock(name)) is not None}
    missing = unavailable(cur, [*names, *twins.values()])
    return [twins[name] if name in missing and name in twins and twins[name] not in missing else name
            for name in names]
