"""The Staffing page's own widgets: the peak to study, the what-if sliders, the gap's tiles and tables, after-hours
coverage and the next peak's plan. Every number comes from ``metrics.staffing`` and ``metrics.peaks``."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import polars as pl
import streamlit as st

import charts
from data.basics import mapped
from data.export import safe_csv
from metrics import peaks, staffing
from metrics import query as mq
from metrics.distributions import WEEKDAY_NAMES
from metrics.units import UNKNOWN, format_value
from ui.session import cached, check_link, link_dates, note_in_link, settings, url_bound, url_choice
from ui.widgets import chart

EVENT_PARAM = "event"  # ?event=Name|YYYY-MM-DD|YYYY-MM-DD, repeatable: events added on the page, kept in the link
# A peak is a season at most: a year holds any sale, holiday or launch with room to spare, and keeps the gap's slots
# (one per interval) and the year-before window small. A 120-year event took 27 CPU-seconds and 400 MB.
EVENT_DAYS_MAX = 366
STAFFED_SOURCES = {"roster": "the roster", "estimate": "an estimate from the export"}
UNKNOWN_STAFFING = ("**Staffed agents are unknown**: the roster has no shift in this window, and the export shows "
                    "no agent at work (no ticket with an assignee and a reply or solve time) to estimate them from. "
                    "The page shows the agents needed; import a roster on the Import page to see the gap.")
ESTIMATOR = ("**Staffed agents are an estimate**: the roster has no shift in this window, so an agent counts as "
             "working in an interval when one of their tickets got its first reply or an agent's solve in it "
             "(distinct assignees; automated solves left out). Exports name the assignee, not the author of each "
             "reply, so this undercounts agents busy with follow-ups — import a roster (a CSV with Agent, Start, End "
             "and optionally Channel columns, one row per shift) on the Import page for real numbers.")
KINDS = {"bfcm": "calendar", "december": "calendar", "holiday": "holiday", "custom": "event", "data": "from the data",
         "busiest": "busiest weeks"}


# --- the peak -------------------------------------------------------------------------------------------------------
def peak_picker(view: mq.Filters) -> peaks.Peak | None:
    """The peak to study: calendar, data and added events, newest first; kept in the URL."""
    options = cached(peaks.peak_options, view)
    pick, add = st.columns([4, 1], vertical_alignment="bottom")
    with add:
        _add_event_form()  # first: an event added now must be among the options below
    events = _session_events()
    if events:
        note_in_link(EVENT_PARAM, _event_params(events))
    choices = peaks.peaks_to_study(options, events)
    if not choices:
        pick.info("No peak to study: no Black Friday, December holidays, national holiday or busy week holds tickets, "
                  f"and the busiest weeks need {peaks.MIN_HISTORY_WEEKS} complete weeks of tickets to compare with "
                  "a typical one. Add an event for the dates you want to study, or import more history.")
        return None
    by_key = {p.key: p for p in choices}
    default = peaks.default_peak(options.past, options.busiest) or choices[0]  # else an event added on the page
    with pick:
        key = url_choice("Peak", list(by_key), "peak", default.key,
                         format_func=lambda k: f"{by_key[k].label} · {KINDS[by_key[k].kind]}")
    chosen = by_key[key]
    if options.after_data(chosen):
        st.info(f"{chosen.label} lies after the newest data ({options.last_day:%d %b %Y}): see the forecast below.")
    elif chosen.kind == "busiest":
        st.info(f"No Black Friday, December holidays, event or busy week (above {settings().peak_volume_factor:g}× "
                f"the median of the {peaks.MIN_HISTORY_WEEKS} to {peaks.TRAILING_WEEKS} complete weeks before it) "
                f"holds tickets in the data ({options.first_day:%d %b %Y} – {options.last_day:%d %b %Y}), so this "
                "page compares the busiest weeks with the typical week. Add an event above to study other dates.",
                icon=":material/date_range:")
    return chosen


def _session_events() -> list[peaks.Peak]:
    """Events added on the page, seeded from the link once per session."""
    if "_staffing_events" not in st.session_state:
        events = []
        for text in st.query_params.get_all(EVENT_PARAM):
            event = _link_event(text)
            if isinstance(event, str):
                st.toast(f"Ignored the link's event {text!r}: {event}.")
            else:
                events.append(event)
        st.session_state["_staffing_events"] = events
    return st.session_state["_staffing_events"]


def _link_event(text: str) -> peaks.Peak | str:
    """The event a link names, or why it is ignored."""
    try:
        name, start, end = text.split("|")
        [event] = peaks.custom_events([{"name": name, "start": start, "end": end}])
    except ValueError:
        return "expected Name|YYYY-MM-DD|YYYY-MM-DD"
    return _event_problem(event) or event


def _event_problem(event: peaks.Peak) -> str | None:
    first, last = link_dates()
    if event.start < first or event.end > last:
        return f"its dates must lie from {first} to {last} (the data's dates and a year either side)"
    if event.days > EVENT_DAYS_MAX:
        return f"it spans {event.days:,} days, and an event spans at most {EVENT_DAYS_MAX}"
    return None


def _event_params(events: list[peaks.Peak]) -> list[str]:
    return [f"{event.name}|{event.start}|{event.end}" for event in events]


def _add_event_form() -> None:
    with st.popover("Add an event", icon=":material/event:"), st.form("staffing_event", border=False):
        name = st.text_input("Event name", key="event_name", placeholder="e.g. Summer sale", max_chars=60)
        dates = st.date_input("Dates", value=(), key="event_dates", format="YYYY-MM-DD")
        if not st.form_submit_button("Add to this link"):
            return
        if not name.strip() or len(dates) != 2:  # type: ignore[arg-type]
            st.error("Give the event a name and pick its first and last day.")
            return
        event = peaks.custom_events([{"name": name.replace("|", " "), "start": dates[0], "end": dates[1]}])[0]  # type: ignore[index]
        if problem := _event_problem(event):
            st.error(f"Pick shorter dates: {problem}.")
            return
        st.session_state["_staffing_events"] = [*_session_events(), event]
        st.query_params[EVENT_PARAM] = _event_params(st.session_state["_staffing_events"])
        st.session_state["peak"] = event.key  # the selectbox below is not drawn yet in this run


def peak_table(peak: peaks.Peak, view: mq.Filters) -> None:
    """The peak against its baseline (the four weeks before it, or a busiest week's typical week): volume, first
    reply, CSAT and backlog."""
    if peak.kind == "busiest":
        _busiest_weeks(view)
    table = cached(peaks.against_baseline, peak, view)
    start, end = peaks.baseline(peak)
    versus = "Typical week" if peak.kind == "busiest" else "Baseline"
    rows = [{"KPI": row["label"], "Peak": format_value(row["peak"], row["unit"]),
             f"{versus} ({start:%d %b} – {end:%d %b})": format_value(row["baseline"], row["unit"]),
             "Peak ÷ baseline": UNKNOWN if row["ratio"] is None else f"{row['ratio']:.2f}×"}
            for row in table.iter_rows(named=True)]
    st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
    base = ("the typical week: the complete week whose tickets lie nearest the median week" if peak.kind == "busiest"
            else "the four weeks just before the peak")
    st.caption("Tickets per day and first reply by creation time, CSAT by solve time, backlog open at each window's "
               f"end. The baseline is {base}.")


def _busiest_weeks(view: mq.Filters) -> None:
    """The busiest complete weeks against the median week, as a short table."""
    ranked = cached(peaks.busiest_weeks, view)
    if ranked.is_empty():
        return
    rows = [{"Week": f"{row['week']:%d %b} – {row['week'] + timedelta(days=6):%d %b %Y}", "Tickets": row["tickets"],
             "× the median week": UNKNOWN if row["ratio"] is None else f"{row['ratio']:.2f}×"} for row in
            ranked.iter_rows(named=True)]
    st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
    first = ranked.row(0, named=True)
    st.caption(f"The busiest of {first['weeks']} complete weeks (Monday to Sunday) against the median week, "
               f"{first['typical']:,.1f} tickets.")


# --- the what-if ----------------------------------------------------------------------------------------------------
SLIDERS = (  # key, label, default from settings (as a whole number), min, max, step, suffix, help
    ("sl", "Service level", lambda s: s.staffing_service_level * 100, 50, 99, 1, " %",
     "Share of live contacts answered within the answer target."),
    ("answer", "Answer target", lambda s: s.staffing_answer_seconds, 5, 300, 5, " s",
     "Live contacts (chat, phone) answered within this."),
    ("handle", "Handle time", lambda s: 100, 50, 200, 5, " %",
     "The handle times per channel (settings) scaled by this."),
    ("shrink", "Shrinkage", lambda s: s.staffing_shrinkage * 100, 0, 60, 1, " %",
     "Paid time not spent on contacts: breaks, training, absence."),
    ("growth", "Expected growth", lambda s: s.staffing_growth * 100, -50, 200, 5, " %",
     "More (or fewer) contacts than in the data."),
)


def scenario() -> staffing.Scenario:
    """The what-if sliders (defaults from settings), bound to the URL; the scenario they make."""
    values = {}
    for cell, (key, label, default, low, high, step, suffix, help) in zip(st.columns(len(SLIDERS)), SLIDERS,
                                                                          strict=True):
        check_link(key, lambda text, low=low, high=high: text.lstrip("-").isdigit() and low <= int(text) <= high,
                   f"a whole number from {low} to {high}")
        with cell:
            values[key] = st.slider(label, low, high, min(max(round(default(settings())), low), high), step=step,
                                    format="%d" + suffix.replace("%", "%%"), help=help, **url_bound(key))
    handle, _ = cached(staffing.handle_minutes)
    return staffing.Scenario.from_settings(
        settings(), service_level=values["sl"] / 100, answer_seconds=float(values["answer"]),
        handle_factor=values["handle"] / 100, shrinkage=values["shrink"] / 100, growth=values["growth"] / 100,
        handle_minutes=tuple(sorted(handle.items())))


def interval(peak: peaks.Peak, view: mq.Filters) -> int:
    """60 or 30 minutes; 30 only where the export's times carry minutes."""
    choices = cached(staffing.interval_choices, peak.filters(view))
    if len(choices) == 1:
        st.caption("Intervals are hours: this export's creation times carry no minutes.")
        return choices[0]
    return int(url_choice("Interval", [str(m) for m in choices], "interval", str(choices[0]),
                          format_func=lambda m: f"{m} min", segmented=True))


def handle_time_note(plan: staffing.Scenario) -> None:
    minutes = ", ".join(f"{channel} {value * plan.handle_factor:g} min" for channel, value in plan.handle_minutes)
    _, source = cached(staffing.handle_minutes)
    where = ("from the export" if source == "export" else
             "from settings (`CSPULSE_STAFFING_HANDLE_MINUTES`): no export gives handle time and the warehouse "
             "has no handle-time column")
    live = ", ".join(plan.live_channels) or "none"
    st.caption(f"Handle times {where}: {minutes}. Live channels ({live}) use Erlang C with an occupancy cap of "
               f"{plan.max_occupancy:.0%}; the others use the workload model, a day's work spread over that day's "
               "business hours. Positions include shrinkage; channels are staffed separately.")


# --- the gap --------------------------------------------------------------------------------------------------------
def gap(peak: peaks.Peak, view: mq.Filters, plan: staffing.Scenario, minutes: int) -> tuple[staffing.GapReport, str]:
    """The peak's gap under the scenario, and where staffed agents came from ("roster" or "estimate")."""
    try:
        with st.spinner("Working out agents per interval…"):
            report, source = cached(staffing.peak_gap, peak, view, plan, minutes)
    except ValueError as error:  # e.g. a channel without a handle time in settings
        st.error(f"Cannot work out the staffing of this peak: {error}.")
        st.stop()
    if source == "unknown":
        st.info(UNKNOWN_STAFFING, icon=":material/person_off:")
    elif source == "estimate":
        st.info(ESTIMATOR, icon=":material/person_search:")
    else:
        st.caption("Staffed agents come from the roster: each shift counts by the share of the interval it covers; "
                   "a shift without a channel serves every channel.")
    return report, source


def gap_tiles(report: staffing.GapReport, source: str) -> None:
    totals, label = report.totals, " (est.)" if source == "estimate" else ""
    cells = st.columns(4)
    cells[0].metric("Agent-hours short", _count(totals["short_agent_hours"]), border=True,
                    help="Sum over intervals of required − staffed where that is above 0, times the interval length.")
    cells[1].metric("Agent-hours spare", _count(totals["spare_agent_hours"]), border=True,
                    help="Sum over intervals of staffed − required where that is above 0.")
    cells[2].metric("Needed / staffed hours" + label,
                    f"{_count(totals['required_agent_hours'])} / {_count(totals['staffed_agent_hours'])}", border=True,
                    help="Agent-hours the scenario needs and agent-hours staffed over the whole peak.")
    cells[3].metric("Short and slow or unhappy", _count(totals["flagged_intervals"], " intervals"), border=True,
                    help=f"Intervals with agents short whose tickets met the first reply SLA or were satisfied "
                         f"{staffing.QUALITY_DROP:.0%} (points) less often than in the baseline weeks.")


def _count(value: float | None, unit: str = "") -> str:
    """A whole number with its unit, or "—" where it is unknown."""
    return UNKNOWN if value is None else f"{value:,.0f}{unit}"


def gap_charts(report: staffing.GapReport) -> None:
    """The net-staffing bars and heatmap, then the intervals short with slow replies or low CSAT; the agents needed
    alone where staffed agents are unknown."""
    if report.totals.get("staffed_agent_hours") is None:
        chart(charts.staffing_need(report.slots), "Agents needed per interval", width="stretch", key="gap_chart")
        st.caption("Short or spare is unknown without staffed agents: the chart shows the agents each interval needs.")
        return
    chart(charts.staffing_gap(report.slots, report.minutes), "Agents short or spare per interval", width="stretch",
          key="gap_chart")
    chart(charts.staffing_heatmap(report.by_weekday_hour, WEEKDAY_NAMES), "Agents short or spare by weekday and hour",
          width="stretch", key="gap_heatmap")
    st.caption("Required − staffed per interval: red bars and cells are agents short, blue ones agents spare; the "
               "heatmap averages each weekday and hour over the peak. A triangle marks a short interval whose tickets "
               "were answered slowly or rated low.")
    table = staffing.short_and_slow(report)
    if table.is_empty():
        st.caption("No interval was both short of agents and slow to reply or low in CSAT.")
        return
    st.markdown(f"**{table.height} short interval{'s' if table.height != 1 else ''} with slow first replies or "
                "low CSAT** (tickets that arrived in them, against the baseline weeks):")
    st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * table.height, 320), placeholder=UNKNOWN,
                 column_config={c: st.column_config.NumberColumn(format="%.0f") for c in
                                ("Tickets", "Required", "Staffed", "Short", "First reply SLA %", "CSAT %")})


def required_table(report: staffing.GapReport, plan: staffing.Scenario) -> None:
    """Per channel: the model, contacts, the busiest interval's agents and the agent-hours."""
    st.dataframe(staffing.required_by_channel(report, plan), hide_index=True, width="stretch", column_config={
        "channel": "Channel", "model": "Model",
        "contacts": st.column_config.NumberColumn("Contacts", format="%.0f"),
        "handle": st.column_config.NumberColumn("Handle time", format="%.1f min"),
        "busiest": st.column_config.NumberColumn("Agents, busiest interval", format="%d"),
        "agent_hours": st.column_config.NumberColumn("Agent-hours", format="%.0f")},
        column_order=["channel", "model", "contacts", "handle", "busiest", "agent_hours"])


def after_hours_table(peak: peaks.Peak, view: mq.Filters, minutes: int, report: staffing.GapReport,
                      source: str) -> None:
    """Tickets that arrived when no agent was staffed, and how long they waited for a first reply. Staffed agents
    are the gap's own (``staffed_in``): the same window, so they are not read again."""
    covered = staffing.covered_slots(staffing.staffed_in(report))
    table = cached(staffing.after_hours_of, peak.filters(view), minutes, covered)
    if table["tickets"].sum() == 0:
        st.caption("No tickets arrived in this window.")
        return
    in_words = partial(format_value, unit="minutes")
    shown = table.with_columns(
        pl.col("share") * 100,
        mapped(table["first_reply_minutes_median"], in_words),
        mapped(table["first_reply_minutes_p90"], in_words),
    ).with_columns(pl.col("first_reply_minutes_median", "first_reply_minutes_p90").fill_null(UNKNOWN))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "coverage": "Arrived in", "tickets": "Tickets",
        "share": st.column_config.NumberColumn("Share", format="%.0f %%"), "answered": "Answered",
        "unanswered": "Not answered yet", "first_reply_minutes_median": "First reply (median)",
        "first_reply_minutes_p90": "First reply (p90)"})
    if source == "unknown":
        st.caption("Which tickets arrived after hours is unknown without staffed agents; waits are calendar time to "
                   "the first agent reply, of the tickets answered so far.")
        return
    st.caption(f"An interval is staffed when {STAFFED_SOURCES[source]} shows at least one agent in it; waits are "
               "calendar time to the first agent reply, of the tickets answered so far (— where the export gives "
               "only business-hours reply times).")


# --- the next peak --------------------------------------------------------------------------------------------------
def next_peak(view: mq.Filters, plan: staffing.Scenario, minutes: int) -> None:
    """The next configured peak's forecast, the agents it needs and the hiring plan as CSV."""
    upcoming = peaks.upcoming_peaks(cached(peaks.peak_options, view), _session_events())
    if not upcoming:
        st.info("No configured peak lies after the newest data. Add an event above or in `CSPULSE_PEAK_EVENTS`.")
        return
    by_key = {p.key: p for p in upcoming}
    peak = by_key[url_choice("Forecast for", list(by_key), "next", upcoming[0].key,
                             format_func=lambda k: by_key[k].label)]
    method = _forecast_method()
    try:
        with st.spinner("Forecasting the next peak…"):
            forecast = cached(staffing.forecast_peak, peak, view, plan, minutes, method)
    except staffing.NoHistory as missing:  # says which window and where the tickets are instead
        st.info(f"Cannot forecast {peak.label}. {missing}", icon=":material/history:")
        return
    except ValueError as error:
        st.info(f"Cannot forecast {peak.label}: {error}")
        return
    _forecast_tiles(forecast, peak)
    chart(charts.staffing_need(forecast.report.slots), f"Agents needed for {peak.label}", width="stretch",
          key="forecast_chart")


def _forecast_method() -> str:
    if cached(staffing.forecast_methods) == ("tickets",):
        st.caption("Forecast from last year's tickets (no orders loaded for the orders × contact rate method).")
        return "tickets"
    labels = {"tickets": "Last year's tickets × growth", "orders": "Orders × contact rate"}
    return url_choice("Forecast from", list(labels), "method", "tickets", format_func=labels.get, segmented=True)


def _forecast_tiles(forecast: staffing.Forecast, peak: peaks.Peak) -> None:
    report, paid_hours = forecast.report, settings().staffing_paid_hours
    short = report.totals["short_agent_hours"]
    cells = st.columns(4)
    cells[0].metric("Forecast tickets", f"{forecast.tickets:,.0f}", border=True,
                    help=f"{forecast.before.label} × {forecast.factor:.2f}")
    cells[1].metric("Agents needed, busiest interval", f"{report.slots['required'].max():,.0f}", border=True)
    cells[2].metric("Extra agent-hours to hire", _count(short), border=True)
    cells[3].metric(f"= {paid_hours:g}-hour shifts",
                    UNKNOWN if short is None else f"{staffing.shifts(short, paid_hours):,.1f}", border=True)
    how = ("last year's tickets in that window" if forecast.method == "tickets" else
           f"last year's orders in that window × the contact rate of the newest {staffing.RECENT_WEEKS} weeks (peaks "
           "raise the contact rate, so read this as a floor)")
    staffed = ("the roster" if forecast.source == "roster" else
               "unknown (no roster, and the export shows nobody at work), so the extra to hire is too"
               if forecast.source == "unknown" else
               f"as many as worked last year ({STAFFED_SOURCES[forecast.source]})")
    st.caption(f"Forecast from {forecast.before.label}: {how}, times the expected growth, carried day by day onto "
               f"{peak.label} (factor {forecast.factor:.2f} on last year's tickets). Staffed agents: {staffed}.")
    plan = staffing.hiring_plan(report, paid_hours)
    st.download_button("Download the hiring plan (CSV)", safe_csv(plan.with_columns(pl.col("slot").cast(pl.String))),
                       file_name=f"staffing-{peak.key}.csv", mime="text/csv", key="staffing_csv")
