"""The Streamlit glue: the cached warehouse, cached queries, the shared filters and the KPI tiles.

Pages call these and draw; ``metrics`` and ``data`` never import Streamlit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import NoReturn

import polars as pl
import streamlit as st

import charts
from data import categorise, demo, ingest
from data.cast import mask_pii
from data.classify import TaxonomyError
from data.csvread import Limits
from data.export import safe_csv
from data.formats import MAPPABLE, SOURCES
from data.pipeline import Plan, load_mappings, plan_files, run_plan, save_mapping
from data.readers import Context
from data.warehouse import Warehouse
from data.warehouse import WarehouseError as WarehouseError  # the frame reports it in words
from metrics import availability, complaints, distributions, drilldown
from metrics import query as mq
from metrics.registry import BY_NAME, METRICS, Metric
from metrics.units import format_delta, format_value
from settings import get_settings

log = logging.getLogger("cspulse")

FILTER_KEYS = ("start", "end", "channel", "category", "priority")


@st.cache_resource(show_spinner="Opening the warehouse…")
def warehouse() -> Warehouse:
    """The process's one connection; every caller takes its own cursor from it."""
    settings = get_settings()
    wh = Warehouse(settings.warehouse_file)
    if settings.load_demo_when_empty and wh.is_empty() and not wh.meta(f"cleared:{demo.DEMO_SOURCE}"):
        load_demo(wh)
    categorise_pending(wh)  # tickets an interrupted run left uncategorised
    return wh


def categorise_pending(wh: Warehouse) -> None:
    with st.spinner("Categorising new tickets…"):
        categorise.categorise(wh)


def load_demo(wh: Warehouse) -> ingest.ImportResult:
    with st.spinner("Building the demo store (two years of orders and tickets)…"):
        result = ingest.import_batch(wh, demo.demo_batch(salt=ingest.pii_salt(wh, get_settings())))
    log.info("demo store loaded: %s tickets and orders", result.inserted)
    return result


def query(names: Sequence[str], filters: mq.Filters, grain: str | None = None, by: str | None = None,
          samples: bool = False) -> pl.DataFrame:
    return _cached_query(warehouse().data_version(), tuple(names), filters, grain, by, samples)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(version: int, names: tuple[str, ...], filters: mq.Filters, grain: str | None,
                  by: str | None, samples: bool) -> pl.DataFrame:
    # The data version is part of the key: a new import expires every cached result.
    return mq.query(warehouse().cursor(), names, filters, grain, by=by, settings=get_settings(), samples=samples)


@st.cache_data(show_spinner=False)
def _compare(version: int, names: tuple[str, ...], filters: mq.Filters) -> dict[str, tuple[mq.Value, mq.Value]]:
    return mq.compare(warehouse().cursor(), names, filters, get_settings())


@st.cache_data(show_spinner=False)
def _choices(version: int) -> dict[str, list[str]]:
    cur = warehouse().cursor()
    return {dimension: mq.dimension_values(cur, dimension) for dimension in mq.DIMENSIONS}


@st.cache_data(show_spinner=False)
def _default_filters(version: int) -> mq.Filters:
    return mq.default_filters(warehouse().cursor(), settings=get_settings())


def flash(message: str) -> NoReturn:
    """Rerun now and say ``message`` on the next run: a toast shown just before a rerun would be lost with it."""
    st.session_state["_flash"] = message
    st.rerun()


def show_flash() -> None:
    if message := st.session_state.pop("_flash", None):
        st.toast(message)


def has_demo_data() -> bool:
    live = imports().filter(pl.col("undone_at").is_null())
    return demo.DEMO_SOURCE in live["source"].to_list()


def imports() -> pl.DataFrame:
    return _imports(warehouse().data_version())


@st.cache_data(show_spinner=False)
def _imports(version: int) -> pl.DataFrame:
    return warehouse().imports()


def clear_demo() -> None:
    ingest.clear_source(warehouse(), demo.DEMO_SOURCE)
    _data_replaced()


def reload_demo() -> None:
    load_demo(warehouse())
    categorise_pending(warehouse())
    _data_replaced()


def _data_replaced() -> None:
    # The old dates may lie outside the new data: move them to the new default on the next run,
    # before the date widgets exist (a widget's state cannot change once it is drawn).
    st.session_state["_reset_dates"] = True


def sidebar_filters() -> mq.Filters:
    """Shared sidebar filters, seeded from the URL on a session's first run and mirrored back into it."""
    version = warehouse().data_version()
    defaults, choices = _default_filters(version), _choices(version)
    if "_filters_seeded" not in st.session_state:
        _seed_from_url(defaults, choices)
        st.session_state["_filters_seeded"] = True
    if st.session_state.pop("_reset_dates", False):
        st.session_state["start"], st.session_state["end"] = defaults.start, defaults.end
    for key in mq.DIMENSIONS:  # a choice the data no longer has would break its widget
        st.session_state[key] = [v for v in st.session_state.get(key, []) if v in choices[key]]
    with st.sidebar:
        st.subheader("Filters")
        st.date_input("From", key="start", format="YYYY-MM-DD")
        st.date_input("To", key="end", format="YYYY-MM-DD")
        st.multiselect("Channel", choices["channel"], key="channel", placeholder="All channels")
        st.multiselect("Category", choices["category"], key="category", placeholder="All categories",
                       format_func=category_label)
        st.multiselect("Priority", choices["priority"], key="priority", placeholder="All priorities")
    filters = _filters_from_state(defaults)
    _mirror_to_url(filters)
    return filters


def _seed_from_url(defaults: mq.Filters, choices: dict[str, list[str]]) -> None:
    params = st.query_params
    for key in ("start", "end"):
        text = params.get(key)
        try:
            st.session_state[key] = date.fromisoformat(text) if text else getattr(defaults, key)
        except ValueError:
            st.session_state[key] = getattr(defaults, key)
            st.toast(f"Ignored the link's {key} date {text!r}: expected YYYY-MM-DD.")
    for key in mq.DIMENSIONS:
        wanted = params.get_all(key)
        st.session_state[key] = [value for value in wanted if value in choices[key]]
        if len(st.session_state[key]) < len(wanted):
            st.toast(f"Ignored {key} values in the link that this data does not have.")


def _filters_from_state(defaults: mq.Filters) -> mq.Filters:
    start, end = st.session_state.get("start") or defaults.start, st.session_state.get("end") or defaults.end
    if end < start:
        st.sidebar.warning("'To' is before 'From': showing the single day 'From'.")
        end = start
    return mq.Filters(start=start, end=end, **{k: tuple(st.session_state.get(k, ())) for k in mq.DIMENSIONS})


def _mirror_to_url(filters: mq.Filters) -> None:
    wanted = {"start": filters.start.isoformat(), "end": filters.end.isoformat(),
              **{k: list(v) for k, v in filters.dimension_values().items() if v}}
    current = {key: st.query_params.get_all(key) for key in FILTER_KEYS}
    if current != {key: _as_list(wanted.get(key)) for key in FILTER_KEYS}:
        for key in FILTER_KEYS:
            if key in wanted:
                st.query_params[key] = wanted[key]
            elif key in st.query_params:
                del st.query_params[key]


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else value


def kpi_row(names: Sequence[str], filters: mq.Filters) -> None:
    """One tile per KPI (per currency for money) with the change against the previous period."""
    values = _compare(warehouse().data_version(), tuple(names), filters)
    sizes = query(names, filters, samples=True).row(0, named=True)
    tiles = [tile for name in names for tile in _tiles(name, *values[name])]
    for column, (label, value, delta, metric) in zip(st.columns(len(tiles)), tiles, strict=True):
        label, note = _sample_note(label, metric, sizes.get(f"{metric.name}_n"))
        column.metric(label, value, delta, delta_color=metric.delta_color, help=metric.description + note,
                      border=True)


def _sample_note(label: str, metric: Metric, size: int | None) -> tuple[str, str]:
    """A rate or duration over few tickets says so on its tile; a count is its own sample."""
    if size is None or metric.unit in ("count", "money"):
        return label, ""
    note = f" Based on {size:,} tickets."
    if size < get_settings().min_sample:
        return f"{label} · n={size}", note + f" Fewer than {get_settings().min_sample}: an indication, not a result."
    return label, note


def _tiles(name: str, now: mq.Value, before: mq.Value) -> list[tuple[str, str, str | None, object]]:
    metric = BY_NAME[name]
    if metric.unit != "money":
        return [(metric.label, format_value(now, metric.unit), format_delta(now, before, metric.unit), metric)]
    now_map, before_map = now or {}, before or {}
    if not now_map:
        return [(metric.label, "—", None, metric)]
    return [
        (f"{metric.label} ({currency})", format_value(value, "money", currency),
         format_delta(value, before_map.get(currency), "money", currency), metric)
        for currency, value in sorted(now_map.items())
    ]


def sample_caption(filters: mq.Filters) -> str:
    return f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y} ({filters.days} days), compared with the " \
           f"{filters.days} days before. Times in {get_settings().timezone}."


def current_filters() -> mq.Filters:
    return st.session_state["filters"]


def demo_notice() -> None:
    """Say plainly when the numbers are the demo store's, and offer to clear them."""
    if not has_demo_data():
        if warehouse().is_empty():
            st.info("The warehouse is empty. Load the demo store on the **Data** page, or import your exports.")
        return
    text, action = st.columns([5, 1], vertical_alignment="center")
    mixed = imports().filter(pl.col("undone_at").is_null() & (pl.col("source") != demo.DEMO_SOURCE)).height
    message = ("**Demo data.** These numbers come from a generated demo store, not from your business." if not mixed
               else "**Demo data is mixed with your imports.** Clear it to see only your own numbers.")
    text.info(message, icon=":material/science:")
    with action.popover("Clear demo data"):
        _clear_demo_button("notice")


def demo_controls() -> None:
    if has_demo_data():
        st.markdown("The demo store is loaded. Clearing it removes every demo ticket, order and import record.")
        _clear_demo_button("controls")
    elif st.button("Load the demo store", key="load_demo"):
        reload_demo()
        st.rerun()


def _clear_demo_button(where: str) -> None:
    if st.button("Yes, remove the demo data", key=f"clear_demo_{where}", type="primary"):
        clear_demo()
        flash("Demo data cleared.")


def table_counts() -> str:
    wh = warehouse()
    tables = ("tickets", "orders", "order_lines", "reviews", "roster")
    counts = " · ".join(f"{name.replace('_', ' ').capitalize()}: {wh.row_count(name):,}" for name in tables)
    return f"{counts} — in `{wh.path}`"


def imports_view() -> pl.DataFrame:
    return imports().select("imported_at", "file_name", "source", "kind", "rows_read", "inserted", "updated",
                            "unchanged", "rejected")


# --- import -------------------------------------------------------------------------------------------------------
def plans(uploads: Sequence[object], source: str, date_order: str) -> list[Plan]:
    """What the uploaded files are, read once per set of files and choices (nothing written yet)."""
    files = tuple((upload.name, upload.getvalue()) for upload in uploads)  # type: ignore[attr-defined]
    key = (tuple((name, ingest.sha256_bytes(content)) for name, content in files), source, date_order,
           warehouse().data_version())
    cached = st.session_state.get("_plans")
    if cached is None or cached[0] != key:
        wh, settings = warehouse(), get_settings()
        ctx = Context(tz=settings.timezone, salt=ingest.pii_salt(wh, settings), date_order=date_order)  # type: ignore[arg-type]
        with st.spinner("Reading the files…"):
            found = plan_files(files, ctx, Limits.from_settings(settings), source, load_mappings(wh))
        cached = (key, found)
        st.session_state["_plans"] = cached
    return cached[1]


def source_choices() -> list[str]:
    return ["auto", *SOURCES, *(f"mapped:{name}" for name in load_mappings(warehouse()))]


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
        if st.button("Import", key=f"import_{plan.sha256}", type="primary"):
            _import(plan)
        report = st.session_state.get(f"_result_{plan.sha256}")
        if report:
            _report(report)


def _import(plan: Plan) -> None:
    with st.spinner("Importing…"):
        result = run_plan(warehouse(), plan)
    if result.status == "imported":
        categorise_pending(warehouse())
    st.session_state[f"_result_{plan.sha256}"] = result
    log.info("import of %d file(s) as %s: %s", len(plan.files), plan.source, result.status)
    if result.status == "imported":
        _data_replaced()


def _report(result: ingest.ImportResult) -> None:
    if result.status == "rejected":
        st.error(f"Nothing was imported: {result.reason}")
        return
    if result.status == "already_imported":
        st.info("This file was imported before; nothing changed.")
    cells = st.columns(5)
    for cell, (label, value) in zip(cells, [("Records read", result.rows_read), ("Inserted", result.inserted),
                                            ("Updated", result.updated), ("Unchanged", result.unchanged),
                                            ("Rejected", result.rejected_rows)], strict=True):
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
        order = st.radio("Dates like 03/04/2024 are", ["DMY", "MDY"], horizontal=True,
                         format_func=lambda o: "day first" if o == "DMY" else "month first")
        if st.form_submit_button("Save mapping"):
            mapping = {"kind": kind, "date_order": order,
                       "columns": {t: h for t, h in columns.items() if h != "—"}}
            try:
                save_mapping(warehouse(), name.strip(), mapping)
            except ingest.ImportRejected as error:
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
    if live.is_empty():
        return
    labels = {row["import_id"]: f"{row['imported_at']:%Y-%m-%d %H:%M} · {row['file_name']}"
              for row in live.iter_rows(named=True)}
    chosen = st.selectbox("Undo an import", list(labels), format_func=labels.get, key="undo_choice")
    if st.button("Undo it", key="undo"):
        try:
            counts = ingest.undo_import(warehouse(), chosen)
        except ingest.ImportRejected as error:
            st.error(str(error))
            return
        _data_replaced()
        flash(f"Undone: {counts['removed']:,} rows removed, {counts['restored']:,} earlier versions restored.")


# --- trends, team and drill-down ---------------------------------------------------------------------------------
TICKET_KPIS = [m.name for m in METRICS if m.table == "tickets"]
BREAKDOWN_LABELS = {"none": "No breakdown", "channel": "Channel", "group_name": "Group", "assignee": "Agent",
                    "category": "Category", "priority": "Priority"}
OVERLAYS = {"none": "No comparison", "previous": "Previous period", "last_year": "Same period last year"}


def url_choice(label: str, options: Sequence[str], key: str, default: str, *,
               format_func: Callable[[str], str] = str, segmented: bool = False) -> str:
    """A page control kept in the URL as ``?key=value``, so a shared link opens the same view."""
    if key not in st.session_state:
        wanted = st.query_params.get(key)
        if wanted is not None and wanted not in options:
            st.toast(f"Ignored the link's {key} {wanted!r}: this page has no such choice.")
        st.session_state[key] = wanted if wanted in options else default
    elif st.session_state[key] not in options:  # the data changed under a kept choice
        st.session_state[key] = default
    if segmented:
        value = st.segmented_control(label, list(options), key=key, format_func=format_func) or default
    else:
        value = st.selectbox(label, list(options), key=key, format_func=format_func)
    if st.query_params.get(key) != value:
        st.query_params[key] = value
    return value


def min_sample() -> int:
    return get_settings().min_sample


def metric_label(name: str) -> str:
    return BY_NAME[name].label


def comparison(filters: mq.Filters, overlay: str) -> tuple[mq.Filters | None, str]:
    if overlay == "previous":
        shifted = filters.previous()
    elif overlay == "last_year":
        shifted = filters.last_year()
    else:
        return None, ""
    return shifted, f"{OVERLAYS[overlay]} ({shifted.start:%d %b %Y} – {shifted.end:%d %b %Y})"


def definition(metric: Metric, frame: pl.DataFrame) -> None:
    """What the numbers mean: the declared definition, the clock, and how many tickets each value rests on."""
    settings = get_settings()
    text = f"**{metric.label}**: {metric.description}"
    if "business" in metric.name:
        days = ", ".join(settings.business_days)
        text += (f" Business hours are {settings.business_hours_start:%H:%M}–{settings.business_hours_end:%H:%M} "
                 f"({days}, {settings.timezone}) from settings wherever the export has no business-hour column.")
    st.caption(f"{text} {sample_sizes(frame, metric.name)}")


def sample_sizes(frame: pl.DataFrame, name: str) -> str:
    """"Each value rests on a–b tickets", marking small samples (drawn grey), for a chart's caption."""
    sizes = frame.get_column(f"{name}_n", default=pl.Series([], dtype=pl.Int64)).drop_nulls()
    if sizes.is_empty():
        return ""
    low, high, minimum = int(sizes.min()), int(sizes.max()), min_sample()  # type: ignore[arg-type]
    span = f"{low:,}" if low == high else f"{low:,}–{high:,}"
    text = f"Each {BY_NAME[name].label.lower()} value rests on {span} tickets"
    return text + (f"; a value over fewer than {minimum} is drawn grey: an indication, not a result."
                   if low < minimum else ".")


def explain_missing(names: Sequence[str]) -> list[str]:
    """Say which KPIs this data cannot give and which export or setting would give them."""
    missing = _unavailable(warehouse().data_version(), tuple(names))
    if missing:
        lines = [f"- **{BY_NAME[name].label}** comes from {provided_by}." for name, provided_by in missing.items()]
        st.info(f"Unavailable with the loaded data ({len(missing)}): it has none of what "
                f"{'this KPI needs' if len(missing) == 1 else 'these KPIs need'}.\n" + "\n".join(lines),
                icon=":material/info:")
    return list(missing)


@st.cache_data(show_spinner=False)
def _unavailable(version: int, names: tuple[str, ...]) -> dict[str, str]:
    return availability.unavailable(warehouse().cursor(), names)


def arrivals(filters: mq.Filters) -> pl.DataFrame:
    return _arrivals(warehouse().data_version(), filters)


@st.cache_data(show_spinner=False)
def _arrivals(version: int, filters: mq.Filters) -> pl.DataFrame:
    return distributions.arrivals_by_hour(warehouse().cursor(), filters, get_settings())


def buckets(filters: mq.Filters, stem: str, business: bool) -> pl.DataFrame:
    return _buckets(warehouse().data_version(), filters, stem, business)


@st.cache_data(show_spinner=False)
def _buckets(version: int, filters: mq.Filters, stem: str, business: bool) -> pl.DataFrame:
    return distributions.duration_buckets(warehouse().cursor(), filters, stem, business, settings=get_settings())


def team_table(frame: pl.DataFrame, names: Sequence[str], by: str) -> None:
    """One row per agent or group: each KPI beside its sample size; small samples greyed, every column sortable."""
    min_sample = get_settings().min_sample
    if by == "category":
        frame = frame.with_columns(pl.col("by_value").map_elements(category_label, return_dtype=pl.String))
    shown = frame.rename({"by_value": BREAKDOWN_LABELS[by]})
    columns: dict[str, object] = {BREAKDOWN_LABELS[by]: st.column_config.TextColumn(pinned=True)}
    for name in names:
        metric = BY_NAME[name]
        number_format = _number_format(metric.unit)
        if metric.unit == "minutes":  # one unit per column, chosen from its largest value
            divisor, suffix = charts.duration_scale(shown[name].max())  # type: ignore[arg-type]
            shown = shown.with_columns(pl.col(name) / divisor)
            number_format = f"%.{0 if suffix == 'min' else 1}f {suffix}"
        columns[name] = st.column_config.NumberColumn(metric.label, help=metric.description, format=number_format)
        columns[f"{name}_n"] = st.column_config.NumberColumn("n", help=f"Tickets behind {metric.label.lower()}",
                                                             format="localized")
    # a count is its own sample size
    order = [BREAKDOWN_LABELS[by], *[c for name in names
                                     for c in ((name,) if BY_NAME[name].unit == "count" else (name, f"{name}_n"))]]
    styled = shown.select(order).to_pandas().style.apply(_grey_small_samples, names=names, min_sample=min_sample,
                                                          axis=None)
    st.dataframe(styled, hide_index=True, width="stretch", column_config=columns, column_order=order)
    st.caption(f"Click a column header to sort. Grey values rest on fewer than {min_sample} tickets.")


def _number_format(unit: str) -> str:
    return {"count": "localized", "minutes": "%.0f min", "fraction": "percent", "score": "%+.0f"}.get(unit, "%.2f")


def _grey_small_samples(table: object, names: Sequence[str], min_sample: int) -> object:
    styles = table.copy().astype(object)  # type: ignore[attr-defined]
    styles[:] = ""
    for name in names:
        if BY_NAME[name].unit == "count":
            continue
        small = table[f"{name}_n"] < min_sample  # type: ignore[index]
        styles.loc[small, name] = "color: #9a9a9a; font-style: italic"  # type: ignore[attr-defined]
    return styles


def drill_down(event: object, frame: pl.DataFrame, metric: Metric, filters: mq.Filters, grain: str | None,
               by: str | None) -> None:
    """The tickets behind one point or bar: chosen by clicking the chart, or with the pickers (keyboard users)."""
    st.markdown("**Tickets behind a point** — click a point or bar, or pick it here.")
    _apply_click(event, by)
    left, right = st.columns(2)
    right = right if grain is not None else left
    period = None
    if grain is not None:
        periods = [p.isoformat() for p in frame["period"].unique(maintain_order=True).to_list()]
        period = left.selectbox("Period", periods, key="drill_period", index=None, placeholder="Choose a period")
    value = None
    if by is not None:
        values = sorted(str(v) for v in frame["by_value"].unique().to_list())
        value = right.selectbox(BREAKDOWN_LABELS[by], values, key="drill_value", index=None,
                                placeholder=f"All {BREAKDOWN_LABELS[by].lower()}s")
    if period is None and value is None:
        return
    scope = drilldown.period_filters(filters, date.fromisoformat(period), grain) if period else filters
    table = _tickets_behind(warehouse().data_version(), metric.name, scope, by if value else None, value)
    _ticket_table(table, metric, scope)


def _apply_click(event: object, by: str | None) -> None:
    points = (event or {}).get("selection", {}).get("points", [])  # type: ignore[attr-defined]
    data = next((p.get("customdata") for p in points if len(p.get("customdata") or []) >= 2), None)
    if not data or data == st.session_state.get("_drill_clicked"):
        return  # a selection Streamlit keeps across reruns must not undo a choice made in the pickers since
    st.session_state["_drill_clicked"] = data
    if data[0]:
        st.session_state["drill_period"] = data[0]
    if by is not None:
        st.session_state["drill_value"] = data[1]


@st.cache_data(show_spinner=False)
def _tickets_behind(version: int, name: str, scope: mq.Filters, by: str | None, value: str | None) -> pl.DataFrame:
    table = drilldown.tickets_behind(warehouse().cursor(), name, scope, by=by, by_value=value, settings=get_settings())
    return table.with_columns(mask_pii(table["subject"]))  # personal data never leaves the server unmasked


def _ticket_table(table: pl.DataFrame, metric: Metric, scope: mq.Filters) -> None:
    more = " (the newest shown)" if table.height >= drilldown.DRILL_LIMIT else ""
    count = f"{table.height:,} ticket{'' if table.height == 1 else 's'}"
    st.caption(f"{count}{more} behind {metric.label.lower()}, {scope.start:%d %b} – "
               f"{scope.end:%d %b %Y}. Emails and phone numbers are masked.")
    st.dataframe(table, hide_index=True, width="stretch", height=320)
    st.download_button("Download these tickets (CSV)", safe_csv(table), key="drill_csv", mime="text/csv",
                       file_name=f"tickets-{metric.name}-{scope.start}-{scope.end}.csv")


# --- complaints ---------------------------------------------------------------------------------------------------
HANDLING = ["first_reply_minutes_median", "full_resolution_minutes_median", "reopen_rate", "csat"]


def category_label(slug: str) -> str:
    return taxonomy_labels().get(slug, slug.replace("_", " ").capitalize())


@st.cache_resource(show_spinner=False)
def taxonomy_labels() -> dict[str, str]:
    return categorise.current_taxonomy().labels()


def category_shares(filters: mq.Filters) -> pl.DataFrame:
    """Tickets per category this period and the one before, with shares and the change, labelled."""
    table = _category_shares(warehouse().data_version(), filters)
    return table.with_columns(category=pl.col("by_value").map_elements(category_label, return_dtype=pl.String))


@st.cache_data(show_spinner=False)
def _category_shares(version: int, filters: mq.Filters) -> pl.DataFrame:
    return complaints.category_shares(warehouse().cursor(), filters, get_settings())


def rising_categories(filters: mq.Filters) -> tuple[pl.DataFrame, complaints.RisingTest]:
    test = complaints.RisingTest.from_settings(get_settings())
    return _rising(warehouse().data_version(), filters, test), test


@st.cache_data(show_spinner=False)
def _rising(version: int, filters: mq.Filters, test: complaints.RisingTest) -> pl.DataFrame:
    weekly = complaints.weekly_counts(warehouse().cursor(), filters, test.weeks, get_settings())
    return complaints.rising(weekly, test).with_columns(
        pl.col("category").map_elements(category_label, return_dtype=pl.String).alias("label"))


def rising_panel(filters: mq.Filters) -> None:
    table, test = rising_categories(filters)
    up = table.filter(pl.col("is_rising"))
    if up.is_empty():
        st.success(f"No category is rising in the 7 days to {filters.end:%d %b %Y}.", icon=":material/check:")
    for row in up.iter_rows(named=True):
        z = "no spread before" if row["z"] is None else f"z = {row['z']:.1f}"
        st.warning(f"**{row['label']}** is rising: {row['this_week']:,} tickets in the last 7 days against "
                   f"{row['mean']:.1f} a week before ({z}).", icon=":material/trending_up:")
    st.caption(test.describe())


def has_orders() -> bool:
    return warehouse().row_count("orders") > 0


def complaints_by_order(filters: mq.Filters, dimension: str, categories: Sequence[str]) -> pl.DataFrame:
    table = _complaints_by_order(warehouse().data_version(), filters, dimension)
    return complaints.for_categories(table, tuple(categories))


def category_picker(label: str, options: Sequence[str], default: Sequence[str], key: str) -> list[str]:
    return st.multiselect(label, list(options), default=[c for c in default if c in options], key=key,
                          format_func=category_label, placeholder="Choose categories")


def category_trend(filters: mq.Filters, grain: str, categories: Sequence[str]) -> pl.DataFrame:
    """Tickets per category and period for the chosen categories, named by label."""
    frame = query(["tickets_created"], filters, grain, by="category", samples=True)
    return frame.filter(pl.col("by_value").is_in(list(categories))).with_columns(
        pl.col("by_value").map_elements(category_label, return_dtype=pl.String))


@st.cache_data(show_spinner=False)
def _complaints_by_order(version: int, filters: mq.Filters, dimension: str) -> pl.DataFrame:
    return complaints.by_order_dimension(warehouse().cursor(), filters, dimension, get_settings())


def category_examples(filters: mq.Filters, category: str) -> None:
    """The newest tickets of a category, masked, with where each category came from."""
    table = complaints.examples(warehouse().cursor(), filters, category, settings=get_settings())
    if table.is_empty():
        st.caption("No tickets of this category in the period.")
        return
    shown = table.with_columns(mask_pii(table["subject"]), mask_pii(table["description"]))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "category_confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0,
                                                               format="percent")})


# --- staffing -----------------------------------------------------------------------------------------------------
from metrics import peaks, staffing  # noqa: E402 - this section is appended; the imports stay with it

EVENT_PARAM = "event"  # ?event=Name|YYYY-MM-DD|YYYY-MM-DD, repeatable: events added on the page, kept in the link
STAFFED_SOURCES = {"roster": "the roster", "estimate": "an estimate from the export"}
ESTIMATOR = ("**Staffed agents are an estimate**: the roster has no shift in this window, so an agent counts as "
             "working in an interval when one of their tickets got its first reply or an agent's solve in it "
             "(distinct assignees; automated solves left out). Exports name the assignee, not the author of each "
             "reply, so this undercounts agents busy with follow-ups — import a roster (a CSV with Agent, Start, End "
             "and optionally Channel columns, one row per shift) on the Import page for real numbers.")


def url_int(label: str, key: str, default: int, *, min_value: int, max_value: int, step: int = 1,
            suffix: str = "", help: str | None = None) -> int:
    """A whole-number slider kept in the URL as ``?key=value``, so a shared link opens the same scenario."""
    default = min(max(default, min_value), max_value)
    if key not in st.session_state:
        wanted = st.query_params.get(key)
        value = default
        if wanted is not None:
            try:
                value = int(wanted)
                if not min_value <= value <= max_value:
                    raise ValueError(wanted)
            except ValueError:
                value = default
                st.toast(f"Ignored the link's {key} {wanted!r}: expected a whole number from {min_value} to "
                         f"{max_value}.")
        st.session_state[key] = value
    value = st.slider(label, min_value, max_value, key=key, step=step, format="%d" + suffix.replace("%", "%%"),
                      help=help)
    if st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)
    return int(value)


def staffing_scenario() -> staffing.Scenario:
    """The what-if sliders (defaults from settings), kept in the URL; the scenario they make."""
    settings = get_settings()
    cells = st.columns(5)
    with cells[0]:
        level = url_int("Service level", "sl", round(settings.staffing_service_level * 100), min_value=50,
                        max_value=99, suffix=" %", help="Share of live contacts answered within the answer target.")
    with cells[1]:
        answer = url_int("Answer target", "answer", round(settings.staffing_answer_seconds), min_value=5,
                         max_value=300, step=5, suffix=" s", help="Live contacts (chat, phone) answered within this.")
    with cells[2]:
        handle = url_int("Handle time", "handle", 100, min_value=50, max_value=200, step=5, suffix=" %",
                         help="The handle times per channel (settings) scaled by this.")
    with cells[3]:
        shrink = url_int("Shrinkage", "shrink", round(settings.staffing_shrinkage * 100), min_value=0, max_value=60,
                         suffix=" %", help="Paid time not spent on contacts: breaks, training, absence.")
    with cells[4]:
        growth = url_int("Expected growth", "growth", round(settings.staffing_growth * 100), min_value=-50,
                         max_value=200, step=5, suffix=" %", help="More (or fewer) contacts than in the data.")
    handle_minutes, _ = _handle_minutes(warehouse().data_version())
    return staffing.Scenario.from_settings(settings, service_level=level / 100, answer_seconds=float(answer),
                                           handle_factor=handle / 100, shrinkage=shrink / 100, growth=growth / 100,
                                           handle_minutes=tuple(sorted(handle_minutes.items())))


@st.cache_data(show_spinner=False)
def _handle_minutes(version: int) -> tuple[dict[str, float], str]:
    return staffing.handle_minutes(warehouse().cursor(), get_settings())


def handle_time_note(scenario: staffing.Scenario) -> None:
    minutes = ", ".join(f"{channel} {value * scenario.handle_factor:g} min" for channel, value in
                        scenario.handle_minutes)
    source = ("from the export" if _handle_minutes(warehouse().data_version())[1] == "export" else
              "from settings (`CSPULSE_STAFFING_HANDLE_MINUTES`): no export gives handle time and the warehouse "
              "has no handle-time column")
    live = ", ".join(scenario.live_channels) or "none"
    st.caption(f"Handle times {source}: {minutes}. Live channels ({live}) use Erlang C with an "
               f"occupancy cap of {scenario.max_occupancy:.0%}; the others use the workload model, a day's work spread "
               "over that day's business hours. Positions include shrinkage; channels are staffed separately.")


def _session_events() -> list[peaks.Peak]:
    """Events added on the page, seeded from the link once per session."""
    if "_staffing_events" not in st.session_state:
        events = []
        for text in st.query_params.get_all(EVENT_PARAM):
            try:
                name, start, end = text.split("|")
                events.extend(peaks.custom_events([{"name": name, "start": start, "end": end}]))
            except ValueError:
                st.toast(f"Ignored the link's event {text!r}: expected Name|YYYY-MM-DD|YYYY-MM-DD.")
        st.session_state["_staffing_events"] = events
    return st.session_state["_staffing_events"]


def _add_event_form() -> None:
    with st.popover("Add an event", icon=":material/event:"), st.form("staffing_event", border=False):
        name = st.text_input("Event name", key="event_name", placeholder="e.g. Summer sale", max_chars=60)
        dates = st.date_input("Dates", value=(), key="event_dates", format="YYYY-MM-DD")
        if not st.form_submit_button("Add to this link"):
            return
        if not name.strip() or len(dates) != 2:  # type: ignore[arg-type]
            st.error("Give the event a name and pick its first and last day.")
            return
        event = peaks.custom_events([{"name": name.replace("|", " "), "start": dates[0], "end": dates[1]}])[0]  # type: ignore[index]
        st.session_state["_staffing_events"] = [*_session_events(), event]
        st.query_params[EVENT_PARAM] = [f"{e.name}|{e.start}|{e.end}" for e in st.session_state["_staffing_events"]]
        st.session_state["peak"] = event.key  # the selectbox below is not drawn yet in this run


@st.cache_data(show_spinner=False)
def _peak_options(version: int, view: mq.Filters) -> peaks.PeakOptions:
    return peaks.peak_options(warehouse().cursor(), view, get_settings())


def peak_picker(view: mq.Filters) -> peaks.Peak | None:
    """The peak to study: calendar, data and added events, newest first; kept in the URL."""
    found = _peak_options(warehouse().data_version(), view)
    pick, add = st.columns([4, 1], vertical_alignment="bottom")
    with add:
        _add_event_form()  # first: an event added now must be among the options below
    options = peaks.peaks_to_study(found, _session_events())
    default = peaks.default_peak(options)
    if default is None:
        pick.info("No peak to study: no Black Friday, December holidays, national holiday or busy week falls inside "
                  "the data's dates. Add an event for the dates you want to study, or import more history.")
        return None
    by_key = {p.key: p for p in options}
    with pick:
        key = url_choice("Peak", list(by_key), "peak", default.key, format_func=lambda k: _peak_label(by_key[k]))
    chosen = by_key[key]
    if found.after_data(chosen):
        st.info(f"{chosen.label} lies after the newest data ({found.last_day:%d %b %Y}): see the forecast below.")
    return chosen


def _peak_label(peak: peaks.Peak) -> str:
    kind = {"bfcm": "calendar", "december": "calendar", "holiday": "holiday", "custom": "event",
            "data": "from the data"}[peak.kind]
    return f"{peak.label} · {kind}"


def peak_table(peak: peaks.Peak, view: mq.Filters) -> None:
    """The peak against the four weeks before it: volume, first reply, CSAT and backlog."""
    table = _against_baseline(warehouse().data_version(), peak, view)
    start, end = peaks.baseline(peak)
    rows = [{"KPI": row["label"], "Peak": format_value(row["peak"], row["unit"]),
             f"Baseline ({start:%d %b} – {end:%d %b})": format_value(row["baseline"], row["unit"]),
             "Peak ÷ baseline": "—" if row["ratio"] is None else f"{row['ratio']:.2f}×"}
            for row in table.iter_rows(named=True)]
    st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("Tickets per day and first reply by creation time, CSAT by solve time, backlog open at each window's "
               "end. The baseline is the four weeks just before the peak.")


@st.cache_data(show_spinner=False)
def _against_baseline(version: int, peak: peaks.Peak, view: mq.Filters) -> pl.DataFrame:
    return peaks.against_baseline(warehouse().cursor(), peak, view, get_settings())


def staffing_interval(peak: peaks.Peak, view: mq.Filters) -> int:
    """60 or 30 minutes; 30 only where the export's times carry minutes."""
    choices = _interval_choices(warehouse().data_version(), peak.filters(view))
    if len(choices) == 1:
        st.caption("Intervals are hours: this export's creation times carry no minutes.")
        return choices[0]
    return int(url_choice("Interval", [str(m) for m in choices], "interval", "60", format_func=lambda m: f"{m} min",
                          segmented=True))


@st.cache_data(show_spinner=False)
def _interval_choices(version: int, window: mq.Filters) -> tuple[int, ...]:
    return staffing.interval_choices(warehouse().cursor(), window, get_settings())


def staffing_gap(peak: peaks.Peak, view: mq.Filters, scenario: staffing.Scenario,
                 minutes: int) -> tuple[staffing.GapReport, str]:
    """The peak's gap under the scenario, and where staffed agents came from ("roster" or "estimate")."""
    try:
        return _gap(warehouse().data_version(), peak, view, scenario, minutes)
    except ValueError as error:  # e.g. a channel without a handle time in settings
        st.error(f"Cannot work out the staffing of this peak: {error}.")
        st.stop()


@st.cache_data(show_spinner="Working out agents per interval…", max_entries=64)
def _gap(version: int, peak: peaks.Peak, view: mq.Filters, scenario: staffing.Scenario,
         minutes: int) -> tuple[staffing.GapReport, str]:
    return staffing.peak_gap(warehouse().cursor(), peak, view, scenario, minutes, get_settings())


def staffed_note(source: str) -> None:
    if source == "estimate":
        st.info(ESTIMATOR, icon=":material/person_search:")
    else:
        st.caption("Staffed agents come from the roster: each shift counts by the share of the interval it covers; "
                   "a shift without a channel serves every channel.")


def gap_tiles(report: staffing.GapReport, source: str) -> None:
    totals, label = report.totals, " (est.)" if source == "estimate" else ""
    cells = st.columns(4)
    cells[0].metric("Agent-hours short", f"{totals['short_agent_hours']:,.0f}", border=True,
                    help="Sum over intervals of required − staffed where that is above 0, times the interval length.")
    cells[1].metric("Agent-hours spare", f"{totals['spare_agent_hours']:,.0f}", border=True,
                    help="Sum over intervals of staffed − required where that is above 0.")
    cells[2].metric("Needed / staffed hours" + label,
                    f"{totals['required_agent_hours']:,.0f} / {totals['staffed_agent_hours']:,.0f}", border=True,
                    help="Agent-hours the scenario needs and agent-hours staffed over the whole peak.")
    cells[3].metric("Short and slow or unhappy", f"{totals['flagged_intervals']:,.0f} intervals", border=True,
                    help=f"Intervals with agents short whose tickets met the first reply SLA or were satisfied "
                         f"{staffing.QUALITY_DROP:.0%} (points) less often than in the baseline weeks.")


def gap_callouts(report: staffing.GapReport) -> None:
    """The intervals where agents were short and replies slow or CSAT low."""
    table = staffing.short_and_slow(report)
    if table.is_empty():
        st.caption("No interval was both short of agents and slow to reply or low in CSAT.")
        return
    st.markdown(f"**{table.height} short interval{'s' if table.height != 1 else ''} with slow first replies or "
                "low CSAT** (tickets that arrived in them, against the baseline weeks):")
    st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * table.height, 320),
                 column_config={c: st.column_config.NumberColumn(format="%.0f") for c in
                                ("Tickets", "Required", "Staffed", "Short", "First reply SLA %", "CSAT %")})


def required_table(report: staffing.GapReport, scenario: staffing.Scenario) -> None:
    """Per channel: the model, contacts, the busiest interval's agents and the agent-hours."""
    table = staffing.required_by_channel(report, scenario)
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "channel": "Channel", "model": "Model",
        "contacts": st.column_config.NumberColumn("Contacts", format="%.0f"),
        "handle": st.column_config.NumberColumn("Handle time", format="%.1f min"),
        "busiest": st.column_config.NumberColumn("Agents, busiest interval", format="%d"),
        "agent_hours": st.column_config.NumberColumn("Agent-hours", format="%.0f")},
        column_order=["channel", "model", "contacts", "handle", "busiest", "agent_hours"])


def after_hours_table(peak: peaks.Peak, view: mq.Filters, minutes: int) -> None:
    """Tickets that arrived when no agent was staffed, and how long they waited for a first reply."""
    table, source = _after_hours(warehouse().data_version(), peak, view, minutes)
    if table["tickets"].sum() == 0:
        st.caption("No tickets arrived in this window.")
        return
    shown = table.with_columns(
        pl.col("share") * 100, pl.col("first_reply_minutes_median").map_elements(lambda v: format_value(v, "minutes"),
                                                          return_dtype=pl.String),
        pl.col("first_reply_minutes_p90").map_elements(lambda v: format_value(v, "minutes"), return_dtype=pl.String))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "coverage": "Arrived in", "tickets": "Tickets",
        "share": st.column_config.NumberColumn("Share", format="%.0f %%"), "answered": "Answered",
        "unanswered": "Not answered yet", "first_reply_minutes_median": "First reply (median)",
        "first_reply_minutes_p90": "First reply (p90)"})
    st.caption(f"An interval is staffed when {STAFFED_SOURCES[source]} shows at least one agent in "
               "it; waits are calendar time to the first agent reply, of the tickets answered so far.")


@st.cache_data(show_spinner=False)
def _after_hours(version: int, peak: peaks.Peak, view: mq.Filters, minutes: int) -> tuple[pl.DataFrame, str]:
    return staffing.after_hours_for(warehouse().cursor(), peak, view, minutes, get_settings())


def next_peak_choice(view: mq.Filters) -> peaks.Peak | None:
    """The configured peak to forecast: the next Black Friday, December or custom event after the data."""
    upcoming = peaks.upcoming_peaks(_peak_options(warehouse().data_version(), view), _session_events())
    if not upcoming:
        st.info("No configured peak lies after the newest data. Add an event above or in `CSPULSE_PEAK_EVENTS`.")
        return None
    by_key = {p.key: p for p in upcoming}
    key = url_choice("Forecast for", list(by_key), "next", upcoming[0].key, format_func=lambda k: by_key[k].label)
    return by_key[key]


def forecast_method() -> str:
    methods = _forecast_methods(warehouse().data_version())
    if len(methods) == 1:
        st.caption("Forecast from last year's tickets (no orders loaded for the orders × contact rate method).")
        return methods[0]
    labels = {"tickets": "Last year's tickets × growth", "orders": "Orders × contact rate"}
    return url_choice("Forecast from", list(methods), "method", "tickets", format_func=labels.get, segmented=True)


@st.cache_data(show_spinner=False)
def _forecast_methods(version: int) -> tuple[str, ...]:
    return staffing.forecast_methods(warehouse().cursor())


def next_peak_plan(peak: peaks.Peak, view: mq.Filters, scenario: staffing.Scenario, minutes: int,
                   method: str) -> staffing.GapReport | None:
    """Forecast tickets per interval for ``peak``, the agents they need and the extra agent-hours; the CSV."""
    try:
        forecast = _forecast(warehouse().data_version(), peak, view, scenario, minutes, method)
    except staffing.NoHistory as error:
        st.info(str(error))
        return None
    except ValueError as error:
        st.info(f"Cannot forecast {peak.label}: {error}.")
        return None
    report, before, factor = forecast.report, forecast.before, forecast.factor
    settings = get_settings()
    cells = st.columns(4)
    cells[0].metric("Forecast tickets", f"{forecast.tickets:,.0f}", border=True,
                    help=f"{before.label} × {factor:.2f}")
    cells[1].metric("Agents needed, busiest interval", f"{report.slots['required'].max():,.0f}", border=True)
    cells[2].metric("Extra agent-hours to hire", f"{report.totals['short_agent_hours']:,.0f}", border=True)
    cells[3].metric(f"= {settings.staffing_paid_hours:g}-hour shifts",
                    f"{staffing.shifts(report.totals['short_agent_hours'], settings.staffing_paid_hours):,.1f}",
                    border=True)
    how = ("last year's tickets in that window" if forecast.method == "tickets" else
           f"last year's orders in that window × the contact rate of the newest {staffing.RECENT_WEEKS} weeks "
           "(peaks raise the contact rate, so read this as a floor)")
    source = forecast.source
    staffed = "the roster" if source == "roster" else f"as many as worked last year ({STAFFED_SOURCES[source]})"
    st.caption(f"Forecast from {before.label}: {how}, times the expected growth, carried day by day onto "
               f"{peak.label} (factor {factor:.2f} on last year's tickets). Staffed agents: {staffed}.")
    plan = staffing.hiring_plan(report, settings.staffing_paid_hours)
    st.download_button("Download the hiring plan (CSV)", safe_csv(plan.with_columns(pl.col("slot").cast(pl.String))),
                       file_name=f"staffing-{peak.key}.csv", mime="text/csv", key="staffing_csv")
    return report


@st.cache_data(show_spinner="Forecasting the next peak…", max_entries=32)
def _forecast(version: int, peak: peaks.Peak, view: mq.Filters, scenario: staffing.Scenario, minutes: int,
              method: str) -> staffing.Forecast:
    return staffing.forecast_peak(warehouse().cursor(), peak, view, scenario, minutes, method, get_settings())


SOURCE_WORDS = {"export": "the export's own category", "mapping": "a mapping of the export's category or tags",
                "analyst": "an analyst's correction", "rules": "keyword rules on the text",
                "model": "a model learned from tagged tickets", "none": "uncategorised (no confident source)",
                "pending": "not categorised yet"}


def category_sources_note(filters: mq.Filters) -> None:
    """Where the period's categories came from, so a guess is never read as fact."""
    table = complaints.category_sources(warehouse().cursor(), filters, get_settings())
    total = table["tickets"].sum()
    if not total:
        return
    parts = [f"{n / total:.0%} {SOURCE_WORDS.get(s, s)}" for s, n in table.iter_rows()]
    st.caption("Categories come from: " + "; ".join(parts) + ". Rules and the model place a ticket only at "
               "confidence 0.5 or more; the rest stay uncategorised.")


def correction_form(filters: mq.Filters, category: str) -> None:
    """An analyst puts a ticket in its right category; it is kept on re-import and the model learns from it."""
    table = complaints.examples(warehouse().cursor(), filters, category, limit=50, settings=get_settings())
    if table.is_empty():
        return
    with st.form("correction", border=True):
        st.markdown("**Correct a category** — kept when the ticket is imported again, and learned from.")
        left, right = st.columns(2)
        keys = [f"{row['source']}|{row['ticket_id']}" for row in table.iter_rows(named=True)]
        chosen = left.selectbox("Ticket", keys, format_func=lambda key: key.split("|", 1)[1], key="correction_ticket")
        slugs = [slug for slug in taxonomy_labels() if slug != "uncategorised"]
        new = right.selectbox("Right category", slugs, format_func=category_label, key="correction_category")
        if st.form_submit_button("Save correction"):
            source, ticket_id = chosen.split("|", 1)
            try:
                categorise.correct(warehouse(), source, ticket_id, new)
            except ValueError as error:
                st.error(str(error))
                return
            flash(f"Ticket {ticket_id} is now {category_label(new)}.")


def recategorise_button() -> None:
    if st.button("Re-categorise guessed tickets", help="Runs the rules and the model again on every ticket "
                 "they placed, e.g. after editing the taxonomy file or correcting tickets."):
        with st.spinner("Categorising…"):
            result = categorise.categorise(warehouse(), redo_guesses=True)
        flash(f"{result.tickets:,} tickets categorised again.")


def taxonomy_problem() -> str | None:
    """Why the configured taxonomy file cannot be used, in words; None when it can."""
    try:
        taxonomy_labels()
    except TaxonomyError as error:
        return str(error)
    return None
