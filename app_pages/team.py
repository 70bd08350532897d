import streamlit as st

import charts
from metrics.registry import BY_NAME
from ui import session, widgets

TEAM = ["tickets_created", "first_reply_minutes_median", "full_resolution_minutes_median", "one_touch_rate",
        "reopen_rate", "csat"]

filters = session.current_filters()
st.title("Team")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters, compared=False) + " Volume and first reply by creation time; "
           "resolution, one-touch, reopens and CSAT by solve time.")

by = session.url_choice("Per", ["assignee", "group_name"], "team_by", "assignee",
                        format_func=widgets.BREAKDOWN_LABELS.get, segmented=True)
widgets.explain_missing(TEAM)
frame = session.kpis(TEAM, filters, by=by, samples=True)
widgets.team_table(frame, TEAM, by)

name = session.url_choice("Chart", TEAM, "team_kpi", "first_reply_minutes_median", format_func=widgets.metric_label)
chart = st.plotly_chart(charts.by_agent(frame, BY_NAME[name], "by_value", widgets.min_sample()),
                        width="stretch", on_select="rerun", selection_mode="points", key="team_chart")
widgets.definition(BY_NAME[name], frame)
widgets.drill_down(chart, frame, BY_NAME[name], filters, None, by)
