"""The complaint rollup: per local day tickets were created on and per (channel, category, priority, category source),
the tickets created, and what the Complaints page's "least sure first" list needs to know of their confidence.

The Complaints page counted the view's tickets per category source, per category and week, and listed the newest
tickets of a category and the least sure of a source, each over every ticket of the view: about 1.5 s of its cold
run over two years at ten million tickets. The counts add up over days and keys, so they come from here; the lists
still read the tickets, but only from the newest days that hold enough of them (metrics/complaints.py), which these
counts tell: ``tickets`` for the newest of a category, and for the least sure of a source the tickets that sort first
(``unsure``: no confidence, NULLS FIRST; else those at the group's lowest confidence, ``least_sure``, of which
``at_least_sure``).

Kept in the transaction of every write, as a family of data/kept.py (data.rollups ``FAMILIES``), from the local days
the ticket rollup's writers note (data.rollups ``note_days``): imports, undo, clearing a source and categorising and
corrections (which note the days of every ticket whose category, source or confidence they change). A reader uses
it only while it is marked current on the settings' clock (data.clock ``rollup_holds``).
"""

from __future__ import annotations

import hashlib
import json

from data import kept

TABLE = "complaint_rollup"
META_KEY = "complaint_rollup"
KEYS: tuple[str, ...] = ("channel", "category", "priority", "category_source")  # the ticket columns, as stored


def _counts(where: str) -> str:
    """SQL: the rollup's rows for the tickets whose creation day meets ``where`` (``created_local_date``), grouped by
    their confidence first: a group's count at its lowest confidence is then the count of its lowest row."""
    keys = ", ".join(KEYS)
    return f"""
        WITH sure AS (SELECT created_local_date AS day, {keys}, category_confidence, count(*) AS tickets
                      FROM tickets WHERE created_local_date IS NOT NULL AND ({where}) GROUP BY ALL)
        SELECT day, {keys}, sum(tickets)::BIGINT AS tickets,
               coalesce(sum(tickets) FILTER (WHERE category_confidence IS NULL), 0)::BIGINT AS unsure,
               min(category_confidence) AS least_sure,
               coalesce(arg_min(tickets, category_confidence), 0)::BIGINT AS at_least_sure
        FROM sure GROUP BY ALL"""


SIGNATURE = hashlib.sha256(json.dumps([TABLE, _counts("{where}")]).encode()).hexdigest()[:16]


def family(ticket_days: str) -> kept.Family:
    """The complaint rollup as data/kept.py keeps it: the days the ticket rollup's writers note (``ticket_days``, its
    temp table) worked out again."""
    rebuild, refresh = kept.per_ticket_day(TABLE, _counts, "day", ticket_days)
    return kept.Family("complaints", META_KEY, SIGNATURE, (ticket_days,), rebuild, refresh)
