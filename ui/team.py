"""The Team page's own choices: its KPIs, and which one the chart starts on."""

from __future__ import annotations

from collections.abc import Sequence

from metrics.registry import other_clock
from ui.widgets import default_kpi

TEAM = ["tickets_created", "first_reply_minutes_median", "full_resolution_minutes_median", "one_touch_rate",
        "reopen_rate", "csat"]


def chart_choices(kpis: Sequence[str]) -> list[str]:
    """The table's KPIs, then the ones they replaced on the other clock: a link asking for one of those still opens
    on it and is told why it cannot be drawn."""
    replaced = [other_clock(name) for name in kpis if name not in TEAM]
    return [*kpis, *(name for name in replaced if name)]


def default_chart(kpis: Sequence[str]) -> str:
    """The first reply, else the resolution, else the volume: the first the loaded data can give."""
    return default_kpi([*kpis[1:3], kpis[0]])
