"""The Import page's own widgets: what each dropped file is, its preview and import, mapping an unknown export once,
and past imports with undo."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import polars as pl
import streamlit as st

from data import ingest
from data.basics import ImportRejected, sha256_bytes
from data.export import safe_csv
from data.format_types import Context
from data.formats import MAPPABLE, SOURCES
from data.plans import (
    Plan,
    load_category_columns,
    load_mappings,
    plan_files,
    run_plan,
    save_category_column,
    save_mapping,
)
from data.raw_tables import Limits
from ui.session import categorise_pending, data_replaced, flash, imports, settings, warehouse

log = logging.getLogger("cspulse")
DATE_ORDERS = {"auto": "decide per source", "DMY": "day first", "MDY": "month first"}


def source_choices() -> list[str]:
    return ["auto", *SOURCES, *(f"mapped:{name}" for name in load_mappings(warehouse()))]


def plans(uploads: Sequence[object], source: str, date_order: str) -> list[Plan]:
    """What the uploaded files are, read once per set of files and choices (nothing written yet)."""
    files = tuple((upload.name, upload.getvalue()) for upload in uploads)  # type: ignore[attr-defined]
    key = (tuple((name, sha256_bytes(content)) for name, content in files), source, date_order,
           warehouse().data_version())
    cached = st.session_state.get("_plans")
    if cached is None or cached[0] != key:
        wh = warehouse()
        ctx = Context(tz=settings().timezone, salt=ingest.pii_salt(wh, settings()), date_order=date_order)  # type: ignore[arg-type]
        with st.spinner("Reading the files…"):
            found = plan_files(files, ctx, Limits.from_settings(settings()), source, load_mappings(wh),
                               load_category_columns(wh))
        cached = (key, found)
        st.session_state["_plans"] = cached
    return cached[1]


def plan_card(plan: Plan) -> None:
    """One file (or file set): what CS Pulse found, a preview, and the button that imports it."""
    with st.container(border=True):
        st.markdown(f"**{', '.join(plan.files)}** — {plan.label}" + (f" ({plan.kind})" if plan.ok else ""))
        for note in plan.notes:
            st.caption(note)
        if not plan.recognised:
            st.warning(plan.reason)
            mapping_form(plan)
            return
        if not plan.ok:
            st.error(plan.reason)
            return
        st.caption(f"{plan.rows_read:,} records read; {plan.rejected_rows:,} cannot be read and will be left out.")
        st.dataframe(plan.preview(), hide_index=True, width="stretch")
        if plan.problems:
            _rejects(plan, "before")
        category_question(plan)
        if st.button("Import", key=f"import_{plan.sha256}", type="primary"):
            _import(plan)
        report = st.session_state.get(f"_result_{plan.sha256}")
        if report:
            _report(report)


NO_CATEGORY = "none"


def category_question(plan: Plan) -> None:
    """When several columns could hold the ticket category, ask which; the answer is remembered for files with these
    headers, and the file is read again with it."""
    if len(plan.category_candidates) < 2:
        return
    options = [*plan.category_candidates, NO_CATEGORY]
    current = plan.category_column or NO_CATEGORY
    chosen = st.selectbox("Which column holds the ticket category?", options, index=options.index(current),
                          key=f"category_column_{plan.sha256}",
                          format_func=lambda c: "none of them" if c == NO_CATEGORY else c,
                          help="The category your agents pick by hand. Its values are shown as they are on the "
                               "Complaints page, where they can be mapped onto CS Pulse's categories. Remembered "
                               "for files with these headers.")
    if chosen != current:
        save_category_column(warehouse(), plan.headers, None if chosen == NO_CATEGORY else chosen)
        st.session_state.pop("_plans", None)  # read the files again with the answer
        st.rerun()


def _import(plan: Plan) -> None:
    with st.spinner("Importing…"):
        result = run_plan(warehouse(), plan)
    if result.status == "imported":
        categorise_pending(warehouse())
        data_replaced()
    st.session_state[f"_result_{plan.sha256}"] = result
    log.info("import of %d file(s) as %s: %s", len(plan.files), plan.source, result.status)


def _report(result: ingest.ImportResult) -> None:
    if result.status == "rejected":
        st.error(f"Nothing was imported: {result.reason}")
        return
    if result.status == "already_imported":
        st.info("This file was imported before; nothing changed.")
    counts = [("Records read", result.rows_read), ("Inserted", result.inserted), ("Updated", result.updated),
              ("Unchanged", result.unchanged), ("Rejected", result.rejected_rows)]
    for cell, (label, value) in zip(st.columns(len(counts)), counts, strict=True):
        cell.metric(label, f"{value:,}")


def _rejects(plan: Plan, when: str) -> None:
    table = plan.rejects()
    cells = "1 cell" if table.height == 1 else f"{table.height:,} cells"
    with st.expander(f"{cells} cannot be read — which and why", expanded=False):
        st.caption("A record with a value that cannot be read is left out, unless the value is a duration or a "
                   "rating: then only that value stays out of the KPIs and the record is kept.")
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button("Download the reasons (CSV)", safe_csv(table), file_name="rejected-records.csv",
                           mime="text/csv", key=f"rejects_{when}_{plan.sha256}")


def mapping_form(plan: Plan) -> None:
    """Map an unknown export's columns once; the mapping is saved under a name and recognised next time."""
    with st.form(key=f"mapping_{plan.files[0]}"):
        st.markdown("**Map its columns once** — CS Pulse will recognise files with these headers next time.")
        name = st.text_input("Name this source", placeholder="e.g. kaggle-tickets")
        kind = st.radio("It holds", list(MAPPABLE), horizontal=True)
        choices = ["—", *plan.headers]
        columns = {target: st.selectbox(label + (" *" if required else ""), choices, key=f"map_{kind}_{target}")
                   for target, (label, _, required) in MAPPABLE[str(kind)].items()}
        order = st.radio("Dates like 03/04/2024 are", ["DMY", "MDY"], horizontal=True, format_func=DATE_ORDERS.get)
        if st.form_submit_button("Save mapping"):
            mapping = {"kind": kind, "date_order": order,
                       "columns": {t: h for t, h in columns.items() if h != "—"}}
            try:
                save_mapping(warehouse(), name.strip(), mapping)
            except ImportRejected as error:
                st.error(str(error))
                return
            st.session_state.pop("_plans", None)
            st.rerun()


def import_history() -> None:
    """Past imports, newest first; any of them can be undone."""
    history = imports()
    if history.is_empty():
        st.caption("No imports yet.")
        return
    view = history.select("imported_at", "file_name", "source", "kind", "rows_read", "inserted", "updated",
                          "unchanged", "rejected", "undone_at")
    # An Olist set's list of files would push the undo column out of sight.
    st.dataframe(view, hide_index=True, width="stretch",
                 column_config={"file_name": st.column_config.TextColumn("file_name", width="medium")})
    live = history.filter(pl.col("undone_at").is_null())
    if not live.is_empty():
        _undo(live)


def _undo(live: pl.DataFrame) -> None:
    labels = {row["import_id"]: f"{row['imported_at']:%Y-%m-%d %H:%M} · {row['file_name']}"
              for row in live.iter_rows(named=True)}
    chosen = st.selectbox("Undo an import", list(labels), format_func=labels.get, key="undo_choice")
    if st.button("Undo it", key="undo"):
        try:
            counts = ingest.undo_import(warehouse(), chosen)
        except ImportRejected as error:
            st.error(str(error))
            return
        data_replaced()
        flash(f"Undone: {counts['removed']:,} rows removed, {counts['restored']:,} earlier versions restored.")
