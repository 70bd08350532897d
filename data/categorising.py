"""The categorising step: every ticket in the warehouse gets a category of the taxonomy after each import, with
where it came from and how sure; and an analyst's corrections, which win. The classifier is :mod:`data.classifier`.

Precedence: an analyst's correction ("analyst"); the export's own category when it names a taxonomy category
("export"); the export's category, ticket type or custom field, or one of its tags, through the taxonomy's
aliases ("mapping"); rules on the subject and description ("rules"); a model learned from the tickets the
store's agents tagged ("model"); else "uncategorised" ("none"), never a guess shown as fact.

It runs in its own transaction after an import, and for anything left pending when the dashboard opens, so a
new taxonomy or an analyst's correction can re-categorise without a re-import. Texts are classified once per
distinct subject and description.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from data.classifier import (
    UNCATEGORISED,
    RulesClassifier,
    Taxonomy,
    TicketModel,
    alias_slug,
    classify_tickets,
    load_taxonomy,
)
from data.warehouse import Warehouse, utc_now
from settings import get_settings

log = logging.getLogger("cspulse")

KNOWN_SOURCES = ("export", "mapping", "analyst")  # what a model may learn from
GUESSED_SOURCES = ("rules", "model", "none")
TRAINING_LIMIT = 20_000  # tagged tickets a model learns from; more adds seconds, not accuracy
MIN_TRAINING = 30
MIN_PER_CATEGORY = 5
TEXT = ("subject", "description")
OUTPUT = ("category", "category_source", "category_confidence")


@dataclass(frozen=True)
class Categorised:
    tickets: int
    by_source: dict[str, int]


def categorise(warehouse: Warehouse, taxonomy: Taxonomy | None = None, *, redo_guesses: bool = False) -> Categorised:
    """Categorise the pending tickets (all that rules or a model placed too, with ``redo_guesses``)."""
    taxonomy = taxonomy or current_taxonomy()
    where = "category_source IS NULL" + (f" OR category_source IN {GUESSED_SOURCES}" if redo_guesses else "")
    with warehouse.transaction() as cur:
        pending = cur.execute(f"SELECT source, ticket_id, category_exported, tags, subject, description FROM tickets "
                              f"WHERE {where}").pl()
        if pending.is_empty():
            return Categorised(0, {})
        known = _known(pending, taxonomy, _corrections(cur))
        _write(cur, known.filter(pl.col("category_source").is_not_null()))
        guessed = _guess(cur, known.filter(pl.col("category_source").is_null()), taxonomy)
        _write(cur, guessed)
        warehouse.bump_version(cur)
    counts = pl.concat([known.select("category_source").drop_nulls(), guessed.select("category_source")])
    by_source = dict(counts["category_source"].value_counts().iter_rows())
    log.info("categorised %d tickets: %s", pending.height, by_source)
    return Categorised(pending.height, by_source)


def correct(warehouse: Warehouse, source: str, ticket_id: str, category: str, taxonomy: Taxonomy | None = None) -> None:
    """An analyst's category for one ticket: applied now, kept across re-imports, learned from next time."""
    taxonomy = taxonomy or current_taxonomy()
    if category not in taxonomy.slugs:
        raise ValueError(f"{category!r} is not a category of the taxonomy {taxonomy.path}")
    with warehouse.transaction() as cur:
        found = cur.execute("SELECT count(*) FROM tickets WHERE source = $source AND ticket_id = $id",
                            {"source": source, "id": ticket_id}).fetchone()
        if not found or not found[0]:
            raise ValueError(f"no ticket {ticket_id!r} from {source!r}")
        cur.execute("DELETE FROM category_corrections WHERE source = $source AND ticket_id = $id",
                    {"source": source, "id": ticket_id})
        cur.execute("INSERT INTO category_corrections VALUES ($source, $id, $category, $at)",
                    {"source": source, "id": ticket_id, "category": category, "at": utc_now()})
        cur.execute("UPDATE tickets SET category = $category, category_source = 'analyst', category_confidence = 1.0 "
                    "WHERE source = $source AND ticket_id = $id", {"source": source, "id": ticket_id,
                                                                    "category": category})
        warehouse.bump_version(cur)


def current_taxonomy() -> Taxonomy:
    """The taxonomy in use: the user's file from settings, else the default."""
    return load_taxonomy(get_settings().taxonomy_file)


# --- what the export (or an analyst) says ---------------------------------------------------------------------
def _corrections(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return cur.execute("SELECT source, ticket_id, category AS corrected FROM category_corrections").pl()


def _known(pending: pl.DataFrame, taxonomy: Taxonomy, corrections: pl.DataFrame) -> pl.DataFrame:
    """The pending tickets with category and source set where a correction, the export or an alias decides;
    NULL where the text must."""
    aliases, slugs = taxonomy.aliases(), set(taxonomy.slugs)
    labels = {alias_slug(c.label) for c in taxonomy.categories}
    exported = _alias_of(pending["category_exported"], aliases)
    own = _alias_slug(pending["category_exported"]).is_in(list(slugs | labels))
    tagged = _first_tag_alias(pending["tags"], aliases)
    frame = pending.with_columns(exported=exported, own=own, tagged=tagged).join(
        corrections, on=["source", "ticket_id"], how="left")
    return frame.with_columns(
        category=pl.coalesce("corrected", "exported", "tagged"),
        category_source=pl.when(pl.col("corrected").is_not_null()).then(pl.lit("analyst"))
        .when(pl.col("exported").is_not_null() & pl.col("own")).then(pl.lit("export"))
        .when(pl.col("exported").is_not_null() | pl.col("tagged").is_not_null()).then(pl.lit("mapping")),
    ).with_columns(
        category_confidence=pl.when(pl.col("category_source").is_not_null()).then(1.0),
    ).select("source", "ticket_id", *TEXT, *OUTPUT)


def _alias_slug(values: pl.Series) -> pl.Series:
    distinct = values.drop_nulls().unique()
    table = dict(zip(distinct.to_list(), [alias_slug(v) for v in distinct.to_list()], strict=True))
    return values.replace_strict(table, default=None, return_dtype=pl.String)


def _alias_of(values: pl.Series, aliases: dict[str, str]) -> pl.Series:
    return _alias_slug(values).replace_strict(aliases, default=None, return_dtype=pl.String)


def _first_tag_alias(tags: pl.Series, aliases: dict[str, str]) -> pl.Series:
    """The category of the first tag that is an alias of one (tags as exported: space-, comma- or ;-separated)."""
    words = pl.DataFrame({"tags": tags}).with_row_index("_row").select(
        "_row", tag=pl.col("tags").str.replace_all(r"[\s,;]+", " ").str.strip_chars().str.split(" ")).explode("tag")
    words = words.with_columns(category=_alias_of(words["tag"], aliases)).drop_nulls("category")
    first = words.group_by("_row", maintain_order=True).agg(pl.col("category").first())
    return (pl.DataFrame({"_row": pl.int_range(tags.len(), eager=True).cast(pl.UInt32)})
            .join(first, on="_row", how="left")["category"])


# --- what the text says --------------------------------------------------------------------------------------------
def _guess(cur: duckdb.DuckDBPyConnection, rest: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """Rules, then (only if some remain) a model learned from the tagged tickets; once per distinct text."""
    if rest.is_empty():
        return rest.select("source", "ticket_id", *OUTPUT)
    texts = rest.select(*TEXT).unique()
    rules = RulesClassifier(taxonomy)
    placed = classify_tickets(texts, rules)
    open_texts = placed.filter(pl.col("category_source") == "none")
    model = _model(cur, taxonomy) if open_texts.height else None
    if model is not None:
        placed = pl.concat([placed.filter(pl.col("category_source") != "none"),
                            classify_tickets(open_texts.drop(*OUTPUT), rules, model)])
    return rest.select("source", "ticket_id", *TEXT).join(placed, on=list(TEXT), how="left", nulls_equal=True
                                                          ).select("source", "ticket_id", *OUTPUT)


def _model(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy) -> TicketModel | None:
    """A model of what the store's agents (and analysts) tagged; None while there are too few examples."""
    tagged = cur.execute(
        f"""SELECT subject, description, category FROM tickets
            WHERE category_source IN {KNOWN_SOURCES} AND category <> '{UNCATEGORISED}'
              AND coalesce(subject, description) IS NOT NULL
            USING SAMPLE reservoir({TRAINING_LIMIT} ROWS) REPEATABLE (7)""").pl()
    counts = tagged["category"].value_counts()
    enough = counts.filter(pl.col("count") >= MIN_PER_CATEGORY)["category"]
    tagged = tagged.filter(pl.col("category").is_in(enough.implode()) & pl.col("category").is_in(taxonomy.slugs))
    if tagged.height < MIN_TRAINING or tagged["category"].n_unique() < 2:
        return None
    return TicketModel.train(tagged)


def _write(cur: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    cur.register("categorised", frame.select("source", "ticket_id", *OUTPUT))
    cur.execute("""UPDATE tickets t SET category = c.category, category_source = c.category_source,
                                        category_confidence = c.category_confidence
                   FROM categorised c WHERE t.source = c.source AND t.ticket_id = c.ticket_id""")
    cur.unregister("categorised")
