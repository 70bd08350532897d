import streamlit as st

import charts
from metrics.registry import BY_NAME
from ui import session, trends, widgets

filters = session.current_filters()
st.title("Trends")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters, compared=False))

view = trends.controls()
metric = BY_NAME[view.kpi]
# a KPI the data cannot give, or has no value for in these dates, gets a sentence instead of an empty chart
missing = widgets.explain_missing([view.kpi])
frame = None if missing else session.kpis([view.kpi], filters, view.grain, view.by, samples=True)
if frame is not None and widgets.has_values(frame, view.kpi):
    shifted, label = trends.comparison(filters, view)
    before = session.kpis([view.kpi], shifted, view.grain, samples=True) if shifted else None
    chart = widgets.chart(charts.trend(frame, metric, view.grain, by=view.by, overlay=before, overlay_label=label,
                                       min_sample=widgets.min_sample()), metric.label,
                          width="stretch", on_select="rerun", selection_mode="points", key="trend_chart")
    widgets.definition(metric, frame)
    widgets.drill_down(chart, frame, metric, filters, view.grain, view.by)

st.subheader("When tickets arrive")
trends.arrivals(filters)
st.subheader("How long tickets wait")
trends.waits(filters)
