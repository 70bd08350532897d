import streamlit as st

from ui import complaints, session, widgets

filters = session.current_filters()
st.title("Complaints")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters) + " Tickets by creation time.")
complaints.sources_note(filters)
complaints.store_categories()

shares = complaints.shares(filters)
if shares.is_empty():  # every section below is about the view's tickets
    widgets.no_tickets_note()
    st.stop()
complaints.top_and_rising(filters, shares)

st.subheader("Trend per category")
complaints.trend(filters, shares)

st.subheader("How each category is handled")
complaints.handling(filters)

st.subheader("What the complaints attach to")
complaints.attached_to_orders(filters, shares)

st.subheader("How sure the categories are")
complaints.how_sure(filters)

st.subheader("Example tickets")
complaints.examples(filters, shares)
