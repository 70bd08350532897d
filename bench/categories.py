"""How well CS Pulse's offline classifier places tickets in the taxonomy: rules alone, and rules then the model.

    python bench/categories.py [FILE]

FILE is the Bitext customer-service intents sample by default (its intents mapped onto the taxonomy by
BITEXT_INTENTS below), or any CSV with `text` and `category` columns. A stratified 70/30 split with a fixed seed;
the model learns from the 70 only. Prints per-category precision, recall, F1 and support for both, the timings,
and as its last line `macro-F1 rules: X.XX, rules+model: Y.YY`. Target: rules+model >= 0.85 on Bitext.
A ticket left uncategorised counts against recall: it is a ticket the dashboard could not place.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from data.classifier import RulesClassifier, TicketModel, classify_tickets, load_taxonomy  # noqa: E402

BITEXT = (PROJECT.parent / "shared" / "data" / "real" / "bitext-customer-service-intents"
          / "Bitext_Sample_Customer_Service_Training_Dataset.csv")
SEED = 7
TEST_SHARE = 0.3

# Bitext's 27 intents -> the taxonomy. None excludes the intent: check_cancellation_fee asks about the fee for
# breaking a service contract ("termination charges", "withdrawal fee"), which an online store does not charge.
# Account, invoice, payment, newsletter and contact intents are real store tickets with no category of their own:
# "other". Bitext has nothing for damaged_item, wrong_item, return, exchange or discount; tests cover those.
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
    "create_account": "other",
    "delete_account": "other",
    "edit_account": "other",
    "recover_password": "other",
    "registration_problems": "other",
    "switch_account": "other",
    "check_invoice": "other",
    "get_invoice": "other",
    "check_payment_methods": "other",
    "payment_issue": "other",
    "newsletter_subscription": "other",
    "contact_customer_service": "other",
    "contact_human_agent": "other",
    "check_cancellation_fee": None,
}


@dataclass(frozen=True)
class Evaluation:
    truth: list[str]
    rules: list[str]
    combined: list[str]
    train_rows: int
    train_seconds: float
    rules_seconds_per_1k: float
    combined_seconds_per_1k: float

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.truth))

    def macro_f1(self, predicted: list[str]) -> float:
        return float(precision_recall_fscore_support(self.truth, predicted, labels=self.labels, average="macro",
                                                     zero_division=0)[2])


def load_labelled(path: Path) -> pl.DataFrame:
    """`description` and `category` of every usable row: Bitext's intents mapped, or a text,category CSV as is."""
    frame = pl.read_csv(path, infer_schema=False)
    if {"utterance", "intent"} <= set(frame.columns):
        unknown = set(frame["intent"]) - set(BITEXT_INTENTS)
        if unknown:
            raise SystemExit(f"{path}: intents missing from BITEXT_INTENTS: {sorted(unknown)}")
        mapped = frame.select(description="utterance", category=pl.col("intent").replace_strict(BITEXT_INTENTS))
    elif {"text", "category"} <= set(frame.columns):
        mapped = frame.select(description="text", category="category")
    else:
        raise SystemExit(f"{path}: expected columns text,category (or Bitext's utterance,intent)")
    return mapped.filter(pl.col("category").is_not_null() & pl.col("description").is_not_null())


def split(frame: pl.DataFrame, seed: int = SEED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A stratified train/test split that is the same on every run and machine."""
    train, test = train_test_split(list(range(frame.height)), test_size=TEST_SHARE, random_state=seed,
                                   stratify=frame["category"].to_list())
    return frame[sorted(train)], frame[sorted(test)]


def evaluate(frame: pl.DataFrame, seed: int = SEED) -> Evaluation:
    train, test = split(frame, seed)
    rules = RulesClassifier(load_taxonomy())
    rules.predict(test.head(1))  # Polars compiles each pattern on first use: time the steady state
    started = time.perf_counter()
    model = TicketModel.train(train)
    trained = time.perf_counter()
    by_rules = rules.predict(test)["category"].to_list()
    ruled = time.perf_counter()
    combined = classify_tickets(test.with_columns(category=pl.lit(None, pl.String)), rules, model)
    done = time.perf_counter()
    per_1k = 1000 / test.height
    return Evaluation(test["category"].to_list(), by_rules, combined["category"].to_list(), train.height,
                      trained - started, (ruled - trained) * per_1k, (done - ruled) * per_1k)


def report(evaluation: Evaluation) -> str:
    labels = evaluation.labels
    scores = [precision_recall_fscore_support(evaluation.truth, predicted, labels=labels, zero_division=0)
              for predicted in (evaluation.rules, evaluation.combined)]
    lines = [f"{'category':<18} {'rules P':>8} {'R':>5} {'F1':>5}   {'rules+model P':>13} {'R':>5} {'F1':>5}"
             f" {'support':>8}"]
    for i, label in enumerate(labels):
        (p1, r1, f1, support), (p2, r2, f2, _) = ([s[k][i] for k in range(4)] for s in scores)
        lines.append(f"{label:<18} {p1:>8.2f} {r1:>5.2f} {f1:>5.2f}   {p2:>13.2f} {r2:>5.2f} {f2:>5.2f}"
                     f" {support:>8}")
    placed = [sum(p != "uncategorised" for p in predicted) / len(predicted)
              for predicted in (evaluation.rules, evaluation.combined)]
    lines += [
        f"placed (not uncategorised): rules {placed[0]:.0%}, rules+model {placed[1]:.0%}",
        f"timings: train {evaluation.train_seconds:.2f} s on {evaluation.train_rows:,} tickets; predict per 1k"
        f" tickets: rules {evaluation.rules_seconds_per_1k * 1000:.0f} ms,"
        f" rules+model {evaluation.combined_seconds_per_1k * 1000:.0f} ms",
        f"macro-F1 rules: {evaluation.macro_f1(evaluation.rules):.2f},"
        f" rules+model: {evaluation.macro_f1(evaluation.combined):.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=BITEXT, help="CSV to evaluate on (default: Bitext)")
    path = parser.parse_args(argv).file
    frame = load_labelled(path)
    train, test = split(frame)
    print(f"{path.name}: {frame.height:,} labelled tickets, {frame['category'].n_unique()} categories;"
          f" stratified split seed {SEED}: train {train.height:,}, test {test.height:,}")
    if path == BITEXT:
        excluded = sorted(intent for intent, category in BITEXT_INTENTS.items() if category is None)
        print(f"Bitext intents excluded: {', '.join(excluded)}")
    print(report(evaluate(frame)))


if __name__ == "__main__":
    main()
