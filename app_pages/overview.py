import streamlit as st

import charts
from metrics.registry import BY_NAME
from ui import overview, session, widgets

SUPPORT = ["tickets_created", "tickets_solved", "backlog", "first_reply_minutes_median", "first_reply_minutes_p90",
           "full_resolution_minutes_median", "resolution_rate", "one_touch_rate", "reopen_rate", "csat"]
COMMERCE = ["orders", "average_order_value", "contacts_per_100_orders"]

filters = session.current_filters()
st.title("Overview")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters))

st.subheader("Support")
widgets.explain_missing(SUPPORT)
overview.kpi_row(SUPPORT[:5], filters)
overview.kpi_row(SUPPORT[5:], filters)
st.subheader("Orders")
overview.kpi_row(COMMERCE, filters)

grain = widgets.grain_control("Trend grain")
trend = session.kpis(["tickets_created", "first_reply_minutes_median"], filters, grain=grain, samples=True)
left, right = st.columns([3, 2])
left.markdown("**Tickets and first reply time**")
left.plotly_chart(charts.volume_and_speed(trend, BY_NAME["tickets_created"], BY_NAME["first_reply_minutes_median"],
                                          grain), width="stretch")
left.caption(f"Tickets by creation time; median first reply of the tickets created in each {grain}. "
             "Weeks start on Monday; the first and last bars may cover part of a period. "
             + widgets.sample_sizes(trend, "first_reply_minutes_median"))
right.markdown("**Tickets by channel**")
right.plotly_chart(charts.by_dimension(session.kpis(["tickets_created"], filters, by="channel"),
                                       BY_NAME["tickets_created"], "channel"), width="stretch")
right.caption("Tickets created in the period per channel, by creation time; each bar is its own count.")
