"""The ticket classifier, offline: the taxonomy (a TOML file), keyword rules from it, a model learned from tickets
agents already tagged, and the precedence that combines both with the category an export already carries. It works
on frames and never touches the warehouse; :mod:`data.categorising` runs it there after each import.

    taxonomy = load_taxonomy()                      # or load_taxonomy(Path("my_taxonomy.toml"))
    rules = RulesClassifier(taxonomy)
    model = TicketModel.train(tagged_tickets)       # optional: needs tagged tickets of two categories or more
    tickets = classify_tickets(tickets, rules, model)

Every guess carries its source and a confidence in [0, 1]; below the threshold the ticket stays "uncategorised"
rather than shown as a fact. Nothing here downloads anything or imports streamlit.

How the rules decide, measured on real customer messages (bench/labels/README.md): a rule weighs the words it
names, or the weight written after it; the categories marked `fallback` (feedback, other) count a quarter where
another category has evidence, because their words ("thanks", "great", "customer service") come with every request;
the leading category wins, a tie going to the category listed first in the taxonomy, and the confidence is the
leader's evidence against the runner-up's.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.toml")
UNCATEGORISED = "uncategorised"
SOURCES = ("export", "mapping", "rules", "model", "none")
GUESSED = ("rules", "model", "none")  # sources that are worked out again on every run; any other is kept
# Confidence = leader / (leader + runner-up + EVIDENCE_PRIOR). At 1/3 a tie between two whole words is placed (by
# the taxonomy's order) and so is one half-weight word alone; a tie between half-weight words is not.
RULES_THRESHOLD = 1 / 3
MODEL_THRESHOLD = 0.5  # the model must favour one category over all the others together
SUBJECT_WEIGHT = 3  # the customer's own summary: it outweighs boilerplate quoted in the body
EVIDENCE_PRIOR = 1.0  # pseudo-score of "none of these": a lone weak hit cannot reach full confidence
# Where another category has evidence, a fallback category's (feedback, other) counts a quarter: "thanks" and
# "customer service" lose to any request, while a message of praise with one weak delivery word stays praise.
FALLBACK_SHARE = 0.25
WEIGHT = re.compile(r"=(\d+(?:\.\d+)?)")  # a rule's last token "=0.5": its weight instead of its length
GAP = "..."  # in a rule: up to three words of any kind
# Normalised text holds only word characters and single spaces, so [^ ] means \w there, and Rust's regex runs
# several times faster on it than on the Unicode \w class.
WORD_CHAR = "[^ ]"
GAP_REGEX = rf"(?: {WORD_CHAR}+){{0,3}} "
SLUG = re.compile(r"[a-z][a-z0-9_]*")
LANGUAGE = re.compile(r"[a-z]{2,3}")
NON_WORD = r"[\W_]+"  # Python's re and Polars' Rust regex read it alike: Unicode letters and digits survive
APOSTROPHES = r"['’`´]"  # removed, not spaced: "don't" -> "dont", like a customer typing without one
PERCENT = "%"  # kept as the word "percent": "20% off" -> "20 percent off"
TEXT_SCHEMA = {"subject": pl.String, "description": pl.String}


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used; the message names the file and the offending key."""


Fail = Callable[[str, str], TaxonomyError]  # (key, problem) -> the error to raise


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    description: str
    rules: dict[str, tuple[str, ...]]  # language -> rules as written in the file
    aliases: tuple[str, ...] = ()  # export categories, ticket types, custom-field values and tags that mean it
    fallback: bool = False  # its rules count only when no other category's rules matched


@dataclass(frozen=True)
class Taxonomy:
    path: Path
    languages: tuple[str, ...]
    categories: tuple[Category, ...]

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(category.slug for category in self.categories)

    def labels(self) -> dict[str, str]:
        return {c.slug: c.label for c in self.categories} | {UNCATEGORISED: "Uncategorised"}

    def aliases(self) -> dict[str, str]:
        """alias slug -> category slug; a category's own slug and label are aliases of it too."""
        found = {alias_slug(c.label): c.slug for c in self.categories}
        found |= {alias: c.slug for c in self.categories for alias in c.aliases}
        return found | {c.slug: c.slug for c in self.categories}


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    source: str


# --- taxonomy file -------------------------------------------------------------------------------------------------


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The default taxonomy, or the user's TOML file at `path` in its place (not merged: theirs is the whole list)."""
    path = DEFAULT_TAXONOMY if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: no such taxonomy file") from None
    except UnicodeDecodeError as error:
        raise TaxonomyError(f"{path}: not a valid UTF-8 TOML file ({error})") from None
    return _taxonomy_of(path, text)


@functools.lru_cache(maxsize=8)
def _taxonomy_of(path: Path, text: str) -> Taxonomy:
    """The file's text parsed and checked, once per path and text: a first start read the same file four times
    (the import, the start-up check, categorising, the category names), 10-15 ms each. A failure is not kept."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TaxonomyError(f"{path}: not a valid UTF-8 TOML file ({error})") from None
    return _parse_taxonomy(path, raw)


def _parse_taxonomy(path: Path, raw: dict[str, Any]) -> Taxonomy:
    def fail(key: str, problem: str) -> TaxonomyError:
        return TaxonomyError(f"{path}: {key}: {problem}")

    _reject_unknown(raw, {"languages", "categories"}, "", fail)
    languages = raw.get("languages")
    if not isinstance(languages, list) or not languages or not all(_is_language(v) for v in languages):
        raise fail("languages", 'must be a non-empty list of language codes such as ["en", "pt"]')
    categories = raw.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise fail("categories", "must hold at least one [categories.<slug>] table")
    parsed = tuple(_parse_category(slug, body, tuple(languages), fail) for slug, body in categories.items())
    return Taxonomy(path, tuple(languages), parsed)


def _parse_category(slug: str, body: Any, languages: tuple[str, ...], fail: Fail) -> Category:
    key = f"categories.{slug}"
    if not SLUG.fullmatch(slug) or slug == UNCATEGORISED:
        raise fail(key, f'the slug must be lower_snake_case and not "{UNCATEGORISED}", which is reserved')
    if not isinstance(body, dict):
        raise fail(key, "must be a table with label, description and rules")
    _reject_unknown(body, {"label", "description", "rules", "aliases", "fallback"}, f"{key}.", fail)
    for field in ("label", "description"):
        if not isinstance(body.get(field), str) or not body[field].strip():
            raise fail(f"{key}.{field}", "must be a non-empty string")
    rules = body.get("rules", {})
    if not isinstance(rules, dict):
        raise fail(f"{key}.rules", "must be a table of language = [rules]")
    for language, phrases in rules.items():
        _check_rules(f"{key}.rules.{language}", language, phrases, languages, fail)
    aliases = body.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise fail(f"{key}.aliases", "must be a list of non-empty strings")
    fallback = body.get("fallback", False)
    if not isinstance(fallback, bool):
        raise fail(f"{key}.fallback", "must be true or false")
    return Category(slug, body["label"], body["description"], {lang: tuple(p) for lang, p in rules.items()},
                    tuple(alias_slug(a) for a in aliases), fallback)


def _check_rules(key: str, language: str, phrases: Any, languages: tuple[str, ...], fail: Fail) -> None:
    if language not in languages:
        raise fail(key, f"language {language!r} is not in languages = {list(languages)}")
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise fail(key, "must be a list of strings")
    for phrase in phrases:
        try:
            rule_pattern(phrase)
        except ValueError as error:
            raise fail(key, f"rule {phrase!r}: {error}") from None


def _reject_unknown(table: dict[str, Any], allowed: set[str], prefix: str, fail: Fail) -> None:
    for name in table:
        if name not in allowed:
            raise fail(f"{prefix}{name}", f"unknown key (expected one of {', '.join(sorted(allowed))})")


def _is_language(value: Any) -> bool:
    return isinstance(value, str) and LANGUAGE.fullmatch(value) is not None


def alias_slug(text: str) -> str:
    """How exported vocabularies compare: "Where is my order?" and "where_is_my_order" are one value."""
    return "_".join(normalise(text).split())


# --- text and rules ------------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower-case, accents and apostrophes gone, words separated by single spaces: the form rules are matched in."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = re.sub(NON_WORD, " ", re.sub(APOSTROPHES, "", bare).replace(PERCENT, " percent "))
    return " ".join(words.split())


def normalised(column: str) -> pl.Expr:
    """`normalise` as a Polars expression, so a million tickets never pass through Python one by one."""
    return (
        pl.col(column).fill_null("").str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{M}", "")
        .str.replace_all(APOSTROPHES, "").str.replace_all(PERCENT, " percent ", literal=True)
        .str.replace_all(NON_WORD, " ").str.strip_chars()
    )


def rule_pattern(rule: str) -> tuple[str, float]:
    """A rule as a regex over normalised text and its weight: the number of words it names, or the number after
    "=" at its end ("address =0.5": a word too common to count in full)."""
    tokens = rule.split()
    weight = WEIGHT.fullmatch(tokens[-1]) if tokens else None
    if weight:
        tokens = tokens[:-1]
    if any(token.startswith("=") for token in tokens) or (weight and not float(weight.group(1)) > 0):
        raise ValueError('a weight goes last, as "=" and a number above 0: "address =0.5"')
    pieces: list[str] = []  # one regex per word
    separators: list[str] = []  # separators[i] joins pieces[i] and pieces[i + 1]
    gap_pending = False
    for token in tokens:
        if token == GAP:
            if not pieces or gap_pending:
                raise ValueError(f'"{GAP}" must stand between two words')
            gap_pending = True
            continue
        words = normalise(token.removesuffix("*")).split()
        if not words:
            raise ValueError(f"{token!r} has no letters or digits")
        for index, word in enumerate(words):
            if pieces:
                separators.append(GAP_REGEX if gap_pending and index == 0 else " ")
            is_prefix = token.endswith("*") and index == len(words) - 1
            pieces.append(re.escape(word) + (f"{WORD_CHAR}*" if is_prefix else ""))
        gap_pending = False
    if not pieces or gap_pending:
        raise ValueError(f'a rule needs at least one word and cannot end with "{GAP}"')
    pattern = pieces[0] + "".join(sep + piece for sep, piece in zip(separators, pieces[1:], strict=True))
    return rf"\b{pattern}\b", float(weight.group(1)) if weight else float(len(pieces))


class RulesClassifier:
    """Scores every category by its rules' hits, weighted by rule weight and by SUBJECT_WEIGHT in the subject."""

    def __init__(self, taxonomy: Taxonomy, threshold: float = RULES_THRESHOLD) -> None:
        self.taxonomy = taxonomy
        self.threshold = threshold
        self._fallback = tuple(category.slug for category in taxonomy.categories if category.fallback)
        # One alternation per (category, weight): a few dozen regex passes over a column instead of hundreds.
        self._patterns: dict[str, dict[float, str]] = {}
        for category in taxonomy.categories:
            by_weight: dict[float, list[str]] = {}
            for language in taxonomy.languages:
                for rule in category.rules.get(language, ()):
                    pattern, weight = rule_pattern(rule)
                    by_weight.setdefault(weight, []).append(pattern)
            self._patterns[category.slug] = {w: "|".join(f"(?:{p})" for p in ps) for w, ps in by_weight.items()}

    def scores(self, frame: pl.DataFrame) -> pl.DataFrame:
        """One Float64 column of evidence per category slug, row for row with `frame`; a fallback category's
        evidence counts FALLBACK_SHARE of itself where another category has some."""
        text = frame.select(subject=normalised("subject"), description=normalised("description"))
        raw = text.select(self._score(slug, patterns).alias(slug) for slug, patterns in self._patterns.items())
        specific = [slug for slug in raw.columns if slug not in self._fallback]
        if not specific or not self._fallback:
            return raw
        elsewhere = pl.max_horizontal(specific) > 0
        return raw.with_columns(pl.when(elsewhere).then(FALLBACK_SHARE * pl.col(slug)).otherwise(pl.col(slug))
                                .alias(slug) for slug in self._fallback)

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Columns `category` and `confidence`, row for row with `frame` (which needs `subject`, `description`)."""
        return _decide(self.scores(_with_text_columns(frame)), self.threshold)

    def predict_one(self, subject: str | None, description: str | None = None) -> Prediction:
        row = self.predict(pl.DataFrame({"subject": [subject], "description": [description]}, schema=TEXT_SCHEMA))
        return Prediction(row["category"][0], row["confidence"][0], "rules")

    @staticmethod
    def _score(slug: str, patterns: dict[float, str]) -> pl.Expr:
        hits = [
            weight * (SUBJECT_WEIGHT * pl.col("subject").str.count_matches(pattern) +
                      pl.col("description").str.count_matches(pattern)).cast(pl.Float64)
            for weight, pattern in patterns.items()
        ]
        return pl.sum_horizontal(hits) if hits else pl.repeat(0.0, pl.len())  # a category without rules


def _with_text_columns(frame: pl.DataFrame, names: tuple[str, ...] = ("subject", "description")) -> pl.DataFrame:
    """A column the export lacks reads as empty text rather than failing."""
    missing = [pl.lit(None, pl.String).alias(name) for name in names if name not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def _decide(scores: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The leading category (on a tie, the first in the taxonomy), and its share of its own evidence, the
    runner-up's and a prior for "none of these": a third category's hits do not make the leader less sure."""
    slugs = scores.columns
    evidence = pl.concat_list(slugs)
    best = evidence.list.arg_max().replace_strict(dict(enumerate(slugs)), return_dtype=pl.String)
    ranked = evidence.list.sort(descending=True)
    leader, runner_up = ranked.list.get(0), ranked.list.get(1, null_on_oob=True).fill_null(0.0)
    confidence = leader / (leader + runner_up + EVIDENCE_PRIOR)
    return scores.select(
        category=pl.when(confidence >= threshold).then(best).otherwise(pl.lit(UNCATEGORISED)),
        confidence=confidence,
    )


# --- learned model -------------------------------------------------------------------------------------------------


def ticket_text(frame: pl.DataFrame) -> list[str]:
    """Subject and description as one normalised string per ticket, the model's input."""
    text = pl.concat_str(normalised("subject"), normalised("description"), separator=" ")
    return _with_text_columns(frame).select(text).to_series().to_list()


class TicketModel:
    """TF-IDF over words and character n-grams (robust to typos and word endings) into a logistic regression,
    whose probabilities are the confidence. Deterministic: same tickets in, same model out."""

    def __init__(self, pipeline: Pipeline, threshold: float = MODEL_THRESHOLD) -> None:
        self.pipeline = pipeline
        self.threshold = threshold

    @classmethod
    def train(cls, frame: pl.DataFrame, threshold: float = MODEL_THRESHOLD) -> TicketModel:
        """Learns from the rows of `frame` whose `category` is set (not null, empty or uncategorised)."""
        tagged = frame.filter(has_category(pl.col("category")))
        if tagged["category"].n_unique() < 2:
            raise ValueError("training needs tickets tagged with at least two different categories")
        # Imported here: scikit-learn takes a second to import, which every import run and page start would pay
        # before any model is trained.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        pipeline = make_pipeline(
            make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
            LogisticRegression(C=20.0, max_iter=2000, random_state=0),
        )
        pipeline.fit(ticket_text(tagged), tagged["category"].to_list())
        return cls(pipeline, threshold)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.pipeline.classes_)

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Columns `category` and `confidence` (the top class probability), row for row with `frame`."""
        if frame.height == 0:
            return pl.DataFrame(schema={"category": pl.String, "confidence": pl.Float64})
        probabilities = self.pipeline.predict_proba(ticket_text(frame))
        best = pl.Series(self.pipeline.classes_[probabilities.argmax(axis=1)], dtype=pl.String)
        confidence = pl.Series(probabilities.max(axis=1), dtype=pl.Float64)
        return pl.DataFrame({"category": best, "confidence": confidence}).with_columns(
            category=pl.when(pl.col("confidence") >= self.threshold).then("category").otherwise(pl.lit(UNCATEGORISED))
        )

    def predict_one(self, subject: str | None, description: str | None = None) -> Prediction:
        row = self.predict(pl.DataFrame({"subject": [subject], "description": [description]}, schema=TEXT_SCHEMA))
        return Prediction(row["category"][0], row["confidence"][0], "model")


# --- precedence ----------------------------------------------------------------------------------------------------


def has_category(category: pl.Expr) -> pl.Expr:
    """True where a ticket already carries a real category (an empty cell or "uncategorised" is no category)."""
    return category.is_not_null() & (category.str.strip_chars() != "") & (category != UNCATEGORISED)


def classify_tickets(frame: pl.DataFrame, rules: RulesClassifier, model: TicketModel | None = None) -> pl.DataFrame:
    """`frame` with `category`, `category_source` and `category_confidence` set by precedence: the export's (or a
    mapping's) category; else the rules if confident; else the model if trained and confident; else uncategorised,
    with the best confidence any of them reached. An optional `category_source` column says where a category came
    from ("mapping", "analyst", ...; empty means "export"); categories an earlier run guessed are guessed again."""
    given_source = pl.col("category_source") if "category_source" in frame.columns else pl.lit(None, pl.String)
    given_source = given_source.fill_null("export")
    known = has_category(pl.col("category")) & ~given_source.is_in(GUESSED)
    result = _with_text_columns(frame, ("subject", "description", "category")).with_row_index("_row").with_columns(
        category=pl.when(known).then(pl.col("category")).otherwise(pl.lit(UNCATEGORISED)),
        category_source=pl.when(known).then(given_source).otherwise(pl.lit("none")),
        category_confidence=pl.when(known).then(1.0).otherwise(0.0),
    )
    pending = result.filter(pl.col("category_source") == "none")
    if pending.height:
        result = result.update(_guess(pending, rules, model), on="_row")
    return result.drop("_row").select(frame.columns + [c for c in _OUTPUT if c not in frame.columns])


_OUTPUT = ("category", "category_source", "category_confidence")


def _guess(pending: pl.DataFrame, rules: RulesClassifier, model: TicketModel | None) -> pl.DataFrame:
    """Rules first, then the model on what the rules left: `_row` and the three output columns."""
    ruled = pl.concat([pending.select("_row"), rules.predict(pending)], how="horizontal").with_columns(
        category_source=pl.when(pl.col("category") != UNCATEGORISED).then(pl.lit("rules")).otherwise(pl.lit("none"))
    )
    open_rows = ruled["category_source"] == "none"
    if model is None or not open_rows.any():
        return ruled.rename({"confidence": "category_confidence"})
    left = pending.filter(open_rows)
    placed = pl.col("category") != UNCATEGORISED
    modelled = model.predict(left).with_columns(
        _row=left["_row"],
        category_source=pl.when(placed).then(pl.lit("model")).otherwise(pl.lit("none")),
        # An unplaced ticket reports the best confidence either method reached, so a reader sees how close it was.
        confidence=pl.when(placed).then("confidence").otherwise(
            pl.max_horizontal(pl.col("confidence"), ruled.filter(open_rows)["confidence"])),
    )
    return pl.concat([ruled.filter(~open_rows), modelled.select(ruled.columns)]).rename(
        {"confidence": "category_confidence"})
