"""The Overview's own widgets: the tickets with their first reply per period, and the tickets per channel. (Its
KPI tiles are ``ui.widgets.kpi_row``, which the Orders & loyalty page draws too.)"""

from __future__ import annotations

import streamlit as st

import charts
from html_report import overview_trend_title
from metrics import query as mq
from metrics.registry import BY_NAME
from metrics.tiles import OVERVIEW_FIRST_REPLY
from ui.session import kpis
from ui.widgets import chart, default_kpi, explain_chart, no_tickets_note, sample_sizes


def volume_and_speed(filters: mq.Filters, grain: str) -> None:
    """Tickets per period with their median first reply on the clock the data gives it; where the data has no
    first reply at all, the tickets alone and a sentence saying which export gives it. For a view with tickets
    (:func:`any_tickets`)."""
    volume, speed = BY_NAME["tickets_created"], BY_NAME[default_kpi(OVERVIEW_FIRST_REPLY)]
    title = overview_trend_title(speed.label)
    st.markdown(f"**{title}**")
    trend = kpis([volume.name, speed.name], filters, grain=grain, samples=True)
    if trend[speed.name].drop_nulls().is_empty():
        chart(charts.trend(trend, volume, grain), volume.label, width="stretch")
        if not explain_chart(speed.name):
            st.info("No first reply in these dates: none of their tickets has been answered yet.",
                    icon=":material/info:")
        return
    chart(charts.volume_and_speed(trend, volume, speed, grain), title, width="stretch")
    st.caption(f"Tickets by creation time; {speed.label.lower()} of the tickets created in each {grain}. "
               "Weeks start on Monday; the first and last bars may cover part of a period. "
               + sample_sizes(trend, speed.name))


def by_channel(filters: mq.Filters) -> None:
    """The view's tickets per channel. For a view with tickets (:func:`any_tickets`)."""
    st.markdown("**Tickets by channel**")
    chart(charts.by_dimension(kpis(["tickets_created"], filters, by="channel"), BY_NAME["tickets_created"], "channel"),
          "Tickets by channel", width="stretch")
    st.caption("Tickets created in the period per channel, by creation time; each bar is its own count.")


def any_tickets(filters: mq.Filters) -> bool:
    """Whether tickets were created in the view; if not (or none was loaded), one sentence for both charts."""
    if explain_chart("tickets_created"):
        return False
    if kpis(["tickets_created"], filters).row(0, named=True)["tickets_created"]:
        return True
    no_tickets_note()
    return False
