"""CS Pulse: the frame. Page config, the shared sidebar filters, navigation, then the chosen page runs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import streamlit as st
from streamlit import delta_generator, runtime

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("cspulse")


@st.cache_resource(show_spinner=False)
def _first_run_began() -> None:
    # once per process, before the project's modules load: bench/startup.py tells the browser's and Streamlit's share
    # of a start (until here) from the dashboard's own
    log.info("first run began")


_first_run_began()

from ui.collector import collections_held  # noqa: E402 - after the moment above, which it must not delay

# A process's first run imports the project's modules with polars, pydantic and numpy: no garbage collection
# meanwhile, as ui.session holds it again while the warehouse opens.
with collections_held():
    from data.warehouse import WarehouseError
    from settings import ENV_PREFIX, SettingsError
    from ui import access, session, widgets

# Before a process's first element Streamlit asks whether it runs in a REPL, by inspect.stack(), which resolved the
# real path of every module's file (1,500 loaded here: 0.1-0.3 s of each start). Served, it is not in one.
if runtime.exists():
    delta_generator._use_warning_has_been_displayed = True

# a local icon: a Material icon here makes every browser fetch it from Google's font servers
st.set_page_config(page_title="CS Pulse", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")

# A bad setting is named on the page; its value (a path, a secret) goes to the server log only.
try:
    session.settings()
except SettingsError as error:
    log.error("cannot start: %s", error)
    names = ", ".join(dict.fromkeys(re.findall(rf"{ENV_PREFIX}[A-Z0-9_]+", str(error)))) or "see the server log"
    st.error(f"CS Pulse cannot start: a setting has a value it cannot use ({names}). The server log says why; fix "
             "it in the environment or `.env`, then restart.")
    st.stop()

person = access.gate(session.settings())  # signed out, a stranger, or an unsafe address: stops here

if problem := session.taxonomy_problem():
    st.error(f"CS Pulse cannot start: the complaint taxonomy file is not usable. {problem}. "
             "Fix the file or unset CSPULSE_TAXONOMY_PATH, then restart.")
    st.stop()

PAGES = {  # file stem -> title, icon; a page someone's role cannot use is not listed, so its URL leads nowhere
    "overview": ("Overview", ":material/dashboard:"),
    "trends": ("Trends", ":material/show_chart:"),
    "team": ("Team", ":material/groups:"),
    "staffing": ("Staffing", ":material/support_agent:"),
    "complaints": ("Complaints", ":material/report:"),
    "orders": ("Orders & loyalty", ":material/shopping_cart:"),
    "imports": ("Import", ":material/upload_file:"),
    "data": ("Data", ":material/database:"),
}
page = st.navigation([st.Page(f"app_pages/{stem}.py", title=title, icon=icon, default=stem == "overview")
                      for stem, (title, icon) in PAGES.items() if access.may_see_page(stem)])
access.sidebar(person)  # before the page: a page that stops early discards what is drawn after it
try:
    st.session_state["filters"] = session.sidebar_filters()
    session.show_flash()
    widgets.report_download(page.title)
    with session.share_link():  # "Share this view" in the sidebar: the link to this page as it is
        page.run()
except access.Refused as error:
    st.error(str(error), icon=":material/block:")
except WarehouseError as error:
    log.warning("warehouse unavailable: %s", error)
    st.error(f"CS Pulse cannot use its warehouse: {error.reason}. The details are in the server log.")
except Exception:
    # Streamlit's own stop and rerun signals are BaseExceptions and pass through untouched.
    log.exception("page %s failed", page.title)
    st.error("Something went wrong while drawing this page. The details are in the server log; "
             "try another period or filter, or reload.")
session.keep_rollups()  # what a first start left for after its first page (the demo store's rollups)
