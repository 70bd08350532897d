"""The Data page's own widgets: what the warehouse holds, its data-quality checks, and loading or clearing the demo
store."""

from __future__ import annotations

from pathlib import PurePath

import polars as pl
import streamlit as st

from data.privacy import mask_pii
from metrics import quality
from ui.session import (
    act,
    cached,
    data_replaced,
    guard,
    has_demo_data,
    imports,
    load_demo,
    row_count,
    url_choice,
    warehouse,
)
from ui.widgets import clear_demo_button

TABLES = ("tickets", "orders", "order_lines", "reviews", "roster", "traffic")


def table_counts() -> str:
    """Rows per table and the warehouse's file name; its folder would tell anyone with the link about the server."""
    counts = " · ".join(f"{name.replace('_', ' ').capitalize()}: {row_count(name):,}" for name in TABLES)
    return f"{counts} — in `{PurePath(warehouse().path).name}`"


def imports_view() -> pl.DataFrame:
    return imports().select("imported_at", "file_name", "source", "kind", "rows_read", "inserted", "updated",
                            "unchanged", "duplicates", "rejected")


def demo_controls() -> None:
    if has_demo_data():
        st.markdown("The demo store is loaded. Clearing it removes every demo ticket, order and import record.")
        clear_demo_button("controls")
    elif st.button("Load the demo store", key="load_demo", **guard("load_demo")):
        act("load_demo", load_demo)
        data_replaced()
        st.rerun()


def quality_panel() -> None:
    """Each check's count; the rows behind the one chosen (the first that finds any, by default), masked."""
    counts = {row["check"]: row for row in cached(quality.quality_counts).iter_rows(named=True)}
    worth = next((check for check, row in counts.items() if row["rows"]), next(iter(counts)))
    chosen = url_choice("Check", list(counts), "quality_check", worth,
                        format_func=lambda c: f"{counts[c]['label']} ({counts[c]['rows']:,})")
    st.caption(counts[chosen]["why"])
    rows = cached(quality.quality_rows, chosen)
    if rows.is_empty():
        st.success(f"{counts[chosen]['label']}: none found.", icon=":material/check:")
        return
    if "subject" in rows.columns:
        rows = rows.with_columns(mask_pii(rows["subject"]))
    st.dataframe(rows, hide_index=True, width="stretch", height=280)
    st.caption(f"{counts[chosen]['rows']:,} rows, the newest {rows.height:,} shown. Emails and phone numbers are "
               "masked; customers are never shown.")
