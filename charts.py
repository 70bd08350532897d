"""Charts are pure functions: a query frame and metric declarations in, a Plotly figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from metrics.registry import Metric
from metrics.units import axis_format

COLOURS = ("#3b6fb6", "#e0803a", "#4a9d6b", "#b04a5a", "#7a5fb0", "#8c8c8c")


def volume_and_speed(frame: pl.DataFrame, volume: Metric, speed: Metric, grain: str) -> go.Figure:
    """Bars of a count with a line of a duration on a second axis, per period."""
    divisor, suffix = duration_scale(frame[speed.name].max())
    speed_values = [None if v is None else v / divisor for v in frame[speed.name].to_list()]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(x=frame["period"].to_list(), y=frame[volume.name].to_list(), name=volume.label,
                   marker_color=COLOURS[0], opacity=0.75,
                   hovertemplate=f"%{{y:,}} {volume.label.lower()}<extra></extra>")
    figure.add_scatter(x=frame["period"].to_list(), y=speed_values, name=speed.label,
                       mode="lines+markers", line={"color": COLOURS[1], "width": 2.5}, secondary_y=True,
                       hovertemplate=f"%{{y:,.1f}} {suffix}<extra>{speed.label}</extra>")
    figure.update_yaxes(title_text=volume.label, secondary_y=False, rangemode="tozero", **axis_format(volume))
    figure.update_yaxes(title_text=speed.label, secondary_y=True, rangemode="tozero", showgrid=False,
                        tickformat=",.1~f", ticksuffix=f" {suffix}")
    figure.update_xaxes(title_text=f"{grain.capitalize()} starting", **period_axis(grain, frame["period"].min()))
    return _tidy(figure)


def by_dimension(frame: pl.DataFrame, metric: Metric, dimension: str) -> go.Figure:
    """Horizontal bars of one metric per value of a dimension, largest on top."""
    ordered = frame.sort(metric.name)
    figure = go.Figure(go.Bar(
        x=ordered[metric.name].to_list(), y=ordered["by_value"].to_list(), orientation="h",
        marker_color=COLOURS[0], text=ordered[metric.name].to_list(), textposition="auto",
        hovertemplate=f"%{{y}}: %{{x:,}} {metric.label.lower()}<extra></extra>",
    ))
    figure.update_xaxes(title_text=metric.label, **axis_format(metric))
    figure.update_yaxes(title_text=dimension.capitalize())
    return _tidy(figure).update_layout(hovermode="closest", showlegend=False)


def duration_scale(largest_minutes: float | None) -> tuple[float, str]:
    """Minutes read badly past a few hours: pick the unit from the largest value on the axis."""
    if largest_minutes is None or largest_minutes < 180:
        return 1.0, "min"
    return (60.0, "h") if largest_minutes < 4 * 1440 else (1440.0, "d")


def period_axis(grain: str, first: object) -> dict[str, object]:
    """Ticks on period starts (weeks start on Monday), not on Plotly's Sundays."""
    if grain == "week":
        return {"tick0": first, "dtick": 7 * 86_400_000, "tickformat": "%d %b"}
    if grain == "month":
        return {"dtick": "M1", "tickformat": "%b %Y"}
    return {"tickformat": "%d %b"}


def _tidy(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=360, hovermode="x unified",
                         legend={"orientation": "h", "y": 1.12, "x": 0}, plot_bgcolor="white")
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#eee")
    return figure
