import streamlit as st

import charts
import ui
from metrics.distributions import WEEKDAY_NAMES
from metrics.registry import BY_NAME

filters = ui.current_filters()
st.title("Trends")
ui.demo_notice()
st.caption(ui.sample_caption(filters).split(", compared")[0] + ".")

kpi, grain, by, overlay = st.columns([3, 2, 2, 2])
with kpi:
    name = ui.url_choice("KPI", ui.TICKET_KPIS, "kpi", "first_reply_minutes_median", format_func=ui.metric_label)
with grain:
    grain = ui.url_choice("Grain", ["day", "week", "month"], "grain", "week", segmented=True)
with by:
    by = ui.url_choice("Breakdown", list(ui.BREAKDOWN_LABELS), "by", "none", format_func=ui.BREAKDOWN_LABELS.get)
with overlay:
    overlay = ui.url_choice("Compare with", list(ui.OVERLAYS), "overlay", "none", format_func=ui.OVERLAYS.get)
metric, by = BY_NAME[name], None if by == "none" else by

if not ui.explain_missing([name]):
    frame = ui.query([name], filters, grain, by, samples=True)
    shifted, label = ui.comparison(filters, overlay if by is None else "none")
    if overlay != "none" and by is not None:
        st.caption("The comparison line is drawn without a breakdown only.")
    before = ui.query([name], shifted, grain, samples=True) if shifted else None
    chart = st.plotly_chart(charts.trend(frame, metric, grain, by=by, overlay=before, overlay_label=label,
                                         min_sample=ui.min_sample()),
                            width="stretch", on_select="rerun", selection_mode="points", key="trend_chart")
    ui.definition(metric, frame)
    ui.drill_down(chart, frame, metric, filters, grain, by)

st.subheader("When tickets arrive")
st.plotly_chart(charts.heatmap(ui.arrivals(filters), WEEKDAY_NAMES), width="stretch")
st.caption("Tickets created per weekday and hour on the account's clock (busiest hours are darkest); "
           "by creation time.")

st.subheader("How long tickets wait")
business = st.toggle("Business hours", key="buckets_business")
left, right = st.columns(2)
for column, stem, title in ((left, "first_reply", "First reply time"), (right, "full_resolution", "Resolution time")):
    column.plotly_chart(charts.buckets(ui.buckets(filters, stem, business), title), width="stretch")
left.caption("Tickets created in the period, by time to the first public agent reply.")
right.caption("Tickets solved in the period, by time from creation to the last solve.")
