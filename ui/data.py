"""The Data page's own widgets: what the warehouse holds, and loading or clearing the demo store."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ui.session import categorise_pending, data_replaced, has_demo_data, imports, load_demo, row_count, warehouse
from ui.widgets import clear_demo_button

TABLES = ("tickets", "orders", "order_lines", "reviews", "roster", "traffic")


def table_counts() -> str:
    counts = " · ".join(f"{name.replace('_', ' ').capitalize()}: {row_count(name):,}" for name in TABLES)
    return f"{counts} — in `{warehouse().path}`"


def imports_view() -> pl.DataFrame:
    return imports().select("imported_at", "file_name", "source", "kind", "rows_read", "inserted", "updated",
                            "unchanged", "rejected")


def demo_controls() -> None:
    if has_demo_data():
        st.markdown("The demo store is loaded. Clearing it removes every demo ticket, order and import record.")
        clear_demo_button("controls")
    elif st.button("Load the demo store", key="load_demo"):
        load_demo(warehouse())
        categorise_pending(warehouse())
        data_replaced()
        st.rerun()
