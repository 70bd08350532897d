import streamlit as st

from ui import session, staffing, widgets

view = session.current_filters()
st.title("Staffing")
widgets.demo_notice()
st.caption("Peaks from the calendar and from the data, the agents each interval needs against those staffed, and "
           "the next peak's plan. This page picks its dates from the peak; the sidebar's channel, category and "
           "priority apply. Times on the account's clock.")

peak = staffing.peak_picker(view)
if peak is None:
    st.stop()
staffing.peak_table(peak, view)

st.subheader("What if")
scenario = staffing.scenario()
minutes = staffing.interval(peak, view)
staffing.handle_time_note(scenario)
report, source = staffing.gap(peak, view, scenario, minutes)
staffing.gap_tiles(report, source)

st.subheader("Agents short or spare")
staffing.gap_charts(report)

st.subheader("Required agents per channel")
staffing.required_table(report, scenario)

st.subheader("After hours")
staffing.after_hours_table(peak, view, minutes, report, source)

st.subheader("Next peak")
staffing.next_peak(view, scenario, minutes)
