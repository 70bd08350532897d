"""The Trends page's own widgets: its controls, the comparison line, arrivals by hour and how long tickets wait."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

import charts
from metrics import distributions
from metrics import query as mq
from metrics.registry import METRICS
from ui.session import cached, settings, url_bound, url_choice
from ui.widgets import BREAKDOWN_LABELS, chart, default_kpi, explain_chart, grain_control, metric_label, no_tickets_note

# the counts a ticket-per-order rate divides (on the days both exports cover) are its parts, not a trend to pick
TICKET_KPIS = [m.name for m in METRICS if m.table == "tickets" and not m.shared_days]
# The page opens on the first of these the loaded data can give: first reply, on the calendar clock before business
# hours, then resolution; every export has tickets.
DEFAULT_KPIS = ("first_reply_minutes_median", "first_reply_business_minutes_median", "full_resolution_minutes_median",
                "full_resolution_business_minutes_median", "tickets_created")
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
        name = url_choice("KPI", TICKET_KPIS, "kpi", default_kpi(DEFAULT_KPIS), format_func=metric_label)
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
    if not cells["tickets"].sum():
        no_tickets_note()
        return
    chart(charts.heatmap(cells, distributions.WEEKDAY_NAMES), "When tickets arrive", width="stretch")
    st.caption("Tickets created per weekday and hour on the account's clock (busiest hours are darkest); "
               "by creation time.")
    if distributions.suggests_wrong_clock(cells, settings().min_sample):
        share = distributions.night_share(cells) or 0
        st.warning(f"{share:.0%} of these tickets arrive between 00:00 and 06:00 on the account's clock "
                   f"({settings().timezone}): the times may be read on the wrong clock. An export's times without an "
                   "offset are read on the account's time zone, the `CSPULSE_TIMEZONE` setting; set it to the "
                   "helpdesk account's zone and import the export again.", icon=":material/schedule:")


BUCKET_CHARTS = (("first_reply", "First reply time", "Tickets created in the period, by time to the first public "
                  "agent reply."),
                 ("full_resolution", "Resolution time", "Tickets solved in the period, by time from creation to the "
                  "last solve."))


def waits(filters: mq.Filters) -> None:
    """First reply and resolution times over buckets, on the calendar or the business clock: it starts on business
    hours where the data has first replies only in those."""
    business_only = default_kpi(DEFAULT_KPIS[:2]) == DEFAULT_KPIS[1]
    business = st.toggle("Business hours", value=business_only, **url_bound("buckets_business"))
    for cell, (stem, title, caption) in zip(st.columns(2), BUCKET_CHARTS, strict=True):
        with cell:
            _bucket_chart(filters, stem, business, title, caption)


def _bucket_chart(filters: mq.Filters, stem: str, business: bool, title: str, caption: str) -> None:
    clock = "in business hours" if business else "in calendar minutes"
    if explain_chart(f"{stem}{'_business' if business else ''}_minutes_median", f"{title.lower()} {clock}"):
        return
    frame = cached(distributions.duration_buckets, filters, stem, business)
    if not frame["tickets"].sum():
        st.info(f"No {title.lower()} in these dates: no ticket in them has one.", icon=":material/info:")
        return
    chart(charts.buckets(frame, title), title, width="stretch")
    st.caption(caption)
