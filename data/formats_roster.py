"""Agent rosters: one row per shift (agent, start, end, optionally the channel it serves), as a workforce tool
or a spreadsheet exports them. Times without an offset are read on the account's clock, like helpdesk exports."""

from __future__ import annotations

import polars as pl

from data.format_types import CHANNELS, Context, Field, Format, Typed


def shape_roster(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    """Shifts that end before they start are left out and counted in the notes; a shift's start dates it."""
    frame = typed.frame
    backwards = frame.select((pl.col("ends_at") <= pl.col("starts_at")).fill_null(False).sum()).item()
    if backwards:
        typed.notes.append(f"{backwards} shifts end before they start; they are left out.")
        frame = frame.filter(pl.col("ends_at") > pl.col("starts_at"))
    named = pl.col("channel").str.strip_chars().str.to_lowercase()
    # an empty channel is a shift that serves every channel, not one for "other"
    channel = (pl.when(named != "").then(named.replace_strict(CHANNELS, default="other"))
               if "channel" in frame.columns else pl.lit(None, pl.String))
    return {"roster": frame.with_columns(channel.alias("channel"), pl.col("starts_at").alias("updated_at"),
                                         pl.col("agent").str.strip_chars())}


ROSTER = Format(
    source="roster",
    kind="roster",
    label="Agent roster (shifts)",
    signature=("agent", "start", "end"),
    fields=(
        Field("agent", ("agent", "agent name", "name"), required=True),
        Field("starts_at", ("start", "shift start", "starts at"), "timestamp", required=True),
        Field("ends_at", ("end", "shift end", "ends at"), "timestamp", required=True),
        Field("channel", ("channel", "queue")),
    ),
    shape=shape_roster,
)
