"""The Import page's own widgets: what each dropped file is, its preview and import, mapping an unknown export once,
and past imports with undo."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import PurePath
from typing import NoReturn

import polars as pl
import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

from data import ingest
from data.basics import ImportRejected
from data.export import safe_csv
from data.format_types import Context
from data.formats import MAPPABLE, SOURCES, guess_kind, guess_mapping
from data.plans import (
    Plan,
    load_category_columns,
    load_mappings,
    load_source_zones,
    plan_tables,
    run_plan,
    save_category_column,
    save_mapping,
    save_source_zone,
    time_zones,
)
from data.raw_tables import FileRejected, Limits, RawTable, read_table
from data.read_worker import Progress, ReadFailed, Reading
from data.uploads import Received, ReceivedFile
from ui.session import act, data_replaced, flash, guard, imports, settings, warehouse

log = logging.getLogger("cspulse")
DATE_ORDERS = {"auto": "decide per source", "DMY": "day first", "MDY": "month first"}


def source_choices() -> list[str]:
    return ["auto", *SOURCES, *(f"mapped:{name}" for name in _mapping_names(warehouse().data_version()))]


@st.cache_data(show_spinner=False)
def _mapping_names(version: int) -> list[str]:
    """The saved mappings' names, read once per data version. Saving one leaves the version as it is (a mapping is
    not data), so ``_save_mapping`` clears this cache; the page is the only place a mapping is saved."""
    return list(load_mappings(warehouse()))


def uploader() -> list[ReceivedFile]:
    """The drop zone for exports, and the files received and not yet imported, each with a way to remove it.

    A dropped file's bytes go to a private temp file at once (data.uploads) and Streamlit's copy is let go: the
    server's memory does not hold a file while it waits for its import. Several files whose sizes together pass the
    upload limit are not kept: the plans hold each file's table in memory until its import. (One file over the limit
    is refused by data.raw_tables.)"""
    round_ = st.session_state.get("_upload_round", 0)
    # a new key once the files are received: a fresh, empty uploader (see _let_go_of)
    uploads = st.file_uploader("Exports", type=["csv", "tsv", "txt", "xlsx"], accept_multiple_files=True,
                               key=f"uploads_{round_}" if round_ else "uploads") or []
    if uploads:
        _receive(uploads)
    if refused := st.session_state.get("_upload_refused"):
        st.error(refused)
    received = _received()
    _received_list(received)
    return list(received.files)


def _received() -> Received:
    """This session's received files; when the session ends, its state goes and the files with it."""
    if "_received" not in st.session_state:
        st.session_state["_received"] = Received()
    return st.session_state["_received"]


def _receive(uploads: Sequence[UploadedFile]) -> NoReturn:
    st.session_state.pop("_imported", None)
    st.session_state.pop("_upload_refused", None)
    received = _received()
    total, limit = received.total_size + sum(upload.size for upload in uploads), settings().upload_max_bytes
    count = len(received.files) + len(uploads)
    if count > 1 and total > limit:
        st.session_state["_upload_refused"] = (
            f"These {count} files come to {_size(total)} together, more than the {_size(limit)} CS Pulse reads at "
            f"once; not kept: {', '.join(upload.name for upload in uploads)}. Import the files in turns.")
    else:
        for upload in uploads:
            received.add(upload.name, upload.getvalue())
    _let_go_of(uploads)


def _let_go_of(uploads: Sequence[UploadedFile]) -> NoReturn:
    """Drop Streamlit's copy of the bytes: a new uploader key clears the widget, but not Streamlit's store of its
    files, which keeps them until the session ends. Then the page is drawn again with an empty uploader."""
    ctx = get_script_run_ctx()
    # remove_file is not part of Streamlit's file store protocol: st.chat_input checks for the in-memory store too
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        for upload in uploads:
            ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=upload.file_id)
    round_ = st.session_state.get("_upload_round", 0)
    key = f"uploads_{round_}" if round_ else "uploads"
    # The widget's stored value holds the files too, until the end of the next complete run: that run reads them.
    if key in st.session_state:
        del st.session_state[key]
    st.session_state["_upload_round"] = round_ + 1
    st.rerun()


def _received_list(received: Received) -> None:
    for file in received.files:
        name, size, remove = st.columns([6, 2, 1], vertical_alignment="center")
        name.markdown(f"📄 {file.name}")
        size.caption(_size(file.size))
        if remove.button("Remove", key=f"remove_{file.file_id}", help="Let go of this file; a read under way stops"):
            received.remove(file.file_id)
            st.session_state.pop("_plans", None)
            st.rerun()


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def plans(received: Sequence[ReceivedFile], source: str, date_order: str) -> list[Plan]:
    """What the received files are, read once per set of files and choices (nothing written yet)."""
    if not received:
        st.session_state.pop("_plans", None)
        return []
    zones = load_source_zones(warehouse())
    key = (tuple((file.file_id, file.sha256) for file in received), source, date_order,
           warehouse().data_version(), tuple(sorted(zones.items())))
    cached = st.session_state.get("_plans")
    if cached is None or cached[0] != key:
        st.session_state.pop("_plans", None)  # the old plans' frames go before the new ones are read
        wh = warehouse()
        ctx = Context(tz=settings().timezone, salt=ingest.pii_salt(wh, settings()), date_order=date_order)  # type: ignore[arg-type]
        raws, unreadable = _read(received, source)
        with st.spinner("Checking the records…"):
            found = unreadable + plan_tables(raws, ctx, source, load_mappings(wh),
                                             category_columns=load_category_columns(wh), zones=zones)
        cached = (key, found)
        st.session_state["_plans"] = cached
    return cached[1]


# A child process costs about a second to start; a CSV up to this size is read sooner in the server itself.
IN_SERVER_MAX_BYTES = 20_000_000


def _read(received: Sequence[ReceivedFile], source: str) -> tuple[list[RawTable], list[Plan]]:
    """Each file as a table of text cells, or a rejected plan saying why it cannot be read."""
    raws, unreadable = [], []
    limits = Limits.from_settings(settings())
    for file in received:
        try:
            raws.append(_raw_table(file, limits))
        except ImportRejected as error:
            file.rejected = str(error)
            unreadable.append(Plan([file.name], source, "unknown", "unreadable", reason=str(error)))
    return raws, unreadable


def _raw_table(file: ReceivedFile, limits: Limits) -> RawTable:
    kept = file.kept_table()
    if kept is not None:
        return kept
    if file.size <= IN_SERVER_MAX_BYTES and not file.name.lower().endswith(".xlsx"):
        with st.spinner(f"Reading {file.name}…"):
            return read_table(file.path.read_bytes(), file.name, limits)
    table = _read_in_child(file, limits)
    file.remember(table)
    return table


def _read_in_child(file: ReceivedFile, limits: Limits) -> RawTable:
    """Read by data.read_worker, the page showing how far it got. Any rerun (the file's Remove button, another
    choice, leaving the page) stops this run at its next progress update, and the child with it."""
    reading = Reading(file.path, file.name, limits, file.table_path)
    started = time.monotonic()
    try:
        with st.status(f"Reading {file.name}…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting…")
            for event in reading.events():
                bar.progress(*_progress_of(event, time.monotonic() - started))
            try:
                table = reading.table()
            except ReadFailed as error:
                log.error("reading an upload failed: %s", error)
                status.update(label=f"{file.name} could not be read", state="error")
                raise FileRejected(f"{file.name}: CS Pulse could not read this file (its reader stopped); the "
                                   "server's log says more") from None
            status.update(label=f"{file.name}: {table.frame.height:,} records read", state="complete",
                          expanded=False)
        return table
    finally:
        reading.cancel()


def _progress_of(event: Progress | None, seconds: float) -> tuple[float, str]:
    if event is None or not event.most:
        return 0.0, f"Reading… {seconds:,.0f} s (remove the file above to stop)"
    return (min(1.0, event.done / event.most),
            f"{event.done:,} of at most {event.most:,} rows read, {seconds:,.0f} s (remove the file above to stop)")


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


def _release_uploads() -> NoReturn:
    """Once every dropped file is imported, let go of them: the plans' frames and the received files on disk. The
    results move to ``just_imported``; then the page is drawn again."""
    dropped = st.session_state.pop("_plans", (None, []))[1]
    # the words of each card, never the plan: it holds the frames
    st.session_state["_imported"] = [(f"**{', '.join(plan.files)}** — {plan.label} ({plan.kind})",
                                      st.session_state.pop(f"_result_{plan.sha256}")) for plan in dropped
                                     if f"_result_{plan.sha256}" in st.session_state]
    _received().clear()
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
    _mapping_names.clear()
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
