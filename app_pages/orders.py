import streamlit as st

from ui import orders, session, widgets

SALES, REFUNDS = ["orders", "net_sales", "average_order_value"], ["refund_rate", "refund_rate_by_value"]
FULFILMENT = ["orders_fulfilled", "fulfilment_lag_hours_median", "fulfilment_lag_hours_p90", "late_fulfilment_share",
              "wismo_per_100_fulfilled"]
LOYALTY = ["repeat_purchase_rate", "contacts_per_100_orders", "tickets_linked_share"]
EVERY_TILE = SALES + REFUNDS + FULFILMENT + LOYALTY  # read in one cached query the rows share

filters = session.current_filters()
st.title("Orders & loyalty")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters) + " Orders by order time, tickets by creation time.")
if not orders.orders_loaded():
    st.stop()
widgets.explain_missing(EVERY_TILE)
st.subheader("Sales and refunds")
widgets.kpi_row(SALES, filters, among=EVERY_TILE)
widgets.kpi_row(REFUNDS, filters, among=EVERY_TILE)
st.subheader("Fulfilment")
widgets.kpi_row(FULFILMENT, filters, among=EVERY_TILE)
orders.fulfilment_note()
st.subheader("Loyalty and contacts")
widgets.kpi_row(LOYALTY, filters, among=EVERY_TILE)
orders.loyalty_note(filters)
st.subheader("Where is my order, against shipping")
orders.wismo(filters)
st.subheader("Does support bring customers back?")
orders.retention(filters)
st.subheader("Traffic")
orders.traffic(filters)
st.subheader("How tickets reach orders")
orders.how_linked(filters)
st.subheader("Money at stake")
orders.money_at_stake(filters)
st.subheader("Tickets per 100 orders")
grain = widgets.grain_control("Trend grain")
orders.contact_rate_trend(filters, grain)
orders.contact_rate_by(filters)
