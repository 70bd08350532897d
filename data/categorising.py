"""The categorising step: every ticket in the warehouse gets a category after each import, with where it came from
and how sure; an analyst's corrections, which win; and how the store's own categories meet the taxonomy. The
classifier is :mod:`data.classifier`.

A store's own taxonomy is first class: the category its agents chose by hand (a custom field such as `Reason for
contact [list]`, Freshdesk's `Type`) is the ticket's category under the store's own name ("export"), unless that
value names a taxonomy category ("export", the taxonomy's) or is one of its aliases ("mapping"). An analyst can map
each store value onto the taxonomy or keep it as its own (:class:`StoreMapping`), or adopt the store's categories
as the taxonomy outright. Rules and the model place only the tickets without a store category.

Precedence: an analyst's correction ("analyst"); the store's own category, as above; one of the ticket's tags
through the taxonomy's aliases ("mapping"); rules on the subject and description ("rules"); a model learned from
the tickets the store's agents tagged ("model"); else "uncategorised" ("none"), never a guess shown as fact.

An import writes what a correction, the export or a tag decides with each ticket (:func:`arriving`); the rest
is placed by its text in a transaction of its own after the import, and anything left pending when the dashboard
opens, so a new taxonomy, a store mapping or an analyst's correction can re-categorise without a re-import. Texts
are classified once per distinct subject and description.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import polars as pl

from data import rollups
from data.basics import mapped
from data.classifier import (
    UNCATEGORISED,
    RulesClassifier,
    Taxonomy,
    TaxonomyError,
    TicketModel,
    alias_slug,
    classify_tickets,
    load_taxonomy,
)
from data.warehouse import Warehouse, in_transaction, utc_now
from settings import get_settings

log = logging.getLogger("cspulse")

KNOWN_SOURCES = ("export", "mapping", "analyst")  # what a model may learn from
GUESSED_SOURCES = ("rules", "model", "none")
TRAINING_LIMIT = 20_000  # tagged tickets a model learns from; more adds seconds, not accuracy
MIN_TRAINING = 30
MIN_PER_CATEGORY = 5
TEXT = ("subject", "description")
OUTPUT = ("category", "category_source", "category_confidence")
OWN = "own"  # in a store mapping: the store's value stays a category of its own
# Zendesk's built-in ticket types: they say what kind of request a ticket is, not what it is about.
GENERIC_TYPES = frozenset({"question", "incident", "problem", "task", UNCATEGORISED})
STORE_MAPPING_META = "category_mapping"
CHUNK_ROWS = 250_000  # distinct texts placed at a time; a run of at most this many tickets keeps the rollup's days


@dataclass(frozen=True)
class Categorised:
    tickets: int
    by_source: dict[str, int]


@dataclass(frozen=True)
class StoreMapping:
    """How the store's own category values meet the taxonomy: a value's slug -> a taxonomy category or :data:`OWN`.
    A value not named here keeps the default (a taxonomy category it names or is an alias of, else its own).
    ``adopt``: the store's categories are the taxonomy; every value is its own, tags and rules place nothing, and
    the model learns the store's categories."""

    values: dict[str, str] = field(default_factory=dict)
    adopt: bool = False


def categorise(warehouse: Warehouse, taxonomy: Taxonomy | None = None, *, redo_guesses: bool = False,
               everything: bool = False) -> Categorised:
    """Categorise the pending tickets (all that rules or a model placed too, with ``redo_guesses``; every ticket,
    with ``everything``, after the store mapping changed).

    First what the export, a tag or a correction decides, in SQL, the other tickets of the run left pending; then
    those by their text: each distinct text once, :data:`CHUNK_ROWS` texts at a time into a TEMP table (memory
    follows the batch, not the table), the model learned once from every decided ticket, and every guess written
    in one UPDATE. Each step is its own transaction: stopped half-way, what is left is pending, for the next run
    (after each import and when the dashboard opens)."""
    taxonomy = taxonomy or current_taxonomy()
    where = "TRUE" if everything else \
        "category_source IS NULL" + (f" OR category_source IN {GUESSED_SOURCES}" if redo_guesses else "")
    with warehouse.writer() as cur:  # one writer throughout: the TEMP tables are this cursor's
        mapping = load_store_mapping(cur)
        tickets = cur.execute(f"SELECT count(*) FROM tickets WHERE {where}").fetchone()[0]
        if not tickets:
            return Categorised(0, {})
        # Few tickets keep the rollup's days as they go; many rebuild it once (an export out of date order
        # touches every day)
        few = tickets <= CHUNK_ROWS
        known = _decide_known(cur, where, taxonomy, mapping, few)
        guessed = _guess(cur, taxonomy, mapping.adopt, few)
    if not few:
        with warehouse.transaction() as cur:
            rollups.bump_version(cur, everything=True)
    by_source = {source: count for source, count in (known + guessed).items() if count}
    log.info("categorised %d tickets: %s", tickets, by_source)
    return Categorised(tickets, by_source)


def _decide_known(cur: duckdb.DuckDBPyConnection, where: str, taxonomy: Taxonomy, mapping: StoreMapping,
                  few: bool) -> Counter[str]:
    """Write the category of the run's tickets that a correction, the export or a tag decides (as
    :func:`arriving` does at import), and make pending those placed before that nothing decides now; how many
    each source decided. One statement over the table: rows are rewritten only where something changes."""
    with in_transaction(cur):
        run = f"(SELECT rowid AS ticket_row, category_source AS was_source, * FROM tickets WHERE {where})"
        cur.execute(f"""CREATE OR REPLACE TEMP TABLE decided AS
                        SELECT ticket_row, category, category_source, category_confidence, was_source
                        FROM {_decided(run, _deciders(cur, run, taxonomy, mapping))}
                        WHERE category_source IS NOT NULL OR was_source IS NOT NULL""")
        counts = _counts(cur, "SELECT category_source, count(*) FROM decided WHERE category_source IS NOT NULL "
                              "GROUP BY ALL")
        # only rows whose category changes are written: DuckDB rewrites a whole row on UPDATE
        cur.execute("DELETE FROM decided d USING tickets t WHERE t.rowid = d.ticket_row AND "
                    "(t.category, t.category_source, t.category_confidence) IS NOT DISTINCT FROM "
                    "(d.category, d.category_source, d.category_confidence)")
        if cur.execute("SELECT EXISTS (SELECT 1 FROM decided)").fetchone()[0]:
            with _bumped(cur, few, "SELECT created_local_date, solved_local_date FROM tickets "
                                   "WHERE rowid IN (SELECT ticket_row FROM decided)"):
                cur.execute("""UPDATE tickets t SET category = d.category, category_source = d.category_source,
                                                    category_confidence = d.category_confidence
                               FROM decided d WHERE t.rowid = d.ticket_row""")
        cur.execute("DROP TABLE decided")
    return counts


@contextmanager
def _bumped(cur: duckdb.DuckDBPyConnection, few: bool, changing_sql: str) -> Iterator[None]:
    """Around a change of category (one of the rollup's keys) of the rows ``changing_sql`` selects: the data
    version bumped after it, with their days worked out again where they are ``few``; else the rollup is left
    stale, to be rebuilt once at the end."""
    if few:
        rollups.note_days(cur, changing_sql)
    yield
    if few:
        rollups.bump_version(cur)
    else:
        Warehouse.bump_version(cur)


def _counts(cur: duckdb.DuckDBPyConnection, sql: str) -> Counter[str]:
    return Counter(dict(cur.execute(sql).fetchall()))


def correct(warehouse: Warehouse, source: str, ticket_id: str, category: str, taxonomy: Taxonomy | None = None) -> None:
    """An analyst's category for one ticket: applied now, kept across re-imports, learned from next time."""
    taxonomy = taxonomy or current_taxonomy()
    if category not in taxonomy.slugs and category not in own_labels(warehouse.cursor(), taxonomy):
        raise ValueError(f"{category!r} is not a category of the complaint taxonomy nor one of the store's own")
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
        _keep_rollup(cur, pl.DataFrame({"source": [source], "ticket_id": [ticket_id]}), False)


def _keep_rollup(cur: duckdb.DuckDBPyConnection, changed: pl.DataFrame, everything: bool) -> None:
    """Bump the data version with the ticket rollup's days of the ``changed`` tickets (source, ticket_id) worked
    out again: their category is one of its keys."""
    if not everything:
        cur.register("recategorised", changed.select("source", "ticket_id"))
        rollups.note_days(cur, "SELECT t.created_local_date, t.solved_local_date FROM tickets t JOIN recategorised c "
                               "ON t.source = c.source AND t.ticket_id = c.ticket_id")
        cur.unregister("recategorised")
    rollups.bump_version(cur, everything=everything)


def current_taxonomy() -> Taxonomy:
    """The taxonomy in use: the user's file from settings, else the default."""
    return load_taxonomy(get_settings().taxonomy_file)


# --- the store's own categories --------------------------------------------------------------------------------
def store_category(slug: str, taxonomy: Taxonomy, mapping: StoreMapping) -> tuple[str, str]:
    """(category, source) of a ticket whose store category is ``slug`` (see :func:`data.classifier.alias_slug`)."""
    names = {c.slug for c in taxonomy.categories} | {alias_slug(c.label) for c in taxonomy.categories}
    chosen = mapping.values.get(slug)
    if mapping.adopt or chosen == OWN:
        return slug, "export"
    if chosen in taxonomy.slugs:
        return chosen, "export" if taxonomy.aliases().get(slug) == chosen and slug in names else "mapping"
    aliases = taxonomy.aliases()
    if slug in aliases:
        return aliases[slug], "export" if slug in names else "mapping"
    return slug, "export"


def store_values(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy | None = None) -> pl.DataFrame:
    """The store's own category values in the warehouse, most tickets first: ``value`` (its slug), ``label`` (as
    exported; the most frequent spelling), ``tickets``, ``category`` (the category its tickets get now), ``own``
    (that category is the value itself, not one of the taxonomy's), ``choice`` (the taxonomy category the analyst's
    mapping sends it to, or :data:`OWN`, an adopted taxonomy aside) and ``default`` (the same without a mapping)."""
    taxonomy = taxonomy or current_taxonomy()
    mapping = load_store_mapping(cur)
    spelled = cur.execute("SELECT category_exported AS label, count(*) AS tickets FROM tickets "
                          "WHERE category_exported IS NOT NULL GROUP BY ALL").pl()
    frame = spelled.with_columns(value=_alias_slug(spelled["label"])).filter(
        ~pl.col("value").is_in(list(GENERIC_TYPES)) & (pl.col("value") != ""))
    frame = frame.sort(["tickets", "label"], descending=[True, False]).group_by("value", maintain_order=True).agg(
        pl.col("label").first(), pl.col("tickets").sum()).sort(["tickets", "label"], descending=[True, False])

    def choice(slug: str, with_mapping: StoreMapping) -> str:
        category, _ = store_category(slug, taxonomy, with_mapping)
        return OWN if category == slug and slug not in taxonomy.slugs else category

    per_value = StoreMapping(mapping.values)
    values = frame["value"]
    return frame.with_columns(
        mapped(values, lambda v: store_category(v, taxonomy, mapping)[0]).alias("category"),
        mapped(values, lambda v: choice(v, per_value)).alias("choice"),
        mapped(values, lambda v: choice(v, StoreMapping())).alias("default"),
    ).with_columns(
        own=(pl.col("category") == pl.col("value")) & ~pl.col("value").is_in(taxonomy.slugs),
    ).select("value", "label", "tickets", "category", "own", "choice", "default")


def own_labels(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """The store's own categories (the values kept as their own) -> their names as exported."""
    own = store_values(cur, taxonomy).filter("own")
    return dict(zip(own["value"].to_list(), own["label"].to_list(), strict=True))


def category_labels(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """Every category's name: the taxonomy's labels, and the store's own categories under their own names."""
    taxonomy = taxonomy or current_taxonomy()
    return {**own_labels(cur, taxonomy), **taxonomy.labels()}


def load_store_mapping(cur: duckdb.DuckDBPyConnection) -> StoreMapping:
    text = Warehouse.meta_in(cur, STORE_MAPPING_META)
    if text is None:
        return StoreMapping()
    saved = json.loads(text)
    return StoreMapping(values=dict(saved.get("values", {})), adopt=bool(saved.get("adopt", False)))


def apply_store_mapping(warehouse: Warehouse, mapping: StoreMapping, taxonomy: Taxonomy | None = None) -> Categorised:
    """Save how the store's values meet the taxonomy and re-categorise every ticket by it (corrections stay)."""
    taxonomy = taxonomy or current_taxonomy()
    wrong = sorted(target for target in mapping.values.values() if target != OWN and target not in taxonomy.slugs)
    if wrong:
        raise ValueError(f"not categories of the complaint taxonomy: {', '.join(wrong)}")
    text = json.dumps({"values": mapping.values, "adopt": mapping.adopt}, sort_keys=True)
    with warehouse.transaction() as cur:
        warehouse.set_meta(cur, STORE_MAPPING_META, text)
    return categorise(warehouse, taxonomy, everything=True)


# --- what the export (or an analyst) says ---------------------------------------------------------------------
def arriving(cur: duckdb.DuckDBPyConnection, relation: str, taxonomy: Taxonomy | None = None) -> str:
    """``relation`` (tickets about to be written) as SQL, with the category set where a correction, the store's
    own category or a tag decides it, as :func:`categorise` sets it, and left pending (NULL) where only the text
    can: the import's INSERT or MERGE writes them with each row, where an UPDATE after it rewrote every row (the
    tag list makes DuckDB rewrite whole rows: 1.2 s of a million-ticket import). Worked out once per distinct
    exported category and tag list, into small TEMP tables of the cursor. A taxonomy file that cannot be read
    leaves every row pending: :func:`categorise` says why, as it did before."""
    try:
        taxonomy = taxonomy or current_taxonomy()
    except TaxonomyError:
        log.warning("the taxonomy file cannot be read: tickets are imported uncategorised")
        return relation
    deciders = _deciders(cur, relation, taxonomy, load_store_mapping(cur))
    return _decided(relation, deciders) if deciders else relation


def _deciders(cur: duckdb.DuckDBPyConnection, relation: str, taxonomy: Taxonomy,
              mapping: StoreMapping) -> list[_Decider]:
    """What decides the category of ``relation``'s tickets, in precedence order; a join per decider."""
    deciders = [_by_correction(cur), _by_export(cur, relation, taxonomy, mapping),
                None if mapping.adopt else _by_tags(cur, relation, taxonomy)]
    return [decider for decider in deciders if decider is not None]


def _decided(relation: str, deciders: list[_Decider]) -> str:
    """``relation`` with category, category_source and category_confidence as ``deciders`` set them (NULL where
    none decides)."""
    category = f"coalesce({', '.join(column for _, column, _ in deciders)})" if deciders else "NULL::VARCHAR"
    source = ("CASE " + " ".join(f"WHEN {column} IS NOT NULL THEN {by}" for _, column, by in deciders) + " END"
              if deciders else "NULL::VARCHAR")
    return (f"(SELECT s.* REPLACE ({category} AS category, {source} AS category_source, "
            f"CASE WHEN {category} IS NOT NULL THEN 1.0::DOUBLE END AS category_confidence) "
            f"FROM {relation} s {' '.join(join for join, _, _ in deciders)})")


_Decider = tuple[str, str, str]  # a LEFT JOIN, the category it gives (NULL: no say), its category_source


def _by_correction(cur: duckdb.DuckDBPyConnection) -> _Decider | None:
    if not cur.execute("SELECT EXISTS (SELECT 1 FROM category_corrections)").fetchone()[0]:
        return None
    return ("LEFT JOIN category_corrections c ON c.source = s.source AND c.ticket_id = s.ticket_id", "c.category",
            "'analyst'")


def _by_export(cur: duckdb.DuckDBPyConnection, relation: str, taxonomy: Taxonomy,
               mapping: StoreMapping) -> _Decider | None:
    """A ticket's exported category (a custom field, a type), where it names one."""
    values = cur.execute(f"SELECT DISTINCT category_exported AS value FROM {relation} "
                         "WHERE category_exported IS NOT NULL").pl()["value"]
    decided = [(value, *store_category(slug, taxonomy, mapping))
               for value, slug in zip(values, _alias_slug(values), strict=True) if slug and slug not in GENERIC_TYPES]
    if not decided:
        return None
    _temp_table(cur, "category_of_export", pl.DataFrame(
        decided, schema={"value": pl.String, "category": pl.String, "category_source": pl.String}, orient="row"))
    return "LEFT JOIN category_of_export e ON e.value = s.category_exported", "e.category", "e.category_source"


def _by_tags(cur: duckdb.DuckDBPyConnection, relation: str, taxonomy: Taxonomy) -> _Decider | None:
    """The first of a ticket's tags that is an alias of a category."""
    lists = cur.execute(f"SELECT DISTINCT tags FROM {relation} WHERE tags IS NOT NULL").pl()["tags"]
    tagged = pl.DataFrame({"tags": lists, "category": _first_tag_alias(lists, taxonomy.aliases())})
    if tagged["category"].is_null().all():
        return None
    _temp_table(cur, "category_of_tags", tagged.drop_nulls("category"))
    return "LEFT JOIN category_of_tags g ON g.tags = s.tags", "g.category", "'mapping'"


def _temp_table(cur: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    cur.register("lookup_frame", frame)
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM lookup_frame")
    cur.unregister("lookup_frame")


def _alias_slug(values: pl.Series) -> pl.Series:
    distinct = values.drop_nulls().unique()
    table = dict(zip(distinct.to_list(), [alias_slug(v) for v in distinct.to_list()], strict=True))
    return values.replace_strict(table, default=None, return_dtype=pl.String)


def _alias_of(values: pl.Series, aliases: dict[str, str]) -> pl.Series:
    return _alias_slug(values).replace_strict(aliases, default=None, return_dtype=pl.String)


def _first_tag_alias(tags: pl.Series, aliases: dict[str, str]) -> pl.Series:
    """The category of the first tag that is an alias of one (tags as exported: space-, comma- or ;-separated).
    Worked out once per distinct tag list: a store's tickets share a few hundred of them (a million tickets with
    one list: 0.04 s against 0.6 s per row)."""
    distinct = tags.drop_nulls().unique()
    words = pl.DataFrame({"tags": distinct}).with_row_index("_row").select(
        "_row", tag=pl.col("tags").str.replace_all(r"[\s,;]+", " ").str.strip_chars().str.split(" ")).explode("tag")
    words = words.with_columns(category=_alias_of(words["tag"], aliases)).drop_nulls("category")
    first = words.group_by("_row", maintain_order=True).agg(pl.col("category").first())
    per_list = pl.DataFrame({"tags": distinct}).with_row_index("_row").join(first, on="_row", how="left")
    return pl.DataFrame({"tags": tags}).join(per_list.drop("_row"), on="tags", how="left",
                                             maintain_order="left")["category"]


# --- what the text says --------------------------------------------------------------------------------------------
def _guess(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy, adopted: bool, few: bool) -> Counter[str]:
    """Categorise the pending tickets by their text and write them; how many tickets each source placed. Each
    distinct text is placed once, :data:`CHUNK_ROWS` texts at a time into a TEMP table, then written in one
    UPDATE: one scan of the table, and each pending row rewritten once (a slice each, by a hash of its key, was
    a scan of the table and a rewrite per slice)."""
    texts, counts = _place_texts(cur, taxonomy, adopted, _PENDING, {})
    if texts:
        pending = f"SELECT created_local_date, solved_local_date FROM tickets WHERE {_PENDING.format(t='')}"
        with in_transaction(cur), _bumped(cur, few, pending):
            _write_placed(cur, _PENDING, {})
    _drop_placed(cur)
    return counts


# Which tickets wait for their text, over the tickets as ``{t}`` (an alias and a dot, or nothing): the UPDATE joins a
# table with a category_source of its own.
_PENDING = "{t}category_source IS NULL"
_PENDING_OF_IMPORT = "{t}category_source IS NULL AND {t}import_id = $import_id"


def place_imported(cur: duckdb.DuckDBPyConnection, import_id: str, taxonomy: Taxonomy) -> Counter[str]:
    """Inside an import's transaction, before its one bump of the data version (data.ingest): the tickets it wrote
    pending (only their text decides) placed by their text, as :func:`categorise` places them after the import.
    The import and its categorising are then one write that keeps the rollups once, from the days the import
    noted (the rows it wrote), where a categorising after the commit worked them out a second time (whole,
    past :data:`CHUNK_ROWS` tickets). Tickets an earlier run left pending stay for :func:`categorise`."""
    params = {"import_id": import_id}
    texts, counts = _place_texts(cur, taxonomy, load_store_mapping(cur).adopt, _PENDING_OF_IMPORT, params)
    if texts:
        _write_placed(cur, _PENDING_OF_IMPORT, params)
    _drop_placed(cur)
    log.info("placed %d imported tickets by their text: %s", sum(counts.values()), dict(counts))
    return counts


def _place_texts(cur: duckdb.DuckDBPyConnection, taxonomy: Taxonomy, adopted: bool, pending: str,
                 params: dict[str, object]) -> tuple[int, Counter[str]]:
    """The distinct texts of the ``pending`` tickets placed into the TEMP table ``placed_texts``; how many texts,
    and how many tickets each source placed."""
    texts = cur.execute(f"""CREATE OR REPLACE TEMP TABLE pending_texts AS
                            SELECT row_number() OVER () AS text_number, * FROM
                                (SELECT subject, description, count(*) AS tickets FROM tickets
                                 WHERE {pending.format(t='')} GROUP BY ALL)""", params).fetchone()[0]
    cur.execute("CREATE OR REPLACE TEMP TABLE placed_texts (subject VARCHAR, description VARCHAR, tickets BIGINT, "
                "category VARCHAR, category_source VARCHAR, category_confidence DOUBLE)")
    models: dict[bool, TicketModel | None] = {}
    for first in range(1, texts + 1, CHUNK_ROWS):
        batch = cur.execute("SELECT subject, description, tickets FROM pending_texts "
                            "WHERE text_number >= $first AND text_number < $first + $rows",
                            {"first": first, "rows": CHUNK_ROWS}).pl()
        cur.register("placed", _place(cur, batch, taxonomy, adopted, models).select(*TEXT, "tickets", *OUTPUT))
        cur.execute("INSERT INTO placed_texts SELECT * FROM placed")
        cur.unregister("placed")
    return texts, _counts(cur, "SELECT category_source, sum(tickets)::BIGINT FROM placed_texts GROUP BY ALL")


def _write_placed(cur: duckdb.DuckDBPyConnection, pending: str, params: dict[str, object]) -> None:
    cur.execute(f"""UPDATE tickets t SET category = p.category, category_source = p.category_source,
                                         category_confidence = p.category_confidence
                    FROM placed_texts p
                    WHERE {pending.format(t='t.')} AND t.subject IS NOT DISTINCT FROM p.subject
                      AND t.description IS NOT DISTINCT FROM p.description""", params)


def _drop_placed(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("DROP TABLE pending_texts")
    cur.execute("DROP TABLE placed_texts")


def _place(cur: duckdb.DuckDBPyConnection, texts: pl.DataFrame, taxonomy: Taxonomy, adopted: bool,
           models: dict[bool, TicketModel | None]) -> pl.DataFrame:
    """Rules, then (only if some remain) a model learned from the tagged tickets. With the store's categories
    adopted, the taxonomy's rules name none of them: the model alone, learned from the store's."""
    if adopted:
        return _by_model_alone(texts, _learned(cur, None, models))
    placed = classify_tickets(texts, RulesClassifier(taxonomy))
    open_texts = placed.filter(pl.col("category_source") == "none")
    model = _learned(cur, taxonomy.slugs, models) if open_texts.height else None
    if model is None:
        return placed
    return pl.concat([placed.filter(pl.col("category_source") != "none"), _by_model_after_rules(open_texts, model)])


def _by_model_after_rules(open_texts: pl.DataFrame, model: TicketModel) -> pl.DataFrame:
    """The texts the rules left open, placed by the model as :func:`data.classifier.classify_tickets` places them
    (an unplaced text keeps the better of the two confidences), without running the rules over them again (a
    third of the time of placing a million texts)."""
    predicted = model.predict(open_texts)
    placed = predicted["category"] != UNCATEGORISED
    return open_texts.with_columns(
        category=predicted["category"],
        category_source=pl.when(placed).then(pl.lit("model")).otherwise(pl.lit("none")),
        category_confidence=pl.when(placed).then(predicted["confidence"]).otherwise(
            pl.max_horizontal(predicted["confidence"], pl.col("category_confidence"))))


def _by_model_alone(texts: pl.DataFrame, model: TicketModel | None) -> pl.DataFrame:
    if model is None:
        return texts.with_columns(category=pl.lit(UNCATEGORISED), category_source=pl.lit("none"),
                                  category_confidence=pl.lit(0.0))
    predicted = model.predict(texts)
    return texts.with_columns(
        category=predicted["category"], category_confidence=predicted["confidence"],
        category_source=pl.when(predicted["category"] != UNCATEGORISED).then(pl.lit("model")).otherwise(pl.lit("none")))


def _learned(cur: duckdb.DuckDBPyConnection, categories: tuple[str, ...] | None,
             models: dict[bool, TicketModel | None]) -> TicketModel | None:
    """The model of :func:`_model`, learned once a run (``models``, by whether it is over any category)."""
    if (anything := categories is None) not in models:
        models[anything] = _model(cur, categories)
    return models[anything]


def _model(cur: duckdb.DuckDBPyConnection, categories: tuple[str, ...] | None) -> TicketModel | None:
    """A model of what the store's agents (and analysts) tagged, over ``categories`` (None: any); None while there
    are too few examples."""
    tagged = cur.execute(
        f"""SELECT subject, description, category FROM tickets
            WHERE category_source IN {KNOWN_SOURCES} AND category <> '{UNCATEGORISED}'
              AND coalesce(subject, description) IS NOT NULL
            USING SAMPLE reservoir({TRAINING_LIMIT} ROWS) REPEATABLE (7)""").pl()
    counts = tagged["category"].value_counts()
    enough = counts.filter(pl.col("count") >= MIN_PER_CATEGORY)["category"]
    tagged = tagged.filter(pl.col("category").is_in(enough.implode()))
    if categories is not None:
        tagged = tagged.filter(pl.col("category").is_in(categories))
    if tagged.height < MIN_TRAINING or tagged["category"].n_unique() < 2:
        return None
    return TicketModel.train(tagged)
