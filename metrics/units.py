"""A unit decides the format in one place, so tiles, deltas, tables and chart axes never disagree."""

from __future__ import annotations

import math

from metrics.registry import Metric


def format_value(value: float | int | None, unit: str, currency: str | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "fraction":
        return f"{value:.1%}"
    if unit == "minutes":
        return format_minutes(value)
    if unit == "money":
        return f"{currency or ''} {value:,.2f}".strip()
    if unit == "per_100":
        return f"{value:.1f}"
    if unit == "score":
        return f"{value:+.0f}" if round(value) else "0"
    raise ValueError(f"unknown unit {unit!r}")


def format_minutes(minutes: float) -> str:
    if abs(minutes) < 60:
        return f"{minutes:.0f} min"
    if abs(minutes) < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def format_delta(
    now: float | int | None, before: float | int | None, unit: str, currency: str | None = None
) -> str | None:
    """The change as a person reads it: points for rates, the unit's own format otherwise, with a sign."""
    if now is None or before is None:
        return None
    change = now - before
    if unit == "fraction":
        return f"{change * 100:+.1f} pp"
    if unit == "score":
        return f"{change:+.0f} points"
    sign = "+" if change >= 0 else "-"  # ASCII: Streamlit reads the arrow and colour from a leading "-"
    text = format_value(abs(change), unit, currency)
    relative = f" ({change / before:+.0%})" if unit in ("count", "money") and before else ""
    return f"{sign}{text}{relative}"


def axis_format(metric: Metric) -> dict[str, str]:
    """Plotly axis settings for a metric's unit."""
    return {
        "count": {"tickformat": ","},
        "fraction": {"tickformat": ".0%"},
        "minutes": {"tickformat": ",.0f", "ticksuffix": " min"},
        "money": {"tickformat": ",.2f"},
        "per_100": {"tickformat": ".1f"},
        "score": {"tickformat": "+d"},
    }[metric.unit]
