"""The Overview's own widgets: a row of KPI tiles with their change on the period before, the tickets with their
first reply per period, and the tickets per channel."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

import charts
from metrics import query as mq
from metrics.registry import BY_NAME, Metric
from metrics.units import format_delta, format_value
from ui.session import cached, kpis, settings
from ui.widgets import default_kpi, explain_chart, sample_sizes

FIRST_REPLY = ("first_reply_minutes_median", "first_reply_business_minutes_median")


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


def volume_and_speed(filters: mq.Filters, grain: str) -> None:
    """Tickets per period with their median first reply on the clock the data gives it; where the data has no
    first reply at all, the tickets alone and a sentence saying which export gives it."""
    volume, speed = BY_NAME["tickets_created"], BY_NAME[default_kpi(FIRST_REPLY)]
    st.markdown(f"**Tickets and {speed.label.split(' (')[0].lower()} time**")
    if explain_chart(volume.name) or not _any_tickets(filters):
        return
    trend = kpis([volume.name, speed.name], filters, grain=grain, samples=True)
    if trend[speed.name].drop_nulls().is_empty():
        st.plotly_chart(charts.trend(trend, volume, grain), width="stretch")
        if not explain_chart(speed.name):
            st.info("No first reply in these dates: none of their tickets has been answered yet.",
                    icon=":material/info:")
        return
    st.plotly_chart(charts.volume_and_speed(trend, volume, speed, grain), width="stretch")
    st.caption(f"Tickets by creation time; {speed.label.lower()} of the tickets created in each {grain}. "
               "Weeks start on Monday; the first and last bars may cover part of a period. "
               + sample_sizes(trend, speed.name))


def by_channel(filters: mq.Filters) -> None:
    st.markdown("**Tickets by channel**")
    if explain_chart("tickets_created") or not _any_tickets(filters):
        return
    st.plotly_chart(charts.by_dimension(kpis(["tickets_created"], filters, by="channel"),
                                        BY_NAME["tickets_created"], "channel"), width="stretch")
    st.caption("Tickets created in the period per channel, by creation time; each bar is its own count.")


def _any_tickets(filters: mq.Filters) -> bool:
    """Whether tickets were created in the view; if not, one sentence instead of an empty chart."""
    if kpis(["tickets_created"], filters).row(0, named=True)["tickets_created"]:
        return True
    st.info("No tickets created in these dates: widen the dates or clear a filter.", icon=":material/info:")
    return False
