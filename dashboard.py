"""CS Pulse: the frame. Page config, the shared sidebar filters, navigation, then the chosen page runs."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from data.warehouse import WarehouseError
from settings import SettingsError
from ui import session

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("cspulse")

# a local icon: a Material icon here makes every browser fetch it from Google's font servers
st.set_page_config(page_title="CS Pulse", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")

try:
    session.settings()
except SettingsError as error:
    st.error(f"CS Pulse cannot start. {error}. Fix it in the environment or `.env`, then restart.")
    st.stop()

if problem := session.taxonomy_problem():
    st.error(f"CS Pulse cannot start: the complaint taxonomy file is not usable. {problem}. "
             "Fix the file or unset CSPULSE_TAXONOMY_PATH, then restart.")
    st.stop()

page = st.navigation([
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/trends.py", title="Trends", icon=":material/show_chart:"),
    st.Page("app_pages/team.py", title="Team", icon=":material/groups:"),
    st.Page("app_pages/staffing.py", title="Staffing", icon=":material/support_agent:"),
    st.Page("app_pages/complaints.py", title="Complaints", icon=":material/report:"),
    st.Page("app_pages/orders.py", title="Orders & loyalty", icon=":material/shopping_cart:"),
    st.Page("app_pages/imports.py", title="Import", icon=":material/upload_file:"),
    st.Page("app_pages/data.py", title="Data", icon=":material/database:"),
])
try:
    st.session_state["filters"] = session.sidebar_filters()
    session.show_flash()
    with session.share_link():  # "Share this view" in the sidebar: the link to this page as it is
        page.run()
except WarehouseError as error:
    log.warning("warehouse unavailable: %s", error)
    st.error(f"CS Pulse cannot use its warehouse: {error}")
except Exception:
    # Streamlit's own stop and rerun signals are BaseExceptions and pass through untouched.
    log.exception("page %s failed", page.title)
    st.error("Something went wrong while drawing this page. The details are in the server log; "
             "try another period or filter, or reload.")
