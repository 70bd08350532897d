import streamlit as st

from metrics.tiles import OVERVIEW_COMMERCE, OVERVIEW_SUPPORT, TILES_PER_ROW
from ui import overview, session, widgets

filters = session.current_filters()
st.title("Overview")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters))

st.subheader("Support")
support = widgets.on_a_clock_with_data(OVERVIEW_SUPPORT)
every_tile = (*support, *OVERVIEW_COMMERCE)
widgets.explain_missing(support)
widgets.kpi_row(support[:TILES_PER_ROW], filters, among=every_tile)
widgets.kpi_row(support[TILES_PER_ROW:], filters, among=every_tile)
widgets.clock_note(OVERVIEW_SUPPORT, support)
st.subheader("Orders")
widgets.explain_missing(OVERVIEW_COMMERCE)
widgets.kpi_row(OVERVIEW_COMMERCE, filters, among=every_tile)
widgets.shared_days_note(filters)

grain = widgets.grain_control("Trend grain")
if overview.any_tickets(filters):
    left, right = st.columns([3, 2])
    with left:
        overview.volume_and_speed(filters, grain)
    with right:
        overview.by_channel(filters)
