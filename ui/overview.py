"""The Overview's own widgets: a row of KPI tiles with their change on the period before."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from metrics import query as mq
from metrics.registry import BY_NAME, Metric
from metrics.units import format_delta, format_value
from ui.session import cached, kpis, settings


def kpi_row(names: Sequence[str], filters: mq.Filters) -> None:
    """One tile per KPI (per currency for money) with the change against the previous period."""
    values = cached(mq.compare, tuple(names), filters)
    sizes = kpis(names, filters, samples=True).row(0, named=True)
    tiles = [tile for name in names for tile in _tiles(BY_NAME[name], *values[name])]
    for cell, (label, value, delta, metric) in zip(st.columns(len(tiles)), tiles, strict=True):
        label, note = _sample_note(label, metric, sizes.get(f"{metric.name}_n"))
        cell.metric(label, value, delta, delta_color=metric.delta_color, help=metric.description + note, border=True)


def _sample_note(label: str, metric: Metric, size: int | None) -> tuple[str, str]:
    """A rate or duration over few tickets says so on its tile; a count is its own sample."""
    if size is None or metric.unit in ("count", "money"):
        return label, ""
    note, minimum = f" Based on {size:,} tickets.", settings().min_sample
    if size < minimum:
        return f"{label} · n={size}", note + f" Fewer than {minimum}: an indication, not a result."
    return label, note


def _tiles(metric: Metric, now: mq.Value, before: mq.Value) -> list[tuple[str, str, str | None, Metric]]:
    if metric.unit != "money":
        return [(metric.label, format_value(now, metric.unit), format_delta(now, before, metric.unit), metric)]
    now_map, before_map = now or {}, before or {}
    if not now_map:
        return [(metric.label, "—", None, metric)]
    return [(f"{metric.label} ({currency})", format_value(value, "money", currency),
             format_delta(value, before_map.get(currency), "money", currency), metric)
            for currency, value in sorted(now_map.items())]  # type: ignore[union-attr]
