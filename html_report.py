"""A page of CS Pulse as one self-contained HTML file to e-mail or archive: the filters and the data's date on top,
the KPI tiles with their definitions, the charts still interactive. plotly.js is inlined once and the page declares
a policy that forbids every request, so the file opens offline and shows the same without a server.

``build`` is pure (tiles and figures in, text out); ``overview`` assembles the Overview from the warehouse the way
the page does, for ``python -m metrics.report --html``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

import charts
from metrics import availability
from metrics import query as mq
from metrics.registry import BY_NAME
from metrics.tiles import (
    OVERVIEW_COMMERCE,
    OVERVIEW_FIRST_REPLY,
    OVERVIEW_SUPPORT,
    TILES_PER_ROW,
    Tile,
    kpi_tiles,
)
from settings import Settings

# Inline code and styles only: nothing may be fetched, so a forgotten URL in a figure cannot phone home.
POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
          "font-src data:")
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
DIMENSION_WORDS = {"channel": "Channels", "category": "Categories", "priority": "Priorities"}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 1200px;
       padding: 0 16px; color: #262730; }
h1 { margin-bottom: 4px; } h2 { font-size: 1.1em; margin: 28px 0 4px; }
.header { color: #555; margin: 0 0 16px; padding: 0; list-style: none; } .header li { margin: 2px 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 12px 0; }
.tile { border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px; }
.tile .label { font-size: 0.9em; color: #555; } .tile .value { font-size: 1.8em; margin: 2px 0; }
.tile .delta { font-size: 0.9em; } .good { color: #09ab3b; } .bad { color: #d83a3a; } .flat { color: #777; }
.tile .definition { font-size: 0.8em; color: #666; margin-top: 6px; }
footer { margin-top: 32px; font-size: 0.8em; color: #777; }
"""


@dataclass(frozen=True)
class Chart:
    title: str
    figure: go.Figure


Block = Sequence[Tile] | Chart  # a row of tiles or one chart, in the order the page drew them


def build(title: str, header: Sequence[str], blocks: Sequence[Block]) -> str:
    """The whole document. Every text is escaped: agent names and categories come from the helpdesk's export."""
    body = "\n".join(_chart(block) if isinstance(block, Chart) else _tiles(block) for block in blocks)
    lines = "".join(f"<li>{escape(line)}</li>" for line in header)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · CS Pulse</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>{escape(title)}</h1>
<ul class="header">{lines}</ul>
{body or "<p>This page drew no KPI tiles or charts.</p>"}
<footer>CS Pulse. Hover a chart for its values, drag to zoom, double-click to reset.</footer>
</body></html>
"""


def header_lines(filters: mq.Filters, category_label: Callable[[str], str], timezone: str,
                 data_until: date | None, generated_at: datetime) -> list[str]:
    """The view in words: dates, each filter that narrows it, how recent the data is and when this was made."""
    lines = [f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y} ({filters.days} days), compared with the "
             f"{filters.days} days before. Times in {timezone}."]
    for dimension, values in filters.dimension_values().items():
        named = [category_label(v) for v in values] if dimension == "category" else values
        lines.append(f"{DIMENSION_WORDS[dimension]}: {', '.join(named) if named else 'all'}")
    lines.append(f"Data up to {data_until:%d %b %Y}" if data_until else "No data loaded")
    lines.append(f"Generated {generated_at:%d %b %Y %H:%M} ({timezone})")
    return lines


def _tiles(row: Sequence[Tile]) -> str:
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="label">{escape(tile.label)}</div>'
        f'<div class="value">{escape(tile.value)}</div>'
        + (f'<div class="delta {_mood(tile)}">{escape(tile.delta)}</div>' if tile.delta else "")
        + f'<div class="definition">{escape(tile.definition)}</div></div>'
        for tile in row) + "</div>"


def _mood(tile: Tile) -> str:
    """As the page colours a change: a fall in a lower-is-better KPI is good, a count of tickets neither."""
    if tile.metric.better == "neither" or not tile.delta or tile.delta.lstrip("+-").startswith(("0 ", "0.0 ")):
        return "flat"
    rising = not tile.delta.startswith("-")
    return "good" if rising == (tile.metric.better == "higher") else "bad"


def _chart(chart: Chart) -> str:
    # Importing Streamlit makes its own template the default: placeholder colours (#000001…) that only its frontend
    # replaces, and no automatic margins. A copy on Plotly's own template reads the same from the app or a scheduler.
    own = go.Figure(chart.figure).update_layout(template=pio.templates["plotly"])
    figure = own.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, config=FIGURE_CONFIG)
    return f"<h2>{escape(chart.title)}</h2>\n{figure}" if chart.title else figure


# --- the Overview, for a scheduler ----------------------------------------------------------------------------------
def overview(cur: duckdb.DuckDBPyConnection, settings: Settings, filters: mq.Filters,
             category_label: Callable[[str], str], generated_at: datetime, grain: str = "week") -> str:
    """The Overview's tiles and charts, as the page draws them with its default grain."""
    support = availability.on_a_clock_with_data(cur, OVERVIEW_SUPPORT)
    rows = [support[:TILES_PER_ROW], support[TILES_PER_ROW:], list(OVERVIEW_COMMERCE)]
    blocks: list[Block] = [kpi_tiles(cur, row, filters, settings) for row in rows]
    blocks += _overview_charts(cur, settings, filters, grain)
    span = mq.data_range(cur, settings)
    header = header_lines(filters, category_label, settings.timezone, span[1] if span else None, generated_at)
    return build("Overview", header, blocks)


def _overview_charts(cur: duckdb.DuckDBPyConnection, settings: Settings, filters: mq.Filters,
                     grain: str) -> list[Chart]:
    """The page's two charts, left out where it says in words that there is nothing to draw."""
    volume = BY_NAME["tickets_created"]
    speed = BY_NAME[availability.first_available(cur, OVERVIEW_FIRST_REPLY)]
    created = mq.totals(cur, [volume.name], filters, settings)[volume.name]
    if availability.unavailable(cur, [volume.name]) or not created:
        return []
    trend = mq.query(cur, [volume.name, speed.name], filters, grain, samples=True, settings=settings)
    first = (Chart(volume.label, charts.trend(trend, volume, grain)) if trend[speed.name].drop_nulls().is_empty()
             else Chart(overview_trend_title(speed.label), charts.volume_and_speed(trend, volume, speed, grain)))
    by_channel = mq.query(cur, [volume.name], filters, by="channel", settings=settings)
    return [first, Chart("Tickets by channel", charts.by_dimension(by_channel, volume, "channel"))]


def overview_trend_title(speed_label: str) -> str:
    """"Tickets and first reply time": the page's heading over its trend, and the report's."""
    return f"Tickets and {speed_label.split(' (')[0].lower()} time"
