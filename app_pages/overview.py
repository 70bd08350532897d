import streamlit as st

import charts
import ui
from metrics.registry import BY_NAME

SUPPORT = ["tickets_created", "tickets_solved", "backlog", "first_reply_minutes_median", "first_reply_minutes_p90",
           "full_resolution_minutes_median", "resolution_rate", "one_touch_rate", "reopen_rate", "csat"]
COMMERCE = ["orders", "average_order_value", "contacts_per_100_orders"]

filters = ui.current_filters()
st.title("Overview")
ui.demo_notice()
st.caption(ui.sample_caption(filters))

st.subheader("Support")
ui.explain_missing(SUPPORT)
ui.kpi_row(SUPPORT[:5], filters)
ui.kpi_row(SUPPORT[5:], filters)
st.subheader("Orders")
ui.kpi_row(COMMERCE, filters)

grain = ui.url_choice("Trend grain", ["day", "week", "month"], "grain", "week", segmented=True)
trend = ui.query(["tickets_created", "first_reply_minutes_median"], filters, grain=grain, samples=True)
left, right = st.columns([3, 2])
left.markdown("**Tickets and first reply time**")
left.plotly_chart(charts.volume_and_speed(trend, BY_NAME["tickets_created"], BY_NAME["first_reply_minutes_median"],
                                          grain), width="stretch")
left.caption(f"Tickets by creation time; median first reply of the tickets created in each {grain}. "
             "Weeks start on Monday; the first and last bars may cover part of a period. "
             + ui.sample_sizes(trend, "first_reply_minutes_median"))
right.markdown("**Tickets by channel**")
right.plotly_chart(charts.by_dimension(ui.query(["tickets_created"], filters, by="channel"),
                                       BY_NAME["tickets_created"], "channel"), width="stretch")
right.caption("Tickets created in the period per channel, by creation time; each bar is its own count.")
