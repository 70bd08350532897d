"""The Streamlit glue: the cached warehouse, cached queries, the shared filters and the KPI tiles.

Pages call these and draw; ``metrics`` and ``data`` never import Streamlit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date

import polars as pl
import streamlit as st

import charts
from data import demo, ingest
from data.cast import mask_pii
from data.csvread import Limits
from data.export import safe_csv
from data.formats import MAPPABLE, SOURCES
from data.pipeline import Plan, load_mappings, plan_files, run_plan, save_mapping
from data.readers import Context
from data.taxonomy import CATEGORIES
from data.warehouse import Warehouse
from data.warehouse import WarehouseError as WarehouseError  # the frame reports it in words
from metrics import query as mq
from metrics import views
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
    return wh


def load_demo(wh: Warehouse) -> ingest.ImportResult:
    with st.spinner("Building the demo store (two years of orders and tickets)…"):
        result = ingest.import_batch(wh, demo.demo_batch(salt=ingest.pii_salt(wh, get_settings())))
    log.info("demo store loaded: %s tickets and orders", result.inserted)
    return result


def query(names: Sequence[str], filters: mq.Filters, grain: str | None = None, by: str | None = None,
          samples: bool = False) -> pl.DataFrame:
    return _cached_query(warehouse().data_version(), tuple(names), filters, grain, by, samples)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(_version: int, names: tuple[str, ...], filters: mq.Filters, grain: str | None,
                  by: str | None, samples: bool) -> pl.DataFrame:
    # The data version is part of the key: a new import expires every cached result.
    return mq.query(warehouse().cursor(), names, filters, grain, by=by, samples=samples)


@st.cache_data(show_spinner=False)
def _compare(_version: int, names: tuple[str, ...], filters: mq.Filters) -> dict[str, tuple[mq.Value, mq.Value]]:
    return mq.compare(warehouse().cursor(), names, filters)


@st.cache_data(show_spinner=False)
def _choices(version: int) -> dict[str, list[str]]:
    cur = warehouse().cursor()
    return {dimension: mq.dimension_values(cur, dimension) for dimension in mq.DIMENSIONS}


@st.cache_data(show_spinner=False)
def _default_filters(version: int) -> mq.Filters:
    return mq.default_filters(warehouse().cursor())


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
                       format_func=lambda slug: CATEGORIES.get(slug, slug))
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
        st.toast("Demo data cleared.")
        st.rerun()


def table_counts() -> str:
    wh = warehouse()
    tables = ("tickets", "orders", "order_lines")
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
    with st.expander(f"{plan.rejected_rows:,} records left out — why", expanded=False):
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
    st.dataframe(view, hide_index=True, width="stretch")
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
        st.toast(f"Undone: {counts['removed']:,} rows removed, {counts['restored']:,} earlier versions restored.")
        st.rerun()


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
    settings, sizes = get_settings(), frame.get_column(f"{metric.name}_n", default=None)
    text = f"**{metric.label}**: {metric.description}"
    if "business" in metric.name:
        days = ", ".join(settings.business_days)
        text += (f" Business hours are {settings.business_hours_start:%H:%M}–{settings.business_hours_end:%H:%M} "
                 f"({days}, {settings.timezone}) from settings wherever the export has no business-hour column.")
    if sizes is not None and sizes.drop_nulls().len():
        low, high = int(sizes.min()), int(sizes.max())  # type: ignore[arg-type]
        text += f" Each value rests on {low:,}–{high:,} tickets." if low != high else \
            f" Each value rests on {low:,} tickets."
        if low < settings.min_sample:
            text += (f" Values over fewer than {settings.min_sample} tickets are drawn in grey: "
                     "read them as indications, not results.")
    st.caption(text)


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
def _unavailable(_version: int, names: tuple[str, ...]) -> dict[str, str]:
    return views.unavailable(warehouse().cursor(), names)


def arrivals(filters: mq.Filters) -> pl.DataFrame:
    return _arrivals(warehouse().data_version(), filters)


@st.cache_data(show_spinner=False)
def _arrivals(_version: int, filters: mq.Filters) -> pl.DataFrame:
    return views.arrivals_by_hour(warehouse().cursor(), filters)


def buckets(filters: mq.Filters, stem: str, business: bool) -> pl.DataFrame:
    return _buckets(warehouse().data_version(), filters, stem, business)


@st.cache_data(show_spinner=False)
def _buckets(_version: int, filters: mq.Filters, stem: str, business: bool) -> pl.DataFrame:
    return views.duration_buckets(warehouse().cursor(), filters, stem, business)


def team_table(frame: pl.DataFrame, names: Sequence[str], by: str) -> None:
    """One row per agent or group: each KPI beside its sample size; small samples greyed, every column sortable."""
    min_sample = get_settings().min_sample
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
    order = [BREAKDOWN_LABELS[by], *[c for name in names for c in (name, f"{name}_n")]]
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
    scope = views.period_filters(filters, date.fromisoformat(period), grain) if period else filters
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
def _tickets_behind(_version: int, name: str, scope: mq.Filters, by: str | None, value: str | None) -> pl.DataFrame:
    table = views.tickets_behind(warehouse().cursor(), name, scope, by=by, by_value=value)
    return table.with_columns(mask_pii(table["subject"]))  # personal data never leaves the server unmasked


def _ticket_table(table: pl.DataFrame, metric: Metric, scope: mq.Filters) -> None:
    more = " (the newest shown)" if table.height >= views.DRILL_LIMIT else ""
    count = f"{table.height:,} ticket{'' if table.height == 1 else 's'}"
    st.caption(f"{count}{more} behind {metric.label.lower()}, {scope.start:%d %b} – "
               f"{scope.end:%d %b %Y}. Emails and phone numbers are masked.")
    st.dataframe(table, hide_index=True, width="stretch", height=320)
    st.download_button("Download these tickets (CSV)", safe_csv(table), key="drill_csv", mime="text/csv",
                       file_name=f"tickets-{metric.name}-{scope.start}-{scope.end}.csv")
