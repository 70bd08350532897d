"""The Import page's own widgets: what each dropped file is, its preview and import, mapping an unknown export once,
and past imports with undo."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import PurePath

import polars as pl
import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from data import ingest
from data.basics import ImportRejected, sha256_bytes
from data.export import safe_csv
from data.format_types import Context
from data.formats import MAPPABLE, SOURCES, guess_kind, guess_mapping
from data.plans import (
    Plan,
    load_category_columns,
    load_mappings,
    load_source_zones,
    plan_files,
    run_plan,
    save_category_column,
    save_mapping,
    save_source_zone,
    time_zones,
)
from data.raw_tables import Limits
from ui.session import act, data_replaced, flash, guard, imports, settings, warehouse

log = logging.getLogger("cspulse")
DATE_ORDERS = {"auto": "decide per source", "DMY": "day first", "MDY": "month first"}


def source_choices() -> list[str]:
    return ["auto", *SOURCES, *(f"mapped:{name}" for name in load_mappings(warehouse()))]


def uploader() -> list[object]:
    """The drop zone for exports. Several files whose sizes together pass the upload limit are not read: reading
    holds several times a file's size in memory until its import, and a few files of 200 MB each would exhaust the
    server. (One file over the limit is refused by data.raw_tables, without reading it.)"""
    round_ = st.session_state.get("_upload_round", 0)
    # a new key after each import: a fresh, empty uploader (see _release_uploads)
    uploads = st.file_uploader("Exports", type=["csv", "tsv", "txt", "xlsx"], accept_multiple_files=True,
                               key=f"uploads_{round_}" if round_ else "uploads") or []
    if uploads:
        st.session_state.pop("_imported", None)
    total, limit = sum(upload.size for upload in uploads), settings().upload_max_bytes
    if len(uploads) > 1 and total > limit:
        st.error(f"These {len(uploads)} files come to {_size(total)} together, more than the {_size(limit)} CS Pulse "
                 "reads at once. Remove some of them and import them in turns.")
        return []
    return list(uploads)


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def plans(uploads: Sequence[object], source: str, date_order: str) -> list[Plan]:
    """What the uploaded files are, read once per set of files and choices (nothing written yet)."""
    if not uploads:
        st.session_state.pop("_plans", None)
        return []
    files = tuple((upload.name, upload.getvalue()) for upload in uploads)  # type: ignore[attr-defined]
    zones = load_source_zones(warehouse())
    key = (tuple((name, sha256_bytes(content)) for name, content in files), source, date_order,
           warehouse().data_version(), tuple(sorted(zones.items())))
    cached = st.session_state.get("_plans")
    if cached is None or cached[0] != key:
        wh = warehouse()
        ctx = Context(tz=settings().timezone, salt=ingest.pii_salt(wh, settings()), date_order=date_order)  # type: ignore[arg-type]
        with st.spinner("Reading the files…"):
            found = plan_files(files, ctx, Limits.from_settings(settings()), source, load_mappings(wh),
                               category_columns=load_category_columns(wh), zones=zones)
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
        clock_choice(plan)
        st.dataframe(plan.preview(), hide_index=True, width="stretch")
        if plan.problems:
            _rejects(plan, "before")
        category_question(plan)
        if st.button("Import", key=f"import_{plan.sha256}", type="primary", **guard("import")):
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
        act("map_columns", save_category_column, plan.headers, None if chosen == NO_CATEGORY else chosen)
        st.session_state.pop("_plans", None)  # read the files again with the answer
        st.rerun()


def _import(plan: Plan) -> None:
    with st.spinner("Importing…"):
        result = act("import", run_plan, plan)
    if result.status == "imported":
        data_replaced()
    st.session_state[f"_result_{plan.sha256}"] = result
    log.info("import of %d file(s) as %s: %s", len(plan.files), plan.source, result.status)
    if result.status != "rejected" and not _still_waiting():
        _release_uploads()


def _still_waiting() -> bool:
    """Whether a dropped file still waits for its import, or for its columns to be mapped."""
    dropped = st.session_state.get("_plans", (None, []))[1]
    return any((plan.ok or not plan.recognised) and f"_result_{plan.sha256}" not in st.session_state
               for plan in dropped)


def _release_uploads() -> None:
    """Once every dropped file is imported, let go of them: the plans' frames, and the bytes Streamlit keeps until the
    session ends (a new uploader key clears the widget, but not Streamlit's store of its files). The results move
    to ``just_imported``; then the page is drawn again with an empty uploader."""
    dropped = st.session_state.pop("_plans", (None, []))[1]
    # the words of each card, never the plan: it holds the frames
    st.session_state["_imported"] = [(f"**{', '.join(plan.files)}** — {plan.label} ({plan.kind})",
                                      st.session_state.pop(f"_result_{plan.sha256}")) for plan in dropped
                                     if f"_result_{plan.sha256}" in st.session_state]
    round_ = st.session_state.get("_upload_round", 0)
    uploads = st.session_state.get(f"uploads_{round_}" if round_ else "uploads") or []
    ctx = get_script_run_ctx()
    # remove_file is not part of Streamlit's file store protocol: st.chat_input checks for the in-memory store too
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        for upload in uploads:
            ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=upload.file_id)
    st.session_state["_upload_round"] = round_ + 1
    st.rerun()


def just_imported() -> None:
    """What the last import did, after its files were let go; until other files are dropped."""
    for title, result in st.session_state.get("_imported", []):
        with st.container(border=True):
            st.markdown(title)
            _report(result)


def _report(result: ingest.ImportResult) -> None:
    if result.status == "rejected":
        st.error(f"Nothing was imported: {result.reason}")
        return
    if result.status == "already_imported":
        st.info("This file was imported before; nothing changed.")
    counts = [("Records read", result.rows_read), ("Inserted", result.inserted), ("Updated", result.updated),
              ("Unchanged", result.unchanged), ("Duplicates merged", result.duplicates),
              ("Rejected", result.rejected_rows)]
    for cell, (label, value) in zip(st.columns(len(counts)), counts, strict=True):
        cell.metric(label, f"{value:,}")
    if result.duplicates:
        _repeats(result)


def _repeats(result: ingest.ImportResult) -> None:
    """Rows that repeat another row's id: how many, which one was kept (data.ingest.newest_per_key), the list."""
    repeated = result.repeated if result.repeated is not None else pl.DataFrame()
    column = repeated["column"][0] if repeated.height else "id"
    rows = "1 row repeats" if result.duplicates == 1 else f"{result.duplicates:,} rows repeat"
    st.info(f"{rows} the {column} of another row; the newest kept: the row with the latest update time, or the first "
            "in the file where the times are equal. The repeats are left out.")
    if repeated.height:
        st.download_button("Download the repeated rows (CSV)", safe_csv(repeated), file_name="repeated-rows.csv",
                           mime="text/csv", key=f"repeats_{result.import_id}")


def _rejects(plan: Plan, when: str) -> None:
    table = plan.rejects()
    cells = "1 cell" if table.height == 1 else f"{table.height:,} cells"
    with st.expander(f"{cells} cannot be read — which and why", expanded=False):
        st.caption("A record with a value that cannot be read is left out, unless the value is a duration or a "
                   "rating: then only that value stays out of the KPIs and the record is kept.")
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button("Download the reasons (CSV)", safe_csv(table), file_name="rejected-records.csv",
                           mime="text/csv", key=f"rejects_{when}_{plan.sha256}")


def clock_choice(plan: Plan) -> None:
    """The zone an export's times without an offset are read on; a new choice is remembered for its source and the
    file is read again on it."""
    if not plan.naive_times:
        return
    zones = sorted({*time_zones(), plan.clock})
    # The clock in the key: after a choice the file is read again, and the box starts over on the new clock.
    chosen = st.selectbox("Time zone of this export", zones, index=zones.index(plan.clock),
                          key=f"zone_{plan.sha256}_{plan.clock}",
                          help="Its times carry no offset. The zone you choose is remembered: every later "
                               f"{plan.label} is read on it too. A file imported before keeps the times it was "
                               "read with: undo that import below, then import the file again.")
    if chosen != plan.clock:
        act("map_columns", save_source_zone, plan.source, chosen)
        st.session_state.pop("_plans", None)
        st.rerun()


NOT_MAPPED = "—"


def mapping_form(plan: Plan) -> None:
    """Map an unknown export's columns once; the mapping is saved under a name and recognised next time.

    Not an ``st.form``: the fields follow the kind as soon as it is chosen. Each starts on the header whose name
    matches it best (data.formats.guess_mapping), marked as a guess.
    """
    key = f"map_{plan.files[0]}"
    st.markdown("**Map its columns once** — CS Pulse will recognise files with these headers next time.")
    name = st.text_input("Name this source", value=_source_name(plan.files[0]), key=f"{key}_name")
    kinds = list(MAPPABLE)
    kind = st.radio("It holds", kinds, index=kinds.index(guess_kind(plan.headers)), horizontal=True,
                    key=f"{key}_kind")
    st.caption("Each field starts on the header whose name matches it, marked “guessed from the header”: check "
               "them before saving. Fields marked * are needed.")
    columns = _mapping_fields(str(kind), plan.headers, key)
    currency = ""
    if kind == "orders" and "currency" not in columns:
        currency = st.text_input("Currency of every amount (no column names it)", key=f"{key}_currency",
                                 placeholder="ISO code, e.g. GBP")
    orders = ["DMY", "MDY"]
    order = st.radio("Dates like 03/04/2024 are", orders, horizontal=True, format_func=DATE_ORDERS.get,
                     index=orders.index(plan.date_order_seen) if plan.date_order_seen in orders else 0,
                     key=f"{key}_date_order")
    unread = [header for header in plan.headers if header not in columns.values()]
    if unread:
        st.caption(f"Not read: {', '.join(unread)}.")
    if st.button("Save mapping", key=f"{key}_save", type="primary"):
        currency_code = {"currency": currency.strip()} if currency.strip() else {}
        _save_mapping(name.strip(), {"kind": kind, "date_order": order, "columns": columns, **currency_code})


def _mapping_fields(kind: str, headers: list[str], key: str) -> dict[str, str]:
    """One box per target of the kind, three to a row; target -> the header chosen."""
    guess = guess_mapping(kind, headers)
    choices = [NOT_MAPPED, *headers]
    cells = st.columns(3)
    chosen = {}
    for position, (target, (label, _, required)) in enumerate(MAPPABLE[kind].items()):
        guessed = guess.get(target)
        header = cells[position % 3].selectbox(
            label + (" *" if required else ""), choices, index=choices.index(guessed) if guessed else 0,
            key=f"{key}_{kind}_{target}",
            format_func=lambda h, g=guessed: f"{h} (guessed from the header)" if h == g else h)
        if header != NOT_MAPPED:
            chosen[target] = header
    return chosen


def _save_mapping(name: str, mapping: dict[str, object]) -> None:
    try:
        act("map_columns", save_mapping, name, mapping)
    except ImportRejected as error:
        st.error(str(error))
        return
    st.session_state.pop("_plans", None)  # read the files again: this one is now recognised
    st.rerun()


def _source_name(file_name: str) -> str:
    """A name for the source from its file's name: "Online Retail.csv" -> "online-retail"."""
    return re.sub(r"[^a-z0-9]+", "-", PurePath(file_name).stem.lower()).strip("-")


def import_history() -> None:
    """Past imports, newest first; any of them can be undone."""
    history = imports()
    if history.is_empty():
        st.caption("No imports yet.")
        return
    view = history.select("imported_at", "file_name", "source", "kind", "rows_read", "inserted", "updated",
                          "unchanged", "duplicates", "rejected", "undone_at")
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
    if st.button("Undo it", key="undo", **guard("undo_import")):
        try:
            counts = act("undo_import", ingest.undo_import, chosen)
        except ImportRejected as error:
            st.error(str(error))
            return
        data_replaced()
        flash(f"Undone: {counts['removed']:,} rows removed, {counts['restored']:,} earlier versions restored.")
