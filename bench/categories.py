"""How well CS Pulse's offline classifier places tickets in the taxonomy: rules alone, and rules then a model.

    python bench/categories.py                          # Bitext, the English and the Portuguese development sets
    python bench/categories.py --part tuning            # the development sets' tuning part instead of the held-out
    python bench/categories.py FILE                     # any CSV with `text` and `category` columns
    python bench/categories.py FILE --predict OUT.csv   # OUT.csv: text,category,confidence for every row of FILE

Rules alone are what a store without tagged tickets gets; rules + model is what it gets once its agents have tagged
tickets of the same kind. A ticket left uncategorised counts against recall: the dashboard could not place it.

- Bitext (the customer-service intents sample, mapped onto the taxonomy by BITEXT_INTENTS): a stratified 70/30
  split; the model learns from the 70. Target: macro-F1 >= 0.90.
- The development sets (bench/labels/README.md): real messages labelled by hand, split once into a tuning part
  (rules may be tuned on it; the model learns from it) and a held-out part (reported). Target on the held-out part:
  macro-F1 >= 0.75 over categories with MIN_SUPPORT examples or more, at most 15 % uncategorised. Messages labelled
  `no_intent` are left out of both and counted apart: those given a category anyway are false alarms.
- FILE: the rules on all rows, and rules + model cross-validated over FOLDS folds. A category with a single example
  is fine: the folds are stratified where they can be.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sklearn.metrics import precision_recall_fscore_support

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from data.classifier import (  # noqa: E402
    UNCATEGORISED,
    RulesClassifier,
    TicketModel,
    classify_tickets,
    load_taxonomy,
)
from data.export import safe_csv  # noqa: E402

REAL_DATA = PROJECT.parent / "shared" / "data" / "real"
BITEXT = REAL_DATA / "bitext-customer-service-intents" / "Bitext_Sample_Customer_Service_Training_Dataset.csv"
LABELS = Path(__file__).resolve().parent / "labels"
SEED = 7
TEST_SHARE = 0.3  # Bitext's test part
HELD_OUT_SHARE = 0.5  # the development sets' held-out part
FOLDS = 5
MIN_SUPPORT = 4  # categories with fewer examples are shown but left out of the target's macro-F1
NO_INTENT = "no_intent"

# Bitext's 27 intents -> the taxonomy. None excludes the intent: check_cancellation_fee asks about the fee for
# breaking a service contract ("termination charges", "withdrawal fee"), which an online store does not charge.
# Newsletter and contact intents are real store tickets with no category of their own: "other". Bitext has nothing
# for damaged_item, wrong_item, product_quality, return, exchange, discount or website_app; the development sets
# and tests cover those.
BITEXT_INTENTS: dict[str, str | None] = {
    "track_order": "shipping_status",
    "delivery_period": "shipping_status",  # "when will my delivery arrive"
    "change_shipping_address": "shipping_change",
    "set_up_shipping_address": "shipping_change",
    "delivery_options": "shipping_change",  # choosing how an order ships
    "cancel_order": "order_cancel",
    "change_order": "order_change",
    "get_refund": "refund",
    "track_refund": "refund",
    "check_refund_policy": "refund",
    "complaint": "feedback",
    "review": "feedback",
    "place_order": "product_question",  # a pre-sales "how do I buy" question
    "create_account": "account",
    "delete_account": "account",
    "edit_account": "account",
    "recover_password": "account",
    "registration_problems": "account",
    "switch_account": "account",
    "check_invoice": "payment",
    "get_invoice": "payment",
    "check_payment_methods": "payment",
    "payment_issue": "payment",
    "newsletter_subscription": "other",
    "contact_customer_service": "other",
    "contact_human_agent": "other",
    "check_cancellation_fee": None,
}


@dataclass(frozen=True)
class DevSet:
    """Hand labels (bench/labels/) joined at run time to real text that stays in ../shared."""

    name: str
    labels: Path
    text_file: Path
    key: str
    subject: str | None
    text: str


DEV_SETS = (
    DevSet("English development set (real tweets)", LABELS / "retail_tweets.csv",
           REAL_DATA / "retail-tweets-unlabelled" / "customer_tweets.csv", "tweet_id", None, "text"),
    DevSet("Portuguese development set (real Olist reviews)", LABELS / "olist_reviews.csv",
           REAL_DATA / "olist-sample-4000-consistent" / "olist_order_reviews_dataset.csv", "review_id",
           "review_comment_title", "review_comment_message"),
)


@dataclass(frozen=True)
class Evaluation:
    truth: list[str]
    rules: list[str]
    combined: list[str]
    train_rows: int
    train_seconds: float = 0.0
    rules_seconds_per_1k: float = 0.0
    combined_seconds_per_1k: float = 0.0
    no_intent_placed: tuple[int, int] = (0, 0)  # (given a category, of) messages labelled no_intent

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.truth))

    def scored_labels(self, min_support: int = 1) -> list[str]:
        return [label for label in self.labels if self.truth.count(label) >= min_support]

    def macro_f1(self, predicted: list[str], min_support: int = 1) -> float:
        """Macro-F1 over the categories with at least `min_support` true examples."""
        return float(precision_recall_fscore_support(self.truth, predicted, labels=self.scored_labels(min_support),
                                                     average="macro", zero_division=0)[2])

    @staticmethod
    def uncategorised_share(predicted: list[str]) -> float:
        return sum(p == UNCATEGORISED for p in predicted) / len(predicted) if predicted else 0.0


# --- data -------------------------------------------------------------------------------------------------------------


def load_labelled(path: Path) -> pl.DataFrame:
    """`key`, `subject`, `description` and `category` of every usable row: Bitext's intents mapped, or a
    text,category CSV as is (`category` null when the file has none: fine for --predict)."""
    frame = pl.read_csv(path, infer_schema=False)
    if {"utterance", "intent"} <= set(frame.columns):
        unknown = set(frame["intent"]) - set(BITEXT_INTENTS)
        if unknown:
            raise SystemExit(f"{path}: intents missing from BITEXT_INTENTS: {sorted(unknown)}")
        mapped = frame.select(description="utterance", category=pl.col("intent").replace_strict(BITEXT_INTENTS))
        mapped = mapped.filter(pl.col("category").is_not_null())
    elif "text" in frame.columns:
        category = pl.col("category") if "category" in frame.columns else pl.lit(None, pl.String)
        mapped = frame.select(description="text", category=category)
    else:
        raise SystemExit(f"{path}: expected a `text` column (and `category` to score), or Bitext's utterance,intent")
    return mapped.with_row_index("key").select(pl.col("key").cast(pl.String), subject=pl.lit(None, pl.String),
                                               description=pl.col("description").fill_null(""),
                                               category=pl.col("category").str.strip_chars())


def load_dev_set(dev: DevSet) -> pl.DataFrame | None:
    """The labelled messages with their text, or None (and a message) when the real data folder is absent."""
    if not dev.text_file.is_file():
        print(f"{dev.name}: skipped, {dev.text_file} is absent (the labels need the real text beside them)")
        return None
    labels = pl.read_csv(dev.labels, infer_schema=False)
    texts = pl.read_csv(dev.text_file, infer_schema=False)
    subject = pl.col(dev.subject) if dev.subject else pl.lit(None, pl.String)
    texts = texts.select(key=pl.col(dev.key), subject=subject, description=pl.col(dev.text).str.replace_all("\r", ""))
    joined = labels.rename({dev.key: "key"}).join(texts, on="key", how="left")
    missing = joined.filter(pl.col("description").is_null())
    if missing.height:
        raise SystemExit(f"{dev.labels}: {missing.height} labelled ids have no text in {dev.text_file}")
    return joined.select("key", "subject", "description", "category")


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def split(frame: pl.DataFrame, test_share: float = TEST_SHARE, seed: int = SEED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test), stratified: each category gives floor(n x test_share) of its rows, picked by a seeded hash of
    the row's key, to the test part. A row's part depends only on the seed, its key and its category's size, so the
    split is the same on every run and machine; a category with one example stays whole in the train part."""
    ranked = frame.with_columns(_rank=pl.col("key").map_elements(lambda key: _rank(seed, key), pl.String))
    ranked = ranked.with_columns(
        _test=pl.col("_rank").rank("ordinal").over("category") <= (pl.len().over("category") * test_share).floor())
    return ranked.filter(~pl.col("_test")).drop("_rank", "_test"), ranked.filter("_test").drop("_rank", "_test")


def folds(frame: pl.DataFrame, count: int = FOLDS, seed: int = SEED) -> pl.Series:
    """Fold number per row, stratified: a category's rows, ordered by a seeded hash, are dealt round the folds."""
    ranked = frame.with_columns(_rank=pl.col("key").map_elements(lambda key: _rank(seed, key), pl.String))
    return ranked.select((pl.col("_rank").rank("ordinal").over("category") - 1) % count)["_rank"]


# --- evaluation -------------------------------------------------------------------------------------------------------


def _trained(train: pl.DataFrame) -> TicketModel | None:
    tagged = train.filter(pl.col("category") != NO_INTENT)
    return TicketModel.train(tagged) if tagged["category"].n_unique() >= 2 else None


def _combined(test: pl.DataFrame, rules: RulesClassifier, model: TicketModel | None) -> list[str]:
    untagged = test.select("subject", "description", category=pl.lit(None, pl.String))
    return classify_tickets(untagged, rules, model)["category"].to_list()


def evaluate(frame: pl.DataFrame, seed: int = SEED) -> Evaluation:
    """Bitext's way: the model learns from a stratified 70 %, both are scored on the other 30 %; with timings."""
    train, test = split(frame, TEST_SHARE, seed)
    rules = RulesClassifier(load_taxonomy())
    rules.predict(test.head(1))  # Polars compiles each pattern on first use: time the steady state
    started = time.perf_counter()
    model = _trained(train)
    trained = time.perf_counter()
    by_rules = rules.predict(test)["category"].to_list()
    ruled = time.perf_counter()
    combined = _combined(test, rules, model)
    done = time.perf_counter()
    per_1k = 1000 / test.height
    return Evaluation(test["category"].to_list(), by_rules, combined, train.height,
                      trained - started, (ruled - trained) * per_1k, (done - ruled) * per_1k)


def evaluate_dev(frame: pl.DataFrame, part: str = "held_out") -> Evaluation:
    """Rules on one part of a development set; rules + a model learned from the tuning part (or, scoring the tuning
    part itself, cross-validated within it). `no_intent` messages are counted apart."""
    tuning, held_out = split(frame, HELD_OUT_SHARE)
    scored = held_out if part == "held_out" else tuning
    rules = RulesClassifier(load_taxonomy())
    by_rules = rules.predict(scored)["category"]
    is_intent = scored["category"] != NO_INTENT
    placed = int((by_rules.filter(~is_intent) != UNCATEGORISED).sum())
    if part == "held_out":
        combined = pl.Series(_combined(scored, rules, _trained(tuning)))
    else:
        combined = pl.Series(cross_validated(scored, rules))
    return Evaluation(scored["category"].filter(is_intent).to_list(), by_rules.filter(is_intent).to_list(),
                      combined.filter(is_intent).to_list(), tuning.height,
                      no_intent_placed=(placed, int((~is_intent).sum())))


def cross_validated(frame: pl.DataFrame, rules: RulesClassifier) -> list[str]:
    """Rules + model for every row, the model learning from the other folds only."""
    fold = folds(frame)
    predicted = [""] * frame.height
    for number in range(FOLDS):
        inside = fold == number
        if not inside.any():
            continue
        rows = inside.arg_true().to_list()
        for row, category in zip(rows, _combined(frame.filter(inside), rules, _trained(frame.filter(~inside))),
                                 strict=True):
            predicted[row] = category
    return predicted


def evaluate_file(frame: pl.DataFrame) -> Evaluation:
    """An outside file: rules on all rows, rules + model cross-validated."""
    rules = RulesClassifier(load_taxonomy())
    return Evaluation(frame["category"].to_list(), rules.predict(frame)["category"].to_list(),
                      cross_validated(frame, rules), frame.height)


# --- output -----------------------------------------------------------------------------------------------------------


def report(evaluation: Evaluation, min_support: int = 1) -> str:
    """Per-category precision, recall, F1 and support for both methods, then shares and macro-F1."""
    labels = evaluation.labels
    scores = [precision_recall_fscore_support(evaluation.truth, predicted, labels=labels, zero_division=0)
              for predicted in (evaluation.rules, evaluation.combined)]
    lines = [f"{'category':<18} {'rules P':>8} {'R':>5} {'F1':>5}   {'rules+model P':>13} {'R':>5} {'F1':>5}"
             f" {'support':>8}"]
    for i, label in enumerate(labels):
        (p1, r1, f1, support), (p2, r2, f2, _) = ([s[k][i] for k in range(4)] for s in scores)
        small = "" if support >= min_support else "  (too few to score)"
        lines.append(f"{label:<18} {p1:>8.2f} {r1:>5.2f} {f1:>5.2f}   {p2:>13.2f} {r2:>5.2f} {f2:>5.2f}"
                     f" {support:>8}{small}")
    rules_left, combined_left = (evaluation.uncategorised_share(p) for p in (evaluation.rules, evaluation.combined))
    lines.append(f"left uncategorised: rules {rules_left:.0%}, rules+model {combined_left:.0%}")
    placed, of = evaluation.no_intent_placed
    if of:
        lines.append(f"no_intent messages given a category anyway (false alarms): rules {placed} of {of}")
    if evaluation.train_seconds:
        lines.append(f"timings: train {evaluation.train_seconds:.2f} s on {evaluation.train_rows:,} tickets;"
                     f" predict per 1k tickets: rules {evaluation.rules_seconds_per_1k * 1000:.0f} ms,"
                     f" rules+model {evaluation.combined_seconds_per_1k * 1000:.0f} ms")
    if min_support > 1 and evaluation.scored_labels(min_support):
        lines.append(f"macro-F1 over categories with {min_support}+ examples"
                     f" ({len(evaluation.scored_labels(min_support))}): rules"
                     f" {evaluation.macro_f1(evaluation.rules, min_support):.2f},"
                     f" rules+model: {evaluation.macro_f1(evaluation.combined, min_support):.2f}")
    lines.append(f"macro-F1 rules: {evaluation.macro_f1(evaluation.rules):.2f},"
                 f" rules+model: {evaluation.macro_f1(evaluation.combined):.2f}")
    return "\n".join(lines)


def predict(frame: pl.DataFrame, out: Path) -> None:
    """What a store without tagged tickets gets for each row: the rules' category and confidence."""
    predicted = RulesClassifier(load_taxonomy()).predict(frame)
    result = pl.DataFrame({"text": frame["description"], "category": predicted["category"],
                           "confidence": predicted["confidence"].round(3)})
    out.write_bytes(safe_csv(result))  # opened in spreadsheets: formula-looking text is neutralised
    print(f"{out}: {result.height:,} rows, {Evaluation.uncategorised_share(result['category'].to_list()):.0%}"
          f" uncategorised")


def _bitext() -> None:
    if not BITEXT.is_file():
        print(f"Bitext: skipped, {BITEXT} is absent")
        return
    frame = load_labelled(BITEXT)
    train, test = split(frame)
    excluded = sorted(intent for intent, category in BITEXT_INTENTS.items() if category is None)
    print(f"== Bitext: {frame.height:,} labelled tickets, {frame['category'].n_unique()} categories; stratified"
          f" split seed {SEED}: train {train.height:,}, test {test.height:,}; intents excluded: {', '.join(excluded)}")
    print(report(evaluate(frame)))


def _dev_sets(part: str) -> None:
    for dev in DEV_SETS:
        frame = load_dev_set(dev)
        if frame is None:
            continue
        tuning, held_out = split(frame, HELD_OUT_SHARE)
        print(f"\n== {dev.name}, {part.replace('_', '-')} part: {dev.labels.name} has {frame.height} messages;"
              f" tuning {tuning.height}, held-out {held_out.height} (seed {SEED})")
        print(report(evaluate_dev(frame, part), MIN_SUPPORT))


def _outside_file(path: Path, out: Path | None) -> None:
    frame = load_labelled(path)
    if out is not None:
        predict(frame, out)
    scored = frame.filter(pl.col("category").is_not_null() & (pl.col("category") != ""))
    if scored.is_empty():
        if out is None:
            raise SystemExit(f"{path}: no `category` column to score against (add --predict OUT.csv to predict)")
        return
    print(f"{path.name}: {scored.height:,} labelled rows, {scored['category'].n_unique()} categories;"
          f" rules on all rows, rules+model cross-validated over {FOLDS} stratified folds (seed {SEED})")
    print(report(evaluate_file(scored), MIN_SUPPORT))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="a CSV with `text` (and `category` to score)")
    parser.add_argument("--predict", type=Path, metavar="OUT.csv", help="write text,category,confidence for FILE")
    parser.add_argument("--part", choices=("held_out", "tuning"), default="held_out",
                        help="the development sets' part to report (default: held_out)")
    args = parser.parse_args(argv)
    if args.file is None:
        if args.predict is not None:
            parser.error("--predict needs a FILE")
        _bitext()
        _dev_sets(args.part)
    elif args.file.resolve() == BITEXT.resolve() and args.predict is None:
        _bitext()
    else:
        _outside_file(args.file, args.predict)


if __name__ == "__main__":
    main()
