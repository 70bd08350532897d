"""What every page shares: the cached warehouse handle, versioned cached queries, the sidebar filters, state kept in
the URL, and messages that outlive a rerun. The only UI module that reads settings or opens the warehouse.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NoReturn, TypeVar

import polars as pl
import streamlit as st

from data import categorising, demo, ingest, linking
from data.classifier import TaxonomyError
from data.warehouse import Warehouse
from metrics import query as mq
from settings import Settings, get_settings

log = logging.getLogger("cspulse")
T = TypeVar("T")


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner="Opening the warehouse…")
def warehouse() -> Warehouse:
    """The process's one connection; every caller takes its own cursor from it."""
    wh = Warehouse(settings().warehouse_file)
    if settings().load_demo_when_empty and wh.is_empty() and not wh.meta(f"cleared:{demo.DEMO_SOURCE}"):
        load_demo(wh)
    _derive(wh)  # tickets an interrupted run left uncategorised or unlinked
    return wh


def load_demo(wh: Warehouse) -> None:
    with st.spinner("Building the demo store (two years of orders and tickets)…"):
        result = ingest.import_batch(wh, demo.demo_batch(salt=ingest.pii_salt(wh, settings())))
    log.info("demo store loaded: %s tickets and orders", result.inserted)


def _derive(wh: Warehouse) -> None:
    """Categorise new tickets, and link every ticket to its order again if the data changed since."""
    with st.spinner("Categorising new tickets…"):
        categorising.categorise(wh)
    with st.spinner("Linking tickets to orders…"):
        linking.link_if_stale(wh, settings().link_window_days)


# --- cached reads ---------------------------------------------------------------------------------------------------
def cached(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(cursor, *args, **kwargs)``, computed once per version of the data; a ``settings`` parameter of ``fn`` is
    filled in. Every import, undo or correction changes the version, which expires every cached result."""
    return _results()(warehouse().data_version(), f"{fn.__module__}.{fn.__qualname__}", fn, args, kwargs)


@st.cache_resource(show_spinner=False)
def _results() -> Callable[..., Any]:
    """The results cache, bounded by the settings' entries and megabytes. Built on first use rather than by a
    decorator at import: reading settings at import would raise before dashboard.py can show a bad value's message."""
    limits = settings()
    return st.cache_data(show_spinner=False, max_entries=limits.cache_max_entries,
                         max_size=limits.cache_max_mb * 2**20)(_compute)


def _compute(version: int, name: str, _fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    # name stands in for _fn in the key: Streamlit cannot hash a function
    if "settings" in inspect.signature(_fn).parameters:
        kwargs = {**kwargs, "settings": settings()}
    return _fn(warehouse().cursor(), *args, **kwargs)


def kpis(names: Sequence[str], filters: mq.Filters, grain: str | None = None, by: str | None = None,
         samples: bool = False) -> pl.DataFrame:
    """One frame of KPIs per period (and breakdown value): ``metrics.query.query``, cached."""
    return cached(mq.query, tuple(names), filters, grain, by=by, samples=samples)


def imports() -> pl.DataFrame:
    """The import ledger, newest first."""
    return cached(_ledger)


def _ledger(cur: object) -> pl.DataFrame:
    return warehouse().imports()


def row_count(table: str) -> int:
    return cached(_row_count, table)


def _row_count(cur: object, table: str) -> int:
    return warehouse().row_count(table)


def has_demo_data() -> bool:
    return demo.DEMO_SOURCE in imports().filter(pl.col("undone_at").is_null())["source"].to_list()


def data_replaced() -> None:
    """After an import, undo, a loaded or a cleared demo: the derived columns follow the data (categories, links to
    orders), and the old dates, which may lie outside the new data, move to the new default on the next run, before
    the date widgets exist (a widget's state cannot change once it is drawn)."""
    _derive(warehouse())
    st.session_state["_reset_dates"] = True


@st.cache_resource(show_spinner=False)
def taxonomy_labels() -> dict[str, str]:
    return categorising.current_taxonomy().labels()


def category_labels() -> dict[str, str]:
    """Every category's name: the taxonomy's labels, and the store's own categories as exported."""
    return cached(categorising.category_labels)


def category_label(slug: str) -> str:
    return category_labels().get(slug, slug.replace("_", " ").capitalize())


def taxonomy_problem() -> str | None:
    """Why the configured taxonomy file cannot be used, in words; None when it can."""
    try:
        taxonomy_labels()
    except TaxonomyError as error:
        return str(error)
    return None


# --- the shared filters ---------------------------------------------------------------------------------------------
def sidebar_filters() -> mq.Filters:
    """The sidebar's filters. Dates, channel and priority are bound to the URL by Streamlit itself; the category
    keeps its slug in the link (a bound widget would write its label)."""
    defaults = cached(mq.default_filters)
    choices = {key: cached(mq.dimension_values, key) for key in mq.DIMENSIONS}
    _check_link(defaults, choices)
    if st.session_state.pop("_reset_dates", False):
        st.session_state["start"], st.session_state["end"] = defaults.start, defaults.end
    for key in ("channel", "priority"):  # a choice the data no longer has would break its widget
        st.session_state[key] = [v for v in st.session_state.get(key, []) if v in choices[key]]
    with st.sidebar:
        st.subheader("Filters")
        st.date_input("From", value=None, key="start", format="YYYY-MM-DD", bind="query-params")
        st.date_input("To", value=None, key="end", format="YYYY-MM-DD", bind="query-params")
        st.multiselect("Channel", choices["channel"], key="channel", placeholder="All channels", bind="query-params")
        category = url_choices("Category", choices["category"], "category", placeholder="All categories",
                               format_func=category_label)
        st.multiselect("Priority", choices["priority"], key="priority", placeholder="All priorities",
                       bind="query-params")
    start, end = st.session_state["start"] or defaults.start, st.session_state["end"] or defaults.end
    if end < start:
        st.sidebar.warning("'To' is before 'From': showing the single day 'From'.")
        end = start
    return mq.Filters(start=start, end=end, channel=tuple(st.session_state["channel"]), category=tuple(category),
                      priority=tuple(st.session_state["priority"]))


def _check_link(defaults: mq.Filters, choices: dict[str, list[str]]) -> None:
    """On a session's first run: a missing or bad date in the link becomes the default, and whatever the link asks
    for that this data cannot show is said in a toast (a bound widget drops it silently)."""
    if "_link_checked" in st.session_state:
        return
    st.session_state["_link_checked"] = True
    for key in ("start", "end"):
        text = st.query_params.get(key)
        if text is None or _iso_date(text) is None:
            st.session_state[key] = getattr(defaults, key)
        if text is not None and _iso_date(text) is None:
            st.toast(f"Ignored the link's {key} date {text!r}: expected YYYY-MM-DD.")
    for key in ("channel", "priority"):
        if any(value not in choices[key] for value in st.query_params.get_all(key)):
            st.toast(f"Ignored {key} values in the link that this data does not have.")


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def current_filters() -> mq.Filters:
    return st.session_state["filters"]


# --- page state kept in the URL -------------------------------------------------------------------------------------
def url_choice(label: str, options: Sequence[str], key: str, default: str, *,
               format_func: Callable[[str], str] = str, segmented: bool = False) -> str:
    """A labelled choice kept in the URL as ``?key=slug``. Streamlit's own binding would write the label, which
    changes with the wording or the taxonomy; a slug keeps old links working."""
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


def url_choices(label: str, options: Sequence[str], key: str, *, format_func: Callable[[str], str] = str,
                default: Sequence[str] = (), placeholder: str = "") -> list[str]:
    """Several labelled choices kept in the URL as ``?key=a&key=b`` (slugs, as ``url_choice``)."""
    if key not in st.session_state:
        wanted = st.query_params.get_all(key) if key in st.query_params else list(default)
        if any(value not in options for value in wanted):
            st.toast(f"Ignored {key} values in the link that this data does not have.")
        st.session_state[key] = [value for value in wanted if value in options]
    st.session_state[key] = [value for value in st.session_state[key] if value in options]
    values = st.multiselect(label, list(options), key=key, format_func=format_func, placeholder=placeholder)
    if values and st.query_params.get_all(key) != values:
        st.query_params[key] = values
    elif not values and key in st.query_params:
        del st.query_params[key]
    return values


def check_link(key: str, valid: Callable[[str], bool], expected: str) -> None:
    """A widget bound to the URL drops a value it cannot show without a word: the first time it is drawn in a
    session, say so, as for every other value of a link."""
    text = st.query_params.get(key)
    if key not in st.session_state and text is not None and not valid(text):
        st.toast(f"Ignored the link's {key} {text!r}: expected {expected}.")


# --- messages -------------------------------------------------------------------------------------------------------
def flash(message: str) -> NoReturn:
    """Rerun now and say ``message`` on the next run: a toast shown just before a rerun would be lost with it."""
    st.session_state["_flash"] = message
    st.rerun()


def show_flash() -> None:
    if message := st.session_state.pop("_flash", None):
        st.toast(message)
