import streamlit as st

from ui import overview, session, widgets

# Durations on the calendar clock; a store whose export gives only business hours sees those instead.
SUPPORT = ["tickets_created", "tickets_solved", "backlog", "first_reply_minutes_median", "first_reply_minutes_p90",
           "full_resolution_minutes_median", "resolution_rate", "one_touch_rate", "reopen_rate", "csat"]
COMMERCE = ["orders", "average_order_value", "contacts_per_100_orders"]

filters = session.current_filters()
st.title("Overview")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters))

st.subheader("Support")
support = widgets.on_a_clock_with_data(SUPPORT)
widgets.explain_missing(support)
widgets.kpi_row(support[:5], filters)
widgets.kpi_row(support[5:], filters)
widgets.clock_note(SUPPORT, support)
st.subheader("Orders")
widgets.explain_missing(COMMERCE)
widgets.kpi_row(COMMERCE, filters)

grain = widgets.grain_control("Trend grain")
left, right = st.columns([3, 2])
with left:
    overview.volume_and_speed(filters, grain)
with right:
    overview.by_channel(filters)
