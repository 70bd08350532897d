"""What every page shares: the cached warehouse handle, versioned cached queries, the sidebar filters, state kept in
the URL and the link that shares it, and messages that outlive a rerun. The only UI module that reads settings or
opens the warehouse.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import inspect
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

import polars as pl
import streamlit as st
from streamlit.runtime.state import get_session_state

from data import categorising, clock, inbox, ingest, linking, rollups
from data.classifier import TaxonomyError
from data.schema import DEMO_SOURCE
from data.warehouse import Warehouse
from metrics import facts
from metrics import query as mq
from settings import Settings, get_settings
from ui import access
from ui.collector import collections_held

log = logging.getLogger("cspulse")
T = TypeVar("T")


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner="Opening the warehouse…")
def warehouse() -> Warehouse:
    """The process's one connection; every caller takes its own cursor from it."""
    began = time.monotonic()
    with collections_held():  # pandas (the first bound parameter imports it) and a first start's demo store
        wh = Warehouse(settings().warehouse_file, fill=_load_demo_if_empty)
        if wh not in _ROLLUPS_PENDING:  # not the demo store just built
            _follow_clock(wh)
            # a warehouse from before the ticket rollup gets it once, before any page reads; again after a change
            # of the settings its parts read (SLA targets, the CSAT rule, escalation and automation tags)
            rollups.sync(wh, settings())
            _derive(wh)  # tickets an interrupted run left uncategorised or unlinked
        # scheduled imports (`python -m data.cli` while this runs) queue in the inbox; this process imports them
        inbox.watch(wh, inbox.inbox_of(settings().warehouse_file), _import_queued)
        # a start's share before the first page statement, in the server log (bench/startup.py reads it there)
        log.info("warehouse ready in %.2f s", time.monotonic() - began)
        _spare_the_collector()
    return wh


# The warehouses whose rollups wait for the end of a first page's run: the demo store's, just built.
_ROLLUPS_PENDING: weakref.WeakSet[Warehouse] = weakref.WeakSet()
_PENDING_LOCK = threading.Lock()


def _load_demo_if_empty(wh: Warehouse) -> None:
    """The demo store, on an empty warehouse from which it was never cleared. Its rollups are built once, after the
    first page is drawn (:func:`keep_rollups`): its few thousand tickets read as fast raw, and building and writing
    the rollups was a third of a first start's wait."""
    if not settings().load_demo_when_empty or not wh.is_empty() or wh.meta(f"cleared:{DEMO_SOURCE}"):
        return
    # the clock's first record, the import, categorising and linking would each build the rollups whole
    with rollups.deferred():
        _follow_clock(wh)  # before the import: its rows arrive with their local days on the settings' clock
        load_demo(wh)
        _derive(wh)
    _ROLLUPS_PENDING.add(wh)


def keep_rollups() -> None:
    """After a page has run: the rollups the start left for later (the demo store's), built once, by the first
    run to get here (another session's run meanwhile goes on without waiting); every reader meanwhile read raw
    rows, which give the same values. Nothing to do on every later run."""
    if not _ROLLUPS_PENDING or not _PENDING_LOCK.acquire(blocking=False):
        return
    try:
        for wh in list(_ROLLUPS_PENDING):
            _ROLLUPS_PENDING.discard(wh)
            if not wh.closed:
                rollups.sync(wh, settings())
    finally:
        _PENDING_LOCK.release()


@functools.cache
def _spare_the_collector() -> None:
    """Leave the objects made so far (the modules' functions, classes and tables; pandas too, which the first
    statement with a parameter imports) out of every later garbage collection. The server runs a full collection
    after every script run (Streamlit's runner.postScriptGC, which AppTest does not), and walking these 140,000
    objects took it 0.1-0.4 s of CPU, holding the GIL while the run's last messages waited to be sent. They live as
    long as the process anyway. Once per process: each freeze also keeps whatever garbage is waiting then."""
    gc.freeze()


def _import_queued(wh: Warehouse, *job: Any) -> list[dict[str, object]]:
    # The readers behind data.cli load with the first queued job, not with every start of the dashboard.
    from data import cli

    return cli.job_importer(settings(), categorising.current_taxonomy())(wh, *job)


def _follow_clock(wh: Warehouse) -> None:
    """Local dates and business minutes are worked out once per row: after the time zone or business hours changed,
    once more, for every row, before any page reads them."""
    wanted = clock.Clock.of(settings())
    if clock.recorded(wh.cursor()) == wanted.recorded:
        return
    with st.spinner(f"Working out local dates and business hours ({wanted.describe()})…"):
        rebuilt = clock.sync(wh, wanted)
    if rebuilt and not wh.is_empty():  # shown by show_flash on this run; a toast here would replay on every run
        st.session_state["_flash"] = (f"The time zone or business hours changed: local dates and business minutes "
                                      f"were worked out again for {wanted.describe()}.")


def load_demo(wh: Warehouse) -> None:
    from data import demo  # the generator and numpy's random streams, for an empty warehouse only

    with st.spinner("Building the demo store (two years of orders and tickets)…"):
        result = ingest.import_batch(wh, demo.demo_batch(salt=ingest.pii_salt(wh, settings())))
    log.info("demo store loaded: %s tickets and orders", result.inserted)


def _derive(wh: Warehouse) -> None:
    """Categorise new tickets, and link every ticket to its order again if the data changed since."""
    with st.spinner("Categorising new tickets…"):
        categorising.categorise(wh)
    with st.spinner("Linking tickets to orders…"):
        linking.link_if_stale(wh, settings().link_window_days)
    facts.refresh(wh)


# --- writes ---------------------------------------------------------------------------------------------------------
def act(action: str, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``write(warehouse, *args, **kwargs)`` if the signed-in person's role allows ``action``: the one way a page
    changes data. A refusal raises ``access.Refused``, which the frame shows in words."""
    access.require(action)
    return write(warehouse(), *args, **kwargs)


def guard(action: str, help: str | None = None) -> dict[str, Any]:
    """A write control's ``disabled`` and ``help``: greyed out, with the reason as its tooltip, where the signed-in
    person may not do ``action`` (``act`` still checks, whatever the browser sends)."""
    if access.may(action):
        return {"disabled": False, "help": help}
    return {"disabled": True, "help": access.refusal(access.current().role, action)}


# --- cached reads ---------------------------------------------------------------------------------------------------
def cached(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(cursor, *args, **kwargs)``, computed once per version of the data; a ``settings`` parameter of ``fn`` is
    filled in. Every import, undo or correction changes the version, which expires every cached result."""
    # by keyword: Streamlit names each positional argument from the function's signature, worked out again on every
    # call (five signatures a hit, most of a warm hit's cost)
    return _results()(version=warehouse().data_version(), name=f"{fn.__module__}.{fn.__qualname__}", _fn=fn,
                      args=args, kwargs=kwargs)


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
    _facts_for(warehouse(), version)  # after a queued import, before the first statement of the new version
    return _fn(warehouse().cursor(), *args, **kwargs)


# The data version each open warehouse's stored facts were last checked at. A page's first run misses the cache a
# dozen times or more, each asking the warehouse whether its facts hold (a statement and a JSON parse, 1-2 ms);
# once per version is enough: facts.bind still checks the version before it uses them.
_FACTS_CHECKED: weakref.WeakKeyDictionary[Warehouse, int] = weakref.WeakKeyDictionary()


def _facts_for(wh: Warehouse, version: int) -> None:
    """The warehouse's facts worked out for ``version`` if they are not yet, checked once per version."""
    if _FACTS_CHECKED.get(wh) != version:
        facts.refresh(wh)
        _FACTS_CHECKED[wh] = version


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


def warehouse_is_empty() -> bool:
    """No tickets and no orders, as of this data version: a page asks on every run."""
    return cached(_is_empty)


def _is_empty(cur: object) -> bool:
    return warehouse().is_empty()


def has_demo_data() -> bool:
    return DEMO_SOURCE in imports().filter(pl.col("undone_at").is_null())["source"].to_list()


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
    return category_namer()(slug)


def category_namer() -> Callable[[str], str]:
    """A category's name by its slug, the labels read once: for a whole column or a widget's options (reading them
    per value was a cache lookup per row)."""
    labels = category_labels()
    return lambda slug: labels.get(slug, slug.replace("_", " ").capitalize())


def taxonomy_problem() -> str | None:
    """Why the configured taxonomy file cannot be used, in words, naming the file but not its folder (the full path
    goes to the server log); None when it can."""
    try:
        taxonomy_labels()
    except TaxonomyError as error:
        log.error("the complaint taxonomy file is not usable: %s", error)
        return without_folders(str(error))
    return None


def without_folders(text: str) -> str:
    """``text`` with every absolute path cut to its last part: a page never shows where the server keeps files."""
    return _FOLDERS.sub("", text)


_FOLDERS = re.compile(r"(?<![\w.])/(?:[^/\s:'\"]+/)+")


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
        # the link's bounds, not Streamlit's default of today ± 10 years, which dropped older links without a word
        first, last = link_dates()
        st.date_input("From", value=None, key="start", format="YYYY-MM-DD", bind="query-params",
                      min_value=first, max_value=last)
        st.date_input("To", value=None, key="end", format="YYYY-MM-DD", bind="query-params",
                      min_value=first, max_value=last)
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


LINK_MARGIN = timedelta(days=366)  # a link may look a year past the data: a previous period, a peak ahead
LINK_TEXT_MAX = 200  # longer than any date, slug or event a page writes; a longer value is dropped before any work
LINK_VALUES_MAX = 50  # values of one repeated parameter (channels, categories, events)


def _check_link(defaults: mq.Filters, choices: dict[str, list[str]]) -> None:
    """On a session's first run: a missing or bad date in the link becomes the default, and whatever the link asks
    for that this data cannot show is said in a toast (a bound widget drops it silently)."""
    if "_link_checked" in st.session_state:
        return
    st.session_state["_link_checked"] = True
    _drop_oversized_link_values()
    first, last = link_dates()
    for key in ("start", "end"):
        text = st.query_params.get(key)
        if text is None or _iso_date(text, first, last) is None:
            st.session_state[key] = getattr(defaults, key)
        if text is not None and _iso_date(text, first, last) is None:
            st.toast(f"Ignored the link's {key} date {text!r}: expected YYYY-MM-DD from {first} to {last} (the "
                     "data's dates and a year either side).")
    for key in ("channel", "priority"):
        if any(value not in choices[key] for value in st.query_params.get_all(key)):
            st.toast(f"Ignored {key} values in the link that this data does not have.")


def _drop_oversized_link_values() -> None:
    """A parameter too long, or repeated too often, for any link CS Pulse writes leaves the URL before any page reads
    it (parsing or matching 100 KB kept a page busy for half a minute)."""
    dropped = False
    for key in list(st.query_params):
        values = st.query_params.get_all(key)
        longest = max(len(key), *map(len, values))
        if longest <= LINK_TEXT_MAX and len(values) <= LINK_VALUES_MAX:
            continue
        del st.query_params[key]
        dropped = True
        why = (f"{longest:,} characters, more than {LINK_TEXT_MAX}" if longest > LINK_TEXT_MAX
               else f"{len(values):,} values, more than {LINK_VALUES_MAX}")
        what = f"{key} date" if key in ("start", "end") else repr(key[:LINK_TEXT_MAX])  # as the dates' own toast
        st.toast(f"Ignored the link's {what}: {why}.")
    if dropped:
        # A bound widget seeds itself from the URL as first loaded, not from st.query_params: forget the dropped
        # values there too (Streamlit's own call for the params it filters out on a page change).
        with get_session_state().query_params() as params:
            params.set_initial_query_params_from_current()


def link_dates() -> tuple[date, date]:
    """The first and last day a link or a date widget may ask for: the data's dates and a year either side (today's
    without data). Beyond them no page has anything to show, yet 1900 to 2199 cost minutes of server CPU, and year 1
    or 9999 overflowed the date arithmetic of a previous period."""
    first, last = cached(mq.data_range) or (date.today(), date.today())
    return first - LINK_MARGIN, last + LINK_MARGIN


def _iso_date(text: str, first: date, last: date) -> date | None:
    """The link's date, or None when it is not YYYY-MM-DD from ``first`` to ``last``."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if first <= day <= last else None


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
    note_in_link(key, value)
    return value


def url_choices(label: str, options: Sequence[str], key: str, *, format_func: Callable[[str], str] = str,
                default: Sequence[str] = (), placeholder: str = "") -> list[str]:
    """Several labelled choices kept in the URL as ``?key=a&key=b`` (slugs, as ``url_choice``). Where the default is
    not empty, none chosen is ``?key=`` (as Streamlit writes a cleared widget), so that it does not read as the
    default."""
    if key not in st.session_state:
        wanted = ([value for value in st.query_params.get_all(key) if value] if key in st.query_params
                  else list(default))
        if any(value not in options for value in wanted):
            st.toast(f"Ignored {key} values in the link that this data does not have.")
        st.session_state[key] = [value for value in wanted if value in options]
    st.session_state[key] = [value for value in st.session_state[key] if value in options]
    values = st.multiselect(label, list(options), key=key, format_func=format_func, placeholder=placeholder)
    in_url = values or ([""] if default else [])
    if in_url and st.query_params.get_all(key) != in_url:
        st.query_params[key] = in_url
    elif not in_url and key in st.query_params:
        del st.query_params[key]
    note_in_link(key, values)
    return values


def check_link(key: str, valid: Callable[[str], bool], expected: str) -> None:
    """A widget bound to the URL drops a value it cannot show without a word: the first time it is drawn in a
    session, say so, as for every other value of a link."""
    text = st.query_params.get(key)
    if key not in st.session_state and text is not None and not valid(text):
        st.toast(f"Ignored the link's {key} {text!r}: expected {expected}.")


def url_bound(key: str) -> dict[str, str]:
    """``key=`` and ``bind="query-params"`` for a widget Streamlit itself keeps in the URL (a page's widget; the
    sidebar's filters go into the link from ``Filters``). Streamlit leaves a widget at its default out of the URL, and
    a default may come from the data or the settings: noted here, the shared link carries its value all the same."""
    note_in_link(key, _IN_SESSION_STATE)
    return {"key": key, "bind": "query-params"}


# --- the link to this exact view ------------------------------------------------------------------------------------
# The choices the running page drew, by URL key: a value, or _IN_SESSION_STATE for a widget Streamlit binds (its
# value is read when the link is drawn). None outside share_link(), where nothing is noted.
_NOTED: ContextVar[dict[str, object] | None] = ContextVar("cspulse_noted_in_link", default=None)
_IN_SESSION_STATE = object()


def note_in_link(key: str, value: object) -> None:
    """Put ``?key=value`` in the running page's shared link: for state kept in the URL without a widget."""
    noted = _NOTED.get()
    if noted is not None:
        noted[key] = value


@contextmanager
def share_link() -> Iterator[None]:
    """Around ``page.run()``: "Share this view" in the sidebar, the link to this page with its whole state. Drawn
    first from the filters and the URL, which is all a page that stops early has drawn, then again once the page has
    run, from every choice it drew, defaults included."""
    slot = st.sidebar.empty()
    noted: dict[str, object] = {}
    token = _NOTED.set(noted)
    try:
        _draw_share_link(slot, None)
        yield
        _draw_share_link(slot, noted)
    finally:
        _NOTED.reset(token)


def _draw_share_link(slot: Any, noted: dict[str, object] | None) -> None:
    with slot.container(), st.popover("Share this view", icon=":material/link:", width="stretch"):
        st.caption("This page with its dates, filters and choices, for anyone who can open CS Pulse: copy it with "
                   "the button beside it. Tickets picked in a chart are not part of it.")
        st.code(view_link(noted), language=None, wrap_lines=True)


def view_link(noted: dict[str, object] | None) -> str:
    """This page's URL with its state: the filters in force with their dates spelled out (the default dates move as
    data arrives), then each choice the page drew at its value, defaults included, which Streamlit leaves out of the
    URL. Before the page has drawn its choices (``noted`` None), the URL's own parameters stand in for them."""
    if noted is None:
        page: dict[str, object] = {key: st.query_params.get_all(key) for key in st.query_params}
    else:
        page = {key: st.session_state.get(key) if value is _IN_SESSION_STATE else value
                for key, value in noted.items()}
    filters = _filter_values(current_filters())
    values = {**filters, **{key: value for key, value in page.items() if key not in filters}}
    # None: a dimension left at all, or a bound choice cleared, whose fallback the page shows is the opener's default
    query = urlencode({key: _url_values(value) for key, value in values.items() if value is not None}, doseq=True)
    return f"{st.context.url or ''}?{query}"  # st.context.url: this page's address, without its query


def _filter_values(filters: mq.Filters) -> dict[str, object]:
    """The filters by field name, which is their widget's key and URL parameter; a dimension left empty (all)
    stays out of the link, the dates never do."""
    values = {field.name: getattr(filters, field.name) for field in dataclasses.fields(filters)}
    return {key: (list(value) or None) if isinstance(value, tuple) else value for key, value in values.items()}


def _url_values(value: object) -> list[str]:
    """A widget's value as Streamlit reads it from the URL: ``true``/``false``, ISO dates, one parameter per
    element, and an empty list as one empty value (cleared)."""
    if isinstance(value, list | tuple):
        return [str(item) for item in value] or [""]
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, date):
        return [value.isoformat()]
    return [str(value)]


# --- messages -------------------------------------------------------------------------------------------------------
def flash(message: str) -> NoReturn:
    """Rerun now and say ``message`` on the next run: a toast shown just before a rerun would be lost with it."""
    st.session_state["_flash"] = message
    st.rerun()


def show_flash() -> None:
    if message := st.session_state.pop("_flash", None):
        st.toast(message)
