"""Widgets that two or more pages draw: KPI tiles, charts, the demo notice, captions that say what numbers mean, the
per-agent or per-category table, the tickets behind a chart's point, and the page as an HTML report (tiles and charts
record themselves as they are drawn)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import polars as pl
import streamlit as st

import html_report
from data import ingest
from data.basics import mapped
from data.export import safe_csv
from data.privacy import mask_pii
from data.schema import DEMO_SOURCE
from metrics import availability, drilldown
from metrics import query as mq
from metrics.registry import BY_NAME, Metric
from metrics.tiles import tiles
from metrics.units import UNKNOWN, column, header, scale
from ui.session import (
    act,
    cached,
    category_label,
    category_namer,
    check_link,
    current_filters,
    data_replaced,
    flash,
    guard,
    has_demo_data,
    imports,
    row_count,
    settings,
    url_bound,
    warehouse_is_empty,
)

BREAKDOWN_LABELS = {"none": "No breakdown", "channel": "Channel", "group_name": "Group", "assignee": "Agent",
                    "category": "Category", "priority": "Priority"}


def min_sample() -> int:
    return settings().min_sample


def metric_label(name: str) -> str:
    return BY_NAME[name].label


# --- demo data ------------------------------------------------------------------------------------------------------
def demo_notice() -> None:
    """Say plainly when the numbers are the demo store's, and offer to clear them."""
    if not has_demo_data():
        if warehouse_is_empty():
            st.info("The warehouse is empty. Load the demo store on the **Data** page, or import your exports.")
        return
    text, action = st.columns([5, 1], vertical_alignment="center")
    mixed = imports().filter(pl.col("undone_at").is_null() & (pl.col("source") != DEMO_SOURCE)).height
    message = ("**Demo data.** These numbers come from a generated demo store, not from your business." if not mixed
               else "**Demo data is mixed with your imports.** Clear it to see only your own numbers.")
    text.info(message, icon=":material/science:")
    with action.popover("Clear demo data"):
        clear_demo_button("notice")


def clear_demo_button(where: str) -> None:
    if st.button("Yes, remove the demo data", key=f"clear_demo_{where}", type="primary",
                 **guard("clear_data")):
        act("clear_data", ingest.clear_source, DEMO_SOURCE)
        data_replaced()
        flash("Demo data cleared.")


# --- KPI tiles ---------------------------------------------------------------------------------------------------
def kpi_row(names: Sequence[str], filters: mq.Filters, among: Sequence[str] = ()) -> None:
    """One tile per KPI (per currency for money and ratios of money) with the change against the previous period.
    ``among``: every tile of the page, read with the first row's in one cached query that the other rows then find
    (two statements for the Overview's three rows where each row's own took nine)."""
    fetched = tuple(among) or tuple(names)
    compared, sizes = cached(mq.compare_with_samples, fetched, filters)
    row = tiles(names, compared, sizes, min_sample())
    _record(row)
    for cell, tile in zip(st.columns(len(row)), row, strict=True):
        cell.metric(tile.label, tile.value, tile.delta, delta_color=tile.metric.delta_color, help=tile.definition,
                    border=True)


# --- what the numbers mean ------------------------------------------------------------------------------------------
def sample_caption(filters: mq.Filters, compared: bool = True) -> str:
    text = f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y} ({filters.days} days)"
    if compared:
        text += f", compared with the {filters.days} days before"
    return f"{text}. Times in {settings().timezone}."


def shared_days_note(filters: mq.Filters) -> None:
    """Say which of the view's days the ticket-per-order rates are over, where the helpdesk export and the orders
    export do not both cover every one of them."""
    if not (row_count("tickets") and row_count("orders")):
        return  # said by the tiles' own notes: the rates need both exports
    days = cached(mq.shared_days_in, filters)
    rates = "Tickets per 100 orders and where-is-my-order tickets per 100 fulfilled orders"
    if days is None:
        st.caption(f"{rates} are unknown (—) here: the helpdesk export and the orders export cover none of these "
                   "dates together.")
    elif days != (filters.start, filters.end):
        st.caption(f"{rates} count only {days[0]:%d %b %Y} – {days[1]:%d %b %Y}, the days of these dates both the "
                   "helpdesk export and the orders export cover: on the others one export has no rows to compare.")


def explain_missing(names: Sequence[str]) -> list[str]:
    """Say which KPIs this data cannot give and which export or setting would give them."""
    missing = cached(availability.unavailable, tuple(names))
    if missing:
        lines = [f"- **{BY_NAME[name].label}** comes from {provided_by}." for name, provided_by in missing.items()]
        st.info(f"Unavailable with the loaded data ({len(missing)}): it has none of what "
                f"{'this KPI needs' if len(missing) == 1 else 'these KPIs need'}.\n" + "\n".join(lines),
                icon=":material/info:")
    return list(missing)


def on_a_clock_with_data(names: Sequence[str]) -> list[str]:
    """The KPIs with each duration moved to the clock the loaded data gives (business hours where the export has
    only those); the rest as asked."""
    return cached(availability.on_a_clock_with_data, tuple(names))


def clock_note(asked: Sequence[str], shown: Sequence[str]) -> None:
    """Say so where a KPI is shown on the other clock than the page asks for by default."""
    moved = [BY_NAME[name].label for name, instead in zip(asked, shown, strict=True) if name != instead]
    if moved:
        what = ", ".join(dict.fromkeys(label.split(" (")[0].lower() for label in moved))  # "first reply"
        st.caption(f"Shown in business hours: the loaded data has no calendar minutes for {what}.")


def default_kpi(candidates: Sequence[str]) -> str:
    """The first of ``candidates`` the loaded data can give (a page's default choice)."""
    return cached(availability.first_available, tuple(candidates))


def no_tickets_note() -> None:
    """One sentence where a chart of the view's tickets would be empty."""
    st.info("No tickets created in these dates: widen the dates or clear a filter.", icon=":material/info:")


def explain_chart(name: str, what: str = "") -> bool:
    """Instead of an empty chart of ``what`` (the KPI's label unless given), one sentence: what is missing and which
    export gives it. True when said."""
    missing = cached(availability.unavailable, (name,))
    if name in missing:
        st.info(f"No {what or BY_NAME[name].label.lower()} to draw: the loaded data has none of what it needs. "
                f"It comes from {missing[name]}.", icon=":material/info:")
    return name in missing


def has_values(frame: pl.DataFrame, name: str) -> bool:
    """Whether a chart of ``name`` would show anything; if not, one sentence says why instead."""
    if frame.height and frame[name].drop_nulls().len():
        return True
    st.info(f"No {BY_NAME[name].label.lower()} in these dates: no ticket in them has a value for it. "
            "Widen the dates or clear a filter.", icon=":material/info:")
    return False


def definition(metric: Metric, frame: pl.DataFrame) -> None:
    """The declared definition, the clock, and how many tickets each value rests on."""
    text = f"**{metric.label}**: {metric.description}"
    if "business" in metric.name:
        s = settings()
        text += (f" Business hours are {s.business_hours_start:%H:%M}–{s.business_hours_end:%H:%M} "
                 f"({', '.join(s.business_days)}, {s.timezone}) from settings wherever the export has no "
                 "business-hour column.")
    st.caption(f"{text} {sample_sizes(frame, metric.name)}")


def sample_sizes(frame: pl.DataFrame, name: str) -> str:
    """"Each value rests on a–b tickets", marking small samples (drawn grey), for a chart's caption."""
    sizes = frame.get_column(f"{name}_n", default=pl.Series([], dtype=pl.Int64)).drop_nulls()
    if sizes.is_empty():
        return ""
    low, high, minimum = int(sizes.min()), int(sizes.max()), min_sample()  # type: ignore[arg-type]
    span = f"{low:,}" if low == high else f"{low:,}–{high:,}"
    text = f"Each {BY_NAME[name].label.lower()} value rests on {span} tickets"
    return text + (f"; a value over fewer than {minimum} is drawn grey: an indication, not a result."
                   if low < minimum else ".")


# --- one row per agent, group or category ---------------------------------------------------------------------------
def team_table(frame: pl.DataFrame, names: Sequence[str], by: str) -> None:
    """Each KPI beside its sample size; small samples greyed, every column sortable."""
    if by == "category":
        frame = frame.with_columns(mapped(frame["by_value"], category_namer()))
    shown = frame.rename({"by_value": BREAKDOWN_LABELS[by]})
    columns: dict[str, object] = {BREAKDOWN_LABELS[by]: st.column_config.TextColumn(pinned=True)}
    headers = {BREAKDOWN_LABELS[by]: BREAKDOWN_LABELS[by]}
    for name in names:
        metric = BY_NAME[name]
        divisor, suffix = scale(metric.unit, shown[name].max())  # one scale per column, from its largest value
        shown = shown.with_columns(pl.col(name) / divisor)
        columns[name] = st.column_config.NumberColumn(metric.label, help=metric.description,
                                                      format=column(metric.unit, suffix))
        columns[f"{name}_n"] = st.column_config.NumberColumn("n", help=f"Tickets behind {metric.label.lower()}",
                                                             format="localized")
        headers |= {name: header(metric.label, metric.unit, suffix), f"{name}_n": f"{metric.label}, tickets"}
    # a count is its own sample size
    order = [BREAKDOWN_LABELS[by], *[c for name in names
                                     for c in ((name,) if BY_NAME[name].unit == "count" else (name, f"{name}_n"))]]
    styled = shown.select(order).to_pandas().style.apply(_grey_small_samples, names=names, axis=None)
    st.dataframe(styled, hide_index=True, width="stretch", column_config=columns, column_order=order,
                 placeholder=UNKNOWN)
    st.caption(f"Click a column header to sort. Grey values rest on fewer than {min_sample()} tickets.")
    st.download_button("Download this table (CSV)", safe_csv(shown.select(order).rename(headers, strict=False)),
                       file_name=f"kpis-per-{by}.csv", mime="text/csv", key=f"table_csv_{by}")


def _grey_small_samples(table: object, names: Sequence[str]) -> object:
    styles = table.copy().astype(object)  # type: ignore[attr-defined]
    styles[:] = ""
    for name in names:
        if BY_NAME[name].unit == "count":
            continue
        small = table[f"{name}_n"] < min_sample()  # type: ignore[index]
        styles.loc[small, name] = "color: #9a9a9a; font-style: italic"  # type: ignore[attr-defined]
    return styles


# --- the tickets behind a point -------------------------------------------------------------------------------------
def drill_down(event: object, frame: pl.DataFrame, metric: Metric, filters: mq.Filters, grain: str | None,
               by: str | None) -> None:
    """The tickets behind one point or bar: chosen by clicking the chart, or with the pickers (keyboard users)."""
    st.markdown("**Tickets behind a point** — click a point or bar, or pick it here.")
    _apply_click(event, by)
    left, right = st.columns(2)
    right = right if grain is not None else left
    period = None
    if grain is not None:
        periods = [p.isoformat() for p in frame["period"].unique(maintain_order=True).to_list()]
        period = left.selectbox("Period", periods, key="drill_period", index=None, placeholder="Choose a period")
    value = None
    if by is not None:
        values = sorted(str(v) for v in frame["by_value"].unique().to_list())
        value = right.selectbox(BREAKDOWN_LABELS[by], values, key="drill_value", index=None,
                                placeholder=f"All {BREAKDOWN_LABELS[by].lower()}s")
    if period is None and value is None:
        return
    scope = drilldown.period_filters(filters, date.fromisoformat(period), grain) if period else filters
    table = cached(drilldown.tickets_behind, metric.name, scope, by=by if value else None, by_value=value)
    _ticket_table(table.with_columns(mask_pii(table["subject"])), metric, scope)  # masked before it leaves


def _apply_click(event: object, by: str | None) -> None:
    points = (event or {}).get("selection", {}).get("points", [])  # type: ignore[attr-defined]
    data = next((p.get("customdata") for p in points if len(p.get("customdata") or []) >= 2), None)
    if not data or data == st.session_state.get("_drill_clicked"):
        return  # a selection Streamlit keeps across reruns must not undo a choice made in the pickers since
    st.session_state["_drill_clicked"] = data
    if data[0]:
        st.session_state["drill_period"] = data[0]
    if by is not None:
        st.session_state["drill_value"] = data[1]


def _ticket_table(table: pl.DataFrame, metric: Metric, scope: mq.Filters) -> None:
    more = " (the newest shown)" if table.height >= drilldown.DRILL_LIMIT else ""
    count = f"{table.height:,} ticket{'' if table.height == 1 else 's'}"
    st.caption(f"{count}{more} behind {metric.label.lower()}, {scope.start:%d %b} – "
               f"{scope.end:%d %b %Y}. Emails and phone numbers are masked.")
    st.dataframe(table, hide_index=True, width="stretch", height=320)
    st.download_button("Download these tickets (CSV)", safe_csv(table), key="drill_csv", mime="text/csv",
                       file_name=f"tickets-{metric.name}-{scope.start}-{scope.end}.csv")


def grain_control(label: str = "Grain") -> str:
    """Day, week or month, kept in the URL (``?grain=``, shared by the pages that draw a trend)."""
    grains = ["day", "week", "month"]
    check_link("grain", grains.__contains__, "day, week or month")
    return st.segmented_control(label, grains, default="week", **url_bound("grain")) or "week"


# --- the page as an HTML report -------------------------------------------------------------------------------------
REPORT_BLOCKS = "_report_blocks"


def report_download(title: str) -> None:
    """One sidebar button that downloads the tiles and charts the page draws in this run, with the filters and the
    data's date on top. Drawn before the page runs, so that a page that stops early (no peak, no orders) still has
    it: the button holds this run's list, which the page fills as it draws, and the file is written from it only
    when clicked, so a rerun never pays for the document."""
    blocks: list[html_report.Block] = []
    st.session_state[REPORT_BLOCKS] = blocks  # a fresh list each run: a run cut short leaves nothing to the next
    filters, zone = current_filters(), settings().timezone
    span = cached(mq.data_range)
    header = html_report.header_lines(filters, category_label, zone, span[1] if span else None,
                                      datetime.now(ZoneInfo(zone)))
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    st.sidebar.download_button(
        "Download this view (HTML)", partial(_report, title, header, blocks), key="report_html", mime="text/html",
        file_name=f"cs-pulse-{slug}-{filters.start}-{filters.end}.html", on_click="ignore",
        help="This page's KPI tiles and charts in one HTML file that opens offline, to e-mail or archive.")


def _report(title: str, header: list[str], blocks: list[html_report.Block]) -> str:
    return html_report.build(title, header, tuple(blocks))


def _record(block: html_report.Block) -> None:
    st.session_state.setdefault(REPORT_BLOCKS, []).append(block)


def chart(figure: go.Figure, title: str = "", **kwargs: Any) -> Any:
    """``st.plotly_chart`` that also puts the figure, under ``title``, into the page's HTML report; returns the
    chart's selection state where ``on_select`` asks for one."""
    _record(html_report.Chart(title, figure))
    return st.plotly_chart(figure, **kwargs)
