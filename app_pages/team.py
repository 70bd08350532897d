import streamlit as st

import charts
from metrics.registry import BY_NAME
from ui import session, team, widgets

filters = session.current_filters()
st.title("Team")
widgets.demo_notice()
st.caption(widgets.sample_caption(filters, compared=False) + " Volume and first reply by creation time; "
           "resolution, one-touch, reopens and CSAT by solve time.")

by = session.url_choice("Per", ["assignee", "group_name"], "team_by", "assignee",
                        format_func=widgets.BREAKDOWN_LABELS.get, segmented=True)
kpis = widgets.on_a_clock_with_data(team.TEAM)  # business hours where the export has only those
widgets.explain_missing(kpis)
frame = session.kpis(team.chart_choices(kpis), filters, by=by, samples=True)
widgets.team_table(frame, kpis, by)
widgets.clock_note(team.TEAM, kpis)

name = session.url_choice("Chart", team.chart_choices(kpis), "team_kpi", team.default_chart(kpis),
                          format_func=widgets.metric_label)
if not widgets.explain_chart(name) and widgets.has_values(frame, name):
    chart = widgets.chart(charts.by_agent(frame, BY_NAME[name], "by_value", widgets.min_sample()), BY_NAME[name].label,
                          width="stretch", on_select="rerun", selection_mode="points", key="team_chart")
    widgets.definition(BY_NAME[name], frame)
    widgets.drill_down(chart, frame, BY_NAME[name], filters, None, by)
