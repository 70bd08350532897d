"""How a value is shown, decided once per unit: tiles, deltas, chart axes and hovers, table columns and CSV headers
all read ``UNITS``, so a number never reads one way on a tile and another on an axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNKNOWN = "—"  # a value the data cannot give, in a tile and a table cell alike (never 0, never "None")


@dataclass(frozen=True)
class Display:
    """The formats of one unit. ``tile`` is a Python format spec, ``axis`` and ``hover`` d3 formats (Plotly),
    ``column`` a Streamlit ``NumberColumn`` format, ``header`` what a table or CSV header says the number is."""

    tile: str
    axis: str
    hover: str
    column: str
    header: str


UNITS: dict[str, Display] = {
    "count": Display(tile=",.0f", axis=",", hover=",", column="localized", header="count"),
    "fraction": Display(tile=".1%", axis=".0%", hover=".1%", column="percent", header="share"),
    "minutes": Display(tile=",.1f", axis=",.1~f", hover=",.1f", column="%.1f", header="minutes"),
    "hours": Display(tile=",.1f", axis=",.1~f", hover=",.1f", column="%.1f", header="hours"),
    "money": Display(tile=",.2f", axis=",.2f", hover=",.2f", column="%.2f", header="amount"),
    "per_100": Display(tile=".1f", axis=".1f", hover=".1f", column="%.1f", header="per 100"),
    "score": Display(tile="+.0f", axis="+d", hover="+.0f", column="%+.0f", header="points"),
}

# A duration reads in the largest of these it reaches: minutes, hours from one hour, days from two days.
DURATION_STEPS: tuple[tuple[float, float, str], ...] = ((2 * 1440, 1440.0, "d"), (60, 60.0, "h"), (0, 1.0, "min"))


def duration_scale(minutes: float | None) -> tuple[float, str]:
    """(divisor, suffix) for a duration: a tile scales by its own value, an axis or a column by its largest."""
    size = abs(minutes or 0)
    return next((divisor, suffix) for floor, divisor, suffix in DURATION_STEPS if size >= floor)


def scale(unit: str, largest: float | None) -> tuple[float, str]:
    """(divisor, suffix) of a unit for values up to ``largest``: only durations change scale."""
    if unit == "hours":
        divisor, suffix = duration_scale((largest or 0) * 60)
        return divisor / 60, suffix
    return duration_scale(largest) if unit == "minutes" else (1.0, "")


def format_value(value: float | int | None, unit: str, currency: str | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    if unit == "hours":  # a duration counted in hours reads like any other: minutes, hours or days
        return format_value(value * 60, "minutes")
    if unit == "minutes":
        divisor, suffix = duration_scale(value)
        return f"{value / divisor:{'.0f' if suffix == 'min' else '.1f'}} {suffix}"
    if unit == "score" and not round(value):
        return "0"
    text = f"{value:{UNITS[unit].tile}}"
    return f"{currency} {text}" if unit == "money" and currency else text


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


def axis(unit: str, suffix: str = "") -> dict[str, str]:
    """Plotly axis settings for values of ``unit`` already divided by its scale (``suffix`` from ``scale``)."""
    return {"tickformat": UNITS[unit].axis, **({"ticksuffix": f" {suffix}"} if suffix else {})}


def hover(unit: str, suffix: str = "", value: str = "y") -> str:
    """A Plotly hover template's number, e.g. ``%{y:,.1f} h`` (``value`` names the field: ``x``, ``y``, ``z``)."""
    return f"%{{{value}:{UNITS[unit].hover}}}" + (f" {suffix}" if suffix else "")


def column(unit: str, suffix: str = "") -> str:
    """A Streamlit number column's format; a scaled duration carries its suffix."""
    if unit == "minutes":
        return f"%.{0 if suffix == 'min' else 1}f {suffix or 'min'}"
    return UNITS[unit].column


def header(label: str, unit: str, suffix: str = "") -> str:
    """A table or CSV header that says what the number is, e.g. ``First reply (median), hours``."""
    words = {"min": "minutes", "h": "hours", "d": "days"}
    return f"{label}, {words.get(suffix, UNITS[unit].header)}"
