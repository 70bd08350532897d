"""Charts are pure functions: a query frame and metric declarations in, a Plotly figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from metrics import units
from metrics.orders_links import LINK_LABELS
from metrics.registry import Metric
from metrics.retention import DIMENSION_LABELS

COLOURS = ("#3b6fb6", "#e0803a", "#4a9d6b", "#b04a5a", "#7a5fb0", "#8c8c8c")
# A label on every one of 400 weeks overlapped, and laying them out froze a browser for most of a minute: at most
# this many, every so many periods (a quarter, half a year, a year of weeks)
MOST_TICKS = 12
TICK_STEPS = {"week": (1, 2, 4, 13, 26, 52), "month": (1, 2, 3, 6, 12)}


def volume_and_speed(frame: pl.DataFrame, volume: Metric, speed: Metric, grain: str) -> go.Figure:
    """Bars of a count with a line of a duration on a second axis, per period."""
    divisor, suffix = units.scale(speed.unit, frame[speed.name].max())
    speed_values = [None if v is None else v / divisor for v in frame[speed.name].to_list()]
    figure = _two_axes()
    figure.add_bar(x=frame["period"].to_list(), y=frame[volume.name].to_list(), name=volume.label,
                   marker_color=COLOURS[0], opacity=0.75,
                   hovertemplate=f"{units.hover(volume.unit)} {volume.label.lower()}<extra></extra>")
    figure.add_scatter(x=frame["period"].to_list(), y=speed_values, name=speed.label,
                       mode="lines+markers", line={"color": COLOURS[1], "width": 2.5}, yaxis="y2",
                       hovertemplate=f"{units.hover(speed.unit, suffix)}<extra>{speed.label}</extra>")
    figure.layout.yaxis.update(title_text=volume.label, rangemode="tozero", **units.axis(volume.unit))
    figure.layout.yaxis2.update(title_text=speed.label, rangemode="tozero", showgrid=False,
                                **units.axis(speed.unit, suffix))
    figure.update_xaxes(title_text=f"{grain.capitalize()} starting", **period_axis(grain, frame["period"]))
    return _tidy(figure)


def _two_axes() -> go.Figure:
    """An empty figure with a second y axis on the right, laid out as ``make_subplots(specs=[[{"secondary_y":
    True}]])`` lays it out, without its grid machinery (about 18 ms a chart, 1 ms this way)."""
    return go.Figure(layout={"xaxis": {"anchor": "y", "domain": [0.0, 0.94]},
                             "yaxis": {"anchor": "x", "domain": [0.0, 1.0]},
                             "yaxis2": {"anchor": "x", "overlaying": "y", "side": "right"}})


def by_dimension(frame: pl.DataFrame, metric: Metric, dimension: str) -> go.Figure:
    """Horizontal bars of one metric per value of a dimension, largest on top."""
    ordered = frame.sort(metric.name)
    figure = go.Figure(go.Bar(
        x=ordered[metric.name].to_list(), y=ordered["by_value"].to_list(), orientation="h",
        marker_color=COLOURS[0], text=ordered[metric.name].to_list(), textposition="auto",
        hovertemplate=f"%{{y}}: {units.hover(metric.unit, value='x')} {metric.label.lower()}<extra></extra>",
    ))
    figure.update_xaxes(title_text=metric.label, **units.axis(metric.unit))
    figure.update_yaxes(title_text=dimension.capitalize())
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False)


def period_axis(grain: str, periods: pl.Series) -> dict[str, object]:
    """Ticks on period starts (weeks start on Monday, not on Plotly's Sundays), every period or, over a long view, every
    few (the smallest of ``TICK_STEPS`` that keeps them to ``MOST_TICKS``); with the year where the periods cross
    one."""
    if periods.is_empty():
        return {}
    first, last = periods.min(), periods.max()
    day = "%d %b" if first.year == last.year else "%d %b %Y"  # type: ignore[union-attr]
    steps = TICK_STEPS.get(grain, (1,))
    every = next((step for step in steps if periods.n_unique() <= step * MOST_TICKS), steps[-1])
    if grain == "week":
        return {"tick0": first, "dtick": every * 7 * 86_400_000, "tickformat": day}
    if grain == "month":
        return {"tick0": first, "dtick": f"M{every}", "tickformat": "%b %Y"}
    return {"tickformat": day}


def _tidy(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=360, hovermode="x unified",
                         legend={"orientation": "h", "y": 1.12, "x": 0}, plot_bgcolor="white")
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#eee")
    return figure


def trend(frame: pl.DataFrame, metric: Metric, grain: str, *, by: str | None = None,
          overlay: pl.DataFrame | None = None, overlay_label: str = "", min_sample: int = 20) -> go.Figure:
    """One KPI per period (a line per breakdown value), the comparison period dashed on the same positions,
    and values resting on fewer than ``min_sample`` tickets drawn hollow and grey so they do not read as solid."""
    divisor, suffix = units.scale(metric.unit, frame[metric.name].max())
    figure = go.Figure()
    groups = frame.partition_by("by_value", maintain_order=True) if by else [frame]
    for i, group in enumerate(groups):
        name = str(group["by_value"][0]) if by else metric.label
        figure.add_trace(_series(group, metric, name, COLOURS[i % len(COLOURS)], divisor, suffix, min_sample))
    if overlay is not None and not overlay.is_empty():
        figure.add_trace(_overlay(frame, overlay, metric, overlay_label, divisor, suffix))
    figure.update_yaxes(title_text=metric.label, rangemode="tozero", **units.axis(metric.unit, suffix))
    if metric.unit == "count" and (frame[metric.name].max() or 0) < 5:
        figure.update_yaxes(dtick=1)  # no 0.2 of a ticket on the axis
    figure.update_xaxes(title_text=f"{grain.capitalize()} starting", **period_axis(grain, frame["period"]))
    return _tidy(figure).update_layout(hovermode="closest", clickmode="event+select")


def _series(group: pl.DataFrame, metric: Metric, name: str, colour: str, divisor: float, suffix: str,
            min_sample: int) -> go.Scatter:
    sizes = group[f"{metric.name}_n"].to_list() if f"{metric.name}_n" in group.columns else [None] * group.height
    small = [n is not None and n < min_sample for n in sizes]
    values = [None if v is None else v / divisor for v in group[metric.name].to_list()]
    by_value = group["by_value"].to_list() if "by_value" in group.columns else [""] * group.height
    return go.Scatter(
        x=group["period"].to_list(), y=values, name=name, mode="lines+markers",
        line={"color": colour, "width": 2.5},
        marker={"size": 9, "color": ["white" if s else colour for s in small],
                "line": {"color": ["#999" if s else colour for s in small], "width": 2}},
        customdata=[[str(p), b, n, "small sample" if s else ""]
                    for p, b, n, s in zip(group["period"].to_list(), by_value, sizes, small, strict=True)],
        hovertemplate=f"%{{x}}<br>{units.hover(metric.unit, suffix)}"
                      "<br>n = %{customdata[2]:,} %{customdata[3]}<extra>" + name + "</extra>",
    )


def _overlay(frame: pl.DataFrame, overlay: pl.DataFrame, metric: Metric, label: str, divisor: float,
             suffix: str) -> go.Scatter:
    # Drawn on the current periods' positions: the i-th comparison period under the i-th current one.
    positions = frame["period"].unique(maintain_order=True).to_list()
    shown = overlay.head(len(positions))
    values = [None if v is None else v / divisor for v in shown[metric.name].to_list()]
    return go.Scatter(
        x=positions[: shown.height], y=values, name=label, mode="lines",
        line={"color": "#777", "width": 2, "dash": "dash"},
        customdata=[[str(p)] for p in shown["period"].to_list()],
        hovertemplate=f"%{{customdata[0]}}: {units.hover(metric.unit, suffix)}"
                      f"<extra>{label}</extra>",
    )


def heatmap(frame: pl.DataFrame, weekday_names: tuple[str, ...]) -> go.Figure:
    """Tickets per weekday (rows, Monday on top) and local hour (columns)."""
    grid = [frame.filter(pl.col("weekday") == d).sort("hour")["tickets"].to_list() for d in range(7)]
    figure = go.Figure(go.Heatmap(
        z=grid, x=list(range(24)), y=list(weekday_names), colorscale="Blues", colorbar={"title": "Tickets"},
        hovertemplate="%{y} %{x}:00–%{x}:59: %{z:,} tickets<extra></extra>",
    ))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="Hour of day (account time zone)", dtick=2)
    return _tidy(figure).update_layout(hovermode="closest", height=300)


def buckets(frame: pl.DataFrame, title: str) -> go.Figure:
    """Tickets per duration bucket, in bucket order, with each bar's share of the total."""
    total = frame["tickets"].sum() or 1
    shares = [count / total for count in frame["tickets"].to_list()]
    figure = go.Figure(go.Bar(
        x=frame["label"].to_list(), y=frame["tickets"].to_list(), marker_color=COLOURS[0],
        text=[f"{share:.0%}" for share in shares], textposition="outside",
        hovertemplate="%{x}: %{y:,} tickets<extra></extra>",
    ))
    figure.update_yaxes(title_text="Tickets", tickformat=",")
    figure.update_xaxes(title_text=title, type="category")
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False, height=320)


def by_agent(frame: pl.DataFrame, metric: Metric, label_column: str, min_sample: int = 20) -> go.Figure:
    """One bar per agent or group for a KPI; small samples in grey, their n in the hover."""
    ordered = frame.filter(pl.col(metric.name).is_not_null()).sort(metric.name)
    divisor, suffix = units.scale(metric.unit, ordered[metric.name].max())
    sizes = ordered[f"{metric.name}_n"].to_list()
    small = [n < min_sample for n in sizes]
    figure = go.Figure(go.Bar(
        x=[v / divisor for v in ordered[metric.name].to_list()], y=ordered[label_column].to_list(),
        orientation="h", marker_color=["#c8c8c8" if s else COLOURS[0] for s in small],
        # the same shape as a trend point's: (period, breakdown value, n, note)
        customdata=[["", who, n, "small sample" if s else ""]
                    for who, n, s in zip(ordered[label_column].to_list(), sizes, small, strict=True)],
        hovertemplate=f"%{{y}}: {units.hover(metric.unit, suffix, value='x')}"
                      "<br>n = %{customdata[2]:,} %{customdata[3]}<extra></extra>",
    ))
    figure.update_xaxes(title_text=metric.label, **units.axis(metric.unit, suffix))
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False,
                                       height=max(260, 28 * ordered.height + 80))


def category_bars(table: pl.DataFrame) -> go.Figure:
    """Categories by tickets, largest on top; the label says the share and the change on the period before."""
    ordered = table.sort("tickets")
    text = [f"{share:.0%}" + ("" if change is None else f" ({change:+,})")
            for share, change in zip(ordered["share"], ordered["change"], strict=True)]
    figure = go.Figure(go.Bar(
        x=ordered["tickets"].to_list(), y=ordered["category"].to_list(), orientation="h", marker_color=COLOURS[0],
        text=text, textposition="outside", customdata=[["", slug, n, ""] for slug, n in
                                                        zip(ordered["by_value"], ordered["tickets"], strict=True)],
        hovertemplate="%{y}: %{x:,} tickets; share of the period (change on the period before): %{text}"
                      "<extra></extra>",
    ))
    figure.update_xaxes(title_text="Tickets created", tickformat=",")
    # the longest bar's label sits past the plot's right edge: room for it there, not a clipped "40%"
    return _tidy(figure).update_traces(cliponaxis=False).update_layout(
        hovermode="closest", showlegend=False, height=max(280, 30 * ordered.height + 80),
        margin={"r": 8 * max(map(len, text), default=0)})


def complaint_rates(table: pl.DataFrame, dimension_label: str, min_sample: int = 20, top: int = 15) -> go.Figure:
    """Complaints per 1,000 orders or units for the worst values of a dimension; a value sold fewer than
    ``min_sample`` times is grey, since one ticket there makes a large rate."""
    worst = table.sort("per_1000").tail(top)
    per = table["per"][0] if table.height else "orders"
    small = [sold < min_sample for sold in worst["sold"].to_list()]
    figure = go.Figure(go.Bar(
        x=worst["per_1000"].to_list(), y=worst["value"].to_list(), orientation="h",
        marker_color=["#c8c8c8" if s else COLOURS[3] for s in small],
        customdata=list(zip(worst["tickets"].to_list(), worst["sold"].to_list(), strict=True)),
        hovertemplate=f"%{{y}}: %{{x:.1f}} per 1,000 {per}<br>%{{customdata[0]}} tickets, %{{customdata[1]:,}} "
                      f"{per}<extra></extra>",
    ))
    figure.update_yaxes(title_text=dimension_label, type="category")
    figure.update_xaxes(title_text=f"Complaints per 1,000 {per}")
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False,
                                       height=max(280, 26 * worst.height + 100))


# --- staffing -----------------------------------------------------------------------------------------------------
SHORT_COLOUR, SPARE_COLOUR = "#c0392b", "#3b6fb6"  # under-staffed red, over-staffed blue, as WFM net-staffing bars


def staffing_gap(slots: pl.DataFrame, minutes: int) -> go.Figure:
    """Agents short (required − staffed above 0, red) or spare (below 0, blue) per interval; intervals short with
    slow first replies or low CSAT marked with a triangle above their bar."""
    figure = go.Figure()
    for name, colour, part in (("Agents short", SHORT_COLOUR, slots.filter(pl.col("gap") > 0)),
                               ("Agents spare", SPARE_COLOUR, slots.filter(pl.col("gap") <= 0))):
        figure.add_bar(
            x=part["slot"].to_list(), y=part["gap"].to_list(), name=name, width=minutes * 60_000 * 0.9,
            marker_color=colour, customdata=part.select("required", "staffed", "tickets").rows(),
            hovertemplate="%{x|%a %d %b %H:%M}<br>required %{customdata[0]:.0f}, staffed %{customdata[1]:.1f}"
                          "<br>gap %{y:+.1f} agents · %{customdata[2]:.0f} tickets<extra></extra>",
        )
    if "flagged" in slots.columns:
        flagged = slots.filter(pl.col("flagged"))
        figure.add_scatter(x=flagged["slot"].to_list(), y=[g + 0.6 for g in flagged["gap"].to_list()],
                           mode="markers", name="Short, with slow replies or low CSAT",
                           marker={"symbol": "triangle-down", "size": 10, "color": "#222"},
                           hovertemplate="%{x|%a %d %b %H:%M}: short, slow or unhappy<extra></extra>")
    figure.update_yaxes(title_text="Agents short (+) / spare (−)", zeroline=True, zerolinecolor="#888")
    figure.update_xaxes(title_text="Interval (account time zone)", tickformat="%a %d %b\n%H:%M")
    return _tidy(figure).update_layout(hovermode="closest", bargap=0, barmode="overlay", showlegend=True)


def staffing_heatmap(cells: pl.DataFrame, weekday_names: tuple[str, ...]) -> go.Figure:
    """Mean agents short (red) or spare (blue) per weekday and hour; weekdays the window lacks are left out."""
    rows = [(weekday_names[d], cells.filter(pl.col("weekday") == d).sort("hour")["gap"].to_list()) for d in range(7)]
    rows = [(name, values) for name, values in rows if any(v is not None for v in values)]
    largest = max((abs(v) for _, values in rows for v in values if v is not None), default=1.0) or 1.0
    figure = go.Figure(go.Heatmap(
        z=[values for _, values in rows], x=list(range(24)), y=[name for name, _ in rows], zmid=0,
        zmin=-largest, zmax=largest, colorscale=[[0, SPARE_COLOUR], [0.5, "#f7f7f7"], [1, SHORT_COLOUR]],
        colorbar={"title": "Short (+)<br>spare (−)"},
        hovertemplate="%{y} %{x}:00: %{z:+.1f} agents<extra></extra>",
    ))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="Hour of day (account time zone)", dtick=2)
    return _tidy(figure).update_layout(hovermode="closest", height=max(200, 60 + 34 * len(rows)))


def staffing_need(slots: pl.DataFrame) -> go.Figure:
    """Required and staffed agents per interval as steps, the hours to add shaded between them; required alone
    where staffed agents are unknown (all NULL)."""
    x = slots["slot"].to_list()
    figure = go.Figure()
    if slots["staffed"].is_not_null().any():
        figure.add_scatter(x=x, y=slots["staffed"].to_list(), name="Staffed", mode="lines",
                           line={"color": SPARE_COLOUR, "shape": "hv", "width": 2},
                           hovertemplate="%{x|%a %d %b %H:%M}: %{y:.1f} staffed<extra></extra>")
    figure.add_scatter(x=x, y=slots["required"].to_list(), name="Required", mode="lines",
                       line={"color": SHORT_COLOUR, "shape": "hv", "width": 2},
                       hovertemplate="%{x|%a %d %b %H:%M}: %{y:.0f} required<extra></extra>")
    figure.update_yaxes(title_text="Agents", rangemode="tozero")
    figure.update_xaxes(title_text="Interval (account time zone)", tickformat="%a %d %b\n%H:%M")
    return _tidy(figure).update_layout(hovermode="x unified")


# --- (L) tickets linked to orders -----------------------------------------------------------------------------------
LINK_COLOURS = {"order_number": COLOURS[0], "text": COLOURS[2], "customer": COLOURS[1], "none": COLOURS[5]}


def link_shares(shares: pl.DataFrame) -> go.Figure:
    """One bar of the tickets' shares by how they were linked to an order (metrics.orders_links.link_shares), in
    order of trust, "no order found" last."""
    figure = go.Figure()
    for row in shares.iter_rows(named=True):
        label = LINK_LABELS.get(row["order_link"], row["order_link"])
        figure.add_bar(x=[row["share"]], y=["Tickets"], orientation="h", name=label,
                       marker_color=LINK_COLOURS.get(row["order_link"], COLOURS[4]), text=[f"{row['share']:.0%}"],
                       textposition="inside", customdata=[row["tickets"]],
                       hovertemplate=f"{label}: %{{x:.1%}} (%{{customdata:,}} tickets)<extra></extra>")
    figure.update_xaxes(tickformat=".0%", range=[0, 1])
    figure.update_yaxes(showticklabels=False)
    return _tidy(figure).update_layout(barmode="stack", height=160, hovermode="closest",
                                       legend={"orientation": "h", "y": -0.4})


# --- orders (M) ----------------------------------------------------------------------------------------------------
def wismo_against_lag(frame: pl.DataFrame) -> go.Figure:
    """Bars of "where is my order" tickets per 100 fulfilled orders, per week, with the median fulfilment lag (hours)
    as a line on a second axis; each bar's hover names the tickets and orders it rests on."""
    weeks = frame["week"].to_list()
    figure = _two_axes()
    figure.add_bar(x=weeks, y=frame["wismo_per_100_fulfilled"].to_list(), name="WISMO per 100 fulfilled orders",
                   marker_color=COLOURS[0], opacity=0.75,
                   customdata=frame.select("wismo_tickets_shared_days", "fulfilled_orders_shared_days").to_numpy(),
                   hovertemplate="%{y:.1f} per 100 (%{customdata[0]} tickets, %{customdata[1]} orders)<extra></extra>")
    figure.add_scatter(x=weeks, y=frame["lag_hours_median"].to_list(), name="Median fulfilment lag (hours)",
                       mode="lines+markers", line={"color": COLOURS[1], "width": 2.5}, yaxis="y2",
                       hovertemplate="%{y:.0f} h<extra>Median fulfilment lag</extra>")
    figure.layout.yaxis.update(title_text="WISMO tickets per 100 fulfilled", rangemode="tozero")
    figure.layout.yaxis2.update(title_text="Median lag, hours", rangemode="tozero", showgrid=False, tickformat=",.0f")
    figure.update_xaxes(title_text="Week starting", **period_axis("week", frame["week"]))
    return _tidy(figure)


SMALL_SAMPLE_GREY = "#c8c8c8"


def repeat_by_support(table: pl.DataFrame, min_sample: int = 20) -> go.Figure:
    """Repeat purchase rate per segment (all customers, contacted or not, then how the first ticket went), top to
    bottom in the table's order; each bar says the customers it rests on, and one over fewer than ``min_sample``
    customers is grey."""
    # the two groups compared read as they are; the splits of the contacted group name what they split by
    labels = [s.capitalize() if d in ("all", "contact") else f"{DIMENSION_LABELS[d]} · {s}"
              for d, s in zip(table["dimension"], table["segment"], strict=True)]
    customers = table["customers"].to_list()
    rates = table["repeat_rate"].to_list()
    text = [f"{rate:.0%} · {n:,} customers" if rate is not None else f"{n:,} customers"
            for rate, n in zip(rates, customers, strict=True)]
    # Plotly draws no "auto" text on a bar of 0 (a real store's 0 % of 3,216 customers read as an empty chart):
    # a short bar says its figures beside it
    widest = max((rate for rate in rates if rate is not None), default=0) or 1
    positions = ["inside" if rate is not None and rate >= widest / 2 else "outside" for rate in rates]
    figure = go.Figure(go.Bar(
        x=rates, y=labels, orientation="h", text=text, textposition=positions, cliponaxis=False,
        marker_color=[SMALL_SAMPLE_GREY if n < min_sample else COLOURS[2] for n in customers],
        customdata=list(zip(customers, table["repeat_customers"].to_list(), strict=True)),
        hovertemplate="%{y}: %{x:.1%} came back<br>%{customdata[1]:,} of %{customdata[0]:,} customers<extra></extra>",
    ))
    figure.update_xaxes(title_text="Repeat purchase rate", tickformat=".0%", rangemode="tozero")
    figure.update_yaxes(autorange="reversed", type="category")
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False,
                                       height=max(280, 26 * table.height + 100))
