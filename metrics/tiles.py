"""KPI tiles as words: label, value, change and definition, worked out once for the page and the HTML report, so a
report never reads differently from the tiles it was downloaded beside.

``OVERVIEW_SUPPORT`` and ``OVERVIEW_COMMERCE`` are the Overview's tiles and ``OVERVIEW_FIRST_REPLY`` the clocks its
trend may draw, in order of preference: the page and the scheduled report (``python -m metrics.report --html``) both
read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from metrics import query as mq
from metrics.registry import BY_NAME, Metric
from metrics.units import format_delta, format_value
from settings import Settings

# Durations on the calendar clock; a store whose export gives only business hours sees those instead.
OVERVIEW_SUPPORT = ("tickets_created", "tickets_solved", "backlog", "first_reply_minutes_median",
                    "first_reply_minutes_p90", "full_resolution_minutes_median", "resolution_rate", "one_touch_rate",
                    "reopen_rate", "csat")
OVERVIEW_COMMERCE = ("orders", "average_order_value", "contacts_per_100_orders")
OVERVIEW_FIRST_REPLY = ("first_reply_minutes_median", "first_reply_business_minutes_median")
TILES_PER_ROW = 5


@dataclass(frozen=True)
class Tile:
    """One tile: ``label`` carries a small sample's ``n``; ``definition`` is the KPI's and what it rests on."""

    label: str
    value: str
    delta: str | None
    metric: Metric
    definition: str


def tiles(names: Sequence[str], compared: Mapping[str, tuple[mq.Value, mq.Value]],
          sizes: Mapping[str, object], min_sample: int) -> list[Tile]:
    """One tile per KPI (per currency for money and ratios of money), from ``metrics.query.compare`` and the sample
    sizes of ``query(..., samples=True)`` (``<name>_n``)."""
    found = []
    for name in names:
        metric = BY_NAME[name]
        size = sizes.get(f"{name}_n")
        for label, value, delta in _values(metric, *compared[name]):
            shown, note = _sample_note(label, metric, size if isinstance(size, int) else None, min_sample)
            found.append(Tile(shown, value, delta, metric, metric.description + note))
    return found


def kpi_tiles(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: mq.Filters,
              settings: Settings) -> list[Tile]:
    """``tiles`` straight from the warehouse, as the page's cached reads would give them."""
    return tiles(names, *mq.compare_with_samples(cur, names, filters, settings), settings.min_sample)


def _sample_note(label: str, metric: Metric, size: int | None, minimum: int) -> tuple[str, str]:
    """A rate or duration over few tickets says so on its tile; a count is its own sample."""
    if size is None or metric.unit in ("count", "money"):
        return label, ""
    rows = "orders" if metric.table == "orders" else "tickets"
    note = f" Based on {size:,} {rows}."
    if size < minimum:
        return f"{label} · n={size}", note + f" Fewer than {minimum}: an indication, not a result."
    return label, note


def _values(metric: Metric, now: mq.Value, before: mq.Value) -> list[tuple[str, str, str | None]]:
    if not metric.by_currency:
        return [(metric.label, format_value(now, metric.unit), format_delta(now, before, metric.unit))]  # type: ignore[arg-type]
    now_map, before_map = now or {}, before or {}
    if not now_map:
        return [(metric.label, "—", None)]
    return [(f"{metric.label} ({currency})", format_value(value, metric.unit, currency),
             format_delta(value, before_map.get(currency), metric.unit, currency))  # type: ignore[union-attr]
            for currency, value in sorted(now_map.items())]  # type: ignore[union-attr]
