import streamlit as st

import charts
import ui
from metrics.registry import BY_NAME

TEAM = ["tickets_created", "first_reply_minutes_median", "full_resolution_minutes_median", "one_touch_rate",
        "reopen_rate", "csat"]

filters = ui.current_filters()
st.title("Team")
ui.demo_notice()
st.caption(ui.sample_caption(filters).split(", compared")[0] + ". Volume and first reply by creation time; "
           "resolution, one-touch, reopens and CSAT by solve time.")

by = ui.url_choice("Per", ["assignee", "group_name"], "team_by", "assignee", format_func=ui.BREAKDOWN_LABELS.get,
                   segmented=True)
ui.explain_missing(TEAM)
frame = ui.query(TEAM, filters, by=by, samples=True)
ui.team_table(frame, TEAM, by)

name = ui.url_choice("Chart", TEAM, "team_kpi", "first_reply_minutes_median", format_func=ui.metric_label)
chart = st.plotly_chart(charts.by_agent(frame, BY_NAME[name], "by_value", ui.min_sample()),
                        width="stretch", on_select="rerun", selection_mode="points", key="team_chart")
ui.definition(BY_NAME[name], frame)
ui.drill_down(chart, frame, BY_NAME[name], filters, None, by)
