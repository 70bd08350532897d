"""The server's warm-up: what the first visit after `streamlit run dashboard.py` waits for, worked out while the
first browser is still loading Streamlit's scripts, a second or more in which the server had nothing to do.

dashboard.py serves itself as an ``st.App`` with :func:`lifespan`, which starts :func:`warm_up` in a thread once the
server runs and returns at once: the health check answers as soon as before. Imported before the server answers, so
this module imports nothing heavy; the thread imports the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger("cspulse")
THREAD = "cspulse-warm-up"
# Streamlit warns once per call outside a visit's script run (the spinners, session state): expected in this thread.
QUIET_IN_THREAD = ("streamlit.runtime.scriptrunner_utils.script_run_context",
                   "streamlit.runtime.state.session_state_proxy")


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    threading.Thread(target=warm_up, name=THREAD, daemon=True).start()
    yield


def warm_up() -> None:
    """The Overview as a visit without a link draws it first, into the caches every visit shares. A visit that comes
    sooner waits for the value in progress (a cached value is computed once) instead of working it out again. A
    failure is left to the first visit, which says it in words."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # as the frame
    for name in QUIET_IN_THREAD:
        logging.getLogger(name).addFilter(_not_in_warm_up)
    try:
        from data.warehouse import WarehouseError
        from settings import SettingsError
        from ui import overview

        began = time.monotonic()
        try:
            if overview.warm_up():
                log.info("warm-up: the Overview was worked out in %.1f s", time.monotonic() - began)
        except SettingsError:
            log.info("no warm-up: a setting has a value CS Pulse cannot use (the first visit says which)")
        except WarehouseError as error:  # in use by another process, say: as the frame logs it
            log.warning("no warm-up: warehouse unavailable: %s", error)
    except Exception:
        log.exception("the warm-up failed; the first visit works the Overview out itself")


def _not_in_warm_up(record: logging.LogRecord) -> bool:
    return record.threadName != THREAD
