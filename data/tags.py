"""A ticket's tags as a list, worked out once when the ticket arrives.

An export gives its tags as one free-text cell (space-, comma- or semicolon-separated, any case). The escalation and
automation rates ask of every ticket in every query whether one of its tags is in a list from settings; splitting
the text with a regex each time cost more than the rest of those queries, so the import stores the split, lower-cased
words in ``tickets.tag_list`` (NULL where the export gives no tags) with each row it merges (:func:`arriving`, in
data.ingest._merge, which both import paths pass through), not by an UPDATE afterwards, which held half a gigabyte
more at a million tickets. The tags in settings stay bound parameters of the query, so changing them rebuilds nothing.
"""

from __future__ import annotations

import duckdb

# Each run of characters that are not separators is one tag: no empty tag from a leading, trailing or doubled one.
TAG_LIST = r"regexp_extract_all(lower(tags), '[^\s,;]+')"


def arriving(cur: duckdb.DuckDBPyConnection, relation: str) -> str:
    """``relation`` (tickets about to be written) as SQL, with each one's tag list: split once per distinct tags
    cell, into a TEMP table of the cursor, since a store's tickets share a few hundred of them (splitting every
    cell of a million took 0.5 to 1 s of the import's INSERT)."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE tag_lists AS SELECT tags, {TAG_LIST} AS tag_list "
                f"FROM (SELECT DISTINCT tags FROM {relation} WHERE tags IS NOT NULL)")
    return f"(SELECT s.* REPLACE (l.tag_list AS tag_list) FROM {relation} s LEFT JOIN tag_lists l ON l.tags = s.tags)"


def fill_all(table: str) -> str:
    """SQL working out the tag list of every row of ``tickets`` or ``tickets_replaced`` (a schema migration)."""
    if table not in ("tickets", "tickets_replaced"):
        raise ValueError(f"table must be tickets or tickets_replaced, not {table!r}")
    return f"UPDATE {table} SET tag_list = {TAG_LIST}"
