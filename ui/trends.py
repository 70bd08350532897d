"""The Trends page's own widgets: its controls, the comparison line, arrivals by hour and how long tickets wait."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

import charts
from metrics import distributions
from metrics import query as mq
from metrics.registry import METRICS
from ui.session import cached, url_choice
from ui.widgets import BREAKDOWN_LABELS, grain_control, metric_label

TICKET_KPIS = [m.name for m in METRICS if m.table == "tickets"]
OVERLAYS = {"none": "No comparison", "previous": "Previous period", "last_year": "Same period last year"}


class View(NamedTuple):
    kpi: str
    grain: str
    by: str | None
    overlay: str


def controls() -> View:
    """KPI, grain, breakdown and comparison, side by side and kept in the URL."""
    kpi, grain, by, overlay = st.columns([3, 2, 2, 2])
    with kpi:
        name = url_choice("KPI", TICKET_KPIS, "kpi", "first_reply_minutes_median", format_func=metric_label)
    with grain:
        chosen_grain = grain_control()
    with by:
        breakdown = url_choice("Breakdown", list(BREAKDOWN_LABELS), "by", "none", format_func=BREAKDOWN_LABELS.get)
    with overlay:
        compare = url_choice("Compare with", list(OVERLAYS), "overlay", "none", format_func=OVERLAYS.get)
    return View(name, chosen_grain, None if breakdown == "none" else breakdown, compare)


def comparison(filters: mq.Filters, view: View) -> tuple[mq.Filters | None, str]:
    """The dashed line's filters and legend; drawn without a breakdown only."""
    if view.overlay != "none" and view.by is not None:
        st.caption("The comparison line is drawn without a breakdown only.")
        return None, ""
    shifted = {"previous": filters.previous, "last_year": filters.last_year}.get(view.overlay)
    if shifted is None:
        return None, ""
    window = shifted()
    return window, f"{OVERLAYS[view.overlay]} ({window.start:%d %b %Y} – {window.end:%d %b %Y})"


def arrivals(filters: mq.Filters) -> None:
    cells = cached(distributions.arrivals_by_hour, filters)
    st.plotly_chart(charts.heatmap(cells, distributions.WEEKDAY_NAMES), width="stretch")
    st.caption("Tickets created per weekday and hour on the account's clock (busiest hours are darkest); "
               "by creation time.")


def waits(filters: mq.Filters) -> None:
    """First reply and resolution times over buckets, on the calendar or the business clock."""
    business = st.toggle("Business hours", key="buckets_business", bind="query-params")
    left, right = st.columns(2)
    for cell, stem, title in ((left, "first_reply", "First reply time"), (right, "full_resolution", "Resolution time")):
        cell.plotly_chart(charts.buckets(cached(distributions.duration_buckets, filters, stem, business), title),
                          width="stretch")
    left.caption("Tickets created in the period, by time to the first public agent reply.")
    right.caption("Tickets solved in the period, by time from creation to the last solve.")
