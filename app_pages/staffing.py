import streamlit as st

import charts
import ui
from metrics.distributions import WEEKDAY_NAMES

view = ui.current_filters()
st.title("Staffing")
ui.demo_notice()
st.caption("Peaks from the calendar and from the data, the agents each interval needs against those staffed, and "
           "the next peak's plan. This page picks its dates from the peak; the sidebar's channel, category and "
           "priority apply. Times on the account's clock.")

peak = ui.peak_picker(view)
if peak is None:
    st.stop()
ui.peak_table(peak, view)

st.subheader("What if")
scenario = ui.staffing_scenario()
minutes = ui.staffing_interval(peak, view)
ui.handle_time_note(scenario)
report, source = ui.staffing_gap(peak, view, scenario, minutes)
ui.staffed_note(source)
ui.gap_tiles(report, source)

st.subheader("Agents short or spare")
st.plotly_chart(charts.staffing_gap(report.slots, minutes), width="stretch", key="gap_chart")
st.plotly_chart(charts.staffing_heatmap(report.by_weekday_hour, WEEKDAY_NAMES), width="stretch", key="gap_heatmap")
st.caption("Required − staffed per interval: red bars and cells are agents short, blue ones agents spare; the "
           "heatmap averages each weekday and hour over the peak. A triangle marks a short interval whose tickets "
           "were answered slowly or rated low.")
ui.gap_callouts(report)

st.subheader("Required agents per channel")
ui.required_table(report, scenario)

st.subheader("After hours")
ui.after_hours_table(peak, view, minutes)

st.subheader("Next peak")
upcoming = ui.next_peak_choice(view)
if upcoming is not None:
    plan = ui.next_peak_plan(upcoming, view, scenario, minutes, ui.forecast_method())
    if plan is not None:
        st.plotly_chart(charts.staffing_need(plan.slots), width="stretch", key="forecast_chart")
