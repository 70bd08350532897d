"""A ticket's tags as a list, worked out once when the ticket arrives.

An export gives its tags as one free-text cell (space-, comma- or semicolon-separated, any case). The escalation and
automation rates ask of every ticket in every query whether one of its tags is in a list from settings; splitting
the text with a regex each time cost more than the rest of those queries, so the import stores the split, lower-cased
words in ``tickets.tag_list`` (NULL where the export gives no tags) with each row it merges (data.ingest._merge, which
both import paths pass through), not by an UPDATE afterwards, which held half a gigabyte more at a million tickets.
The tags in settings stay bound parameters of the query, so changing them rebuilds nothing.
"""

from __future__ import annotations

# Each run of characters that are not separators is one tag: no empty tag from a leading, trailing or doubled one.
TAG_LIST = r"regexp_extract_all(lower(tags), '[^\s,;]+')"
# table -> column -> SQL over the row's own columns: what data.ingest writes with each merged row
COMPUTED: dict[str, dict[str, str]] = {"tickets": {"tag_list": TAG_LIST}}


def fill_all(table: str) -> str:
    """SQL working out the tag list of every row of ``tickets`` or ``tickets_replaced`` (a schema migration)."""
    if table not in ("tickets", "tickets_replaced"):
        raise ValueError(f"table must be tickets or tickets_replaced, not {table!r}")
    return f"UPDATE {table} SET tag_list = {TAG_LIST}"
