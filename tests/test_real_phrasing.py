"""Categories that hold on real customer messages: the rules on phrasing real tweets and reviews use, how weak evidence
is weighed, the development set's label files and its held-out floor, and the bench's --predict and outside-file modes.

Every message below is written for these tests in the style of the real ones (bench/labels/README.md); none is copied
from ../shared.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from bench import categories as bench
from data.classifier import (
    UNCATEGORISED,
    RulesClassifier,
    TaxonomyError,
    load_taxonomy,
    normalise,
    normalised,
    rule_pattern,
)
from tests.conftest import REAL_DATA

# (subject, description, category): what a store without tagged tickets should see, one line per rule change.
REAL_PHRASING = [
    # delivery trouble with gaps, negations and other verbs
    ("", "I still don't have my order and it has been ten days", "shipping_status"),
    ("", "Tracking says delivered, it was not. Nothing at my door", "shipping_status"),
    ("", "your courier couldn't deliver even after a month", "shipping_status"),
    ("", "you lost my package again, second time this year", "shipping_status"),
    ("", "never received the package i paid for", "shipping_status"),
    ("", "wheres my desk lamp??", "shipping_status"),
    ("", "I still haven't got my parcel, ordered 2 weeks ago", "shipping_status"),
    ("", "still havent got my order", "shipping_status"),
    ("", "the blender is yet to arrive", "shipping_status"),
    ("", "Fui até a agência e o pedido foi devolvido ao remetente", "shipping_status"),
    # a problem beats praise in the same message
    ("", "Produto ótimo, recomendo, mas o prazo não foi cumprido", "shipping_status"),
    ("", "Gostei muito, mas comprei 4 copos e só veio 2", "wrong_item"),
    # offers, deals and "%" (the text cleaning keeps it as the word "percent")
    ("", "Is the 20% off still on for the boots?", "discount"),
    ("", "Any deals on garden chairs this weekend?", "discount"),
    ("", "does the clearance price apply online too", "discount"),
    ("", "Is free delivery part of the pre-order bonus?", "discount"),
    ("", "20% off code does not work at all", "discount"),
    # spoiled or contaminated food, fake goods
    ("", "There was mould on the loaf I bought this morning", "product_quality"),
    ("", "found a hair in my salad, disgusting", "product_quality"),
    ("", "a piece of plastic in my soup!!", "product_quality"),
    ("", "these trainers are fake, the logo is stitched crooked", "product_quality"),
    ("", "O relógio é falsificado, uma réplica barata", "product_quality"),
    ("", "O queijo chegou estragado e vencido", "product_quality"),
    # the website or app, payments, accounts
    ("", "your app won't load since the update", "website_app"),
    ("", "the website keeps crashing when I pay", "website_app"),
    ("", "O site está fora do ar desde ontem", "website_app"),
    ("", "I was charged twice for one order", "payment"),
    ("", "Fui cobrado a mais no boleto", "payment"),
    ("", "locked out of my account after a password reset", "account"),
    # courtesy and contact words do not outvote an intent
    ("", "Thanks for nothing, my parcel never arrived", "shipping_status"),
    ("", "Customer service is useless, I just want my refund", "refund"),
    ("Thank you!", "wheres my order though", "shipping_status"),
    ("", "Great shop, thank you so much!", "feedback"),
    ("", "Excelente, chegou antes do prazo, recomendo", "feedback"),
    # no bare "cancel*" or "address"
    ("", "The driver could not find my address and drove off", "shipping_status"),
    ("", "my card payment was cancelled by the bank, can I pay again?", "payment"),
    ("", "Please cancel my order, I picked the wrong size", "order_cancel"),
    ("", "I need to change the delivery address on my order", "shipping_change"),
]


@pytest.fixture(scope="module")
def rules() -> RulesClassifier:
    return RulesClassifier(load_taxonomy())


@pytest.mark.parametrize(("subject", "description", "category"), REAL_PHRASING)
def test_rules_place_real_phrasing(rules: RulesClassifier, subject: str, description: str, category: str) -> None:
    assert rules.predict_one(subject, description).category == category


def test_a_bare_address_or_cancel_alone_places_nothing(rules: RulesClassifier) -> None:
    # "address" weighs 0.25: 0.25 / (0.25 + 1) = 0.2, under the threshold of 1/3; "cancelled" matches no rule.
    address = rules.predict_one("", "What is the address of your Leeds store?")
    assert (address.category, address.confidence) == (UNCATEGORISED, pytest.approx(0.2))
    assert rules.predict_one("", "the match got cancelled, so sad").category == UNCATEGORISED


def test_normalise_keeps_percent_as_a_word() -> None:
    assert normalise("Save 20%OFF, 5 % más") == "save 20 percent off 5 percent mas"
    frame = pl.DataFrame({"t": ["Save 20%OFF, 5 % más", "100%"]})
    assert frame.select(normalised("t"))["t"].to_list() == [normalise(t) for t in frame["t"]]


# --- how evidence is weighed, on a taxonomy small enough to work out by hand -----------------------------------------
SMALL = """
languages = ["en"]
[categories.late]
label = "Late"
description = "Late parcels."
rules = { en = ["late", "slow =0.5", "parcel =0.25"] }
[categories.size]
label = "Size"
description = "Sizes."
rules = { en = ["size", "fit =0.5"] }
[categories.praise]
label = "Praise"
description = "Kind words."
fallback = true
rules = { en = ["great", "thanks"] }
"""


@pytest.fixture
def small(tmp_path: Path) -> RulesClassifier:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return RulesClassifier(load_taxonomy(path))


def test_rule_weight_replaces_the_word_count() -> None:
    assert rule_pattern("change ... address")[1] == 2
    assert rule_pattern("address =0.25") == (r"\baddress\b", 0.25)
    assert rule_pattern("cancel* ... account =3")[1] == 3


@pytest.mark.parametrize("rule", ["address =0", "address =x", "=0.5 address", "address = 0.5"])
def test_a_malformed_weight_names_the_rule(tmp_path: Path, rule: str) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(SMALL.replace('"slow =0.5"', f'"{rule}"'), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"categories\.late\.rules\.en: rule .*a weight goes last"):
        load_taxonomy(path)


def test_fallback_must_be_true_or_false(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(SMALL.replace("fallback = true", 'fallback = "yes"'), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"categories\.praise\.fallback: must be true or false"):
        load_taxonomy(path)


def test_fallback_words_decide_alone_and_count_a_quarter_beside_a_request(small: RulesClassifier) -> None:
    # Alone: praise 2 / (2 + 0 + prior 1) = 2/3.
    alone = small.predict_one("", "great, thanks")
    assert (alone.category, alone.confidence) == ("praise", pytest.approx(2 / 3))
    # Beside "late": praise 3 x 0.25 = 0.75 against late 1 -> late, 1 / (1 + 0.75 + 1) = 4/11.
    mixed = small.predict_one("", "great great thanks but late")
    assert (mixed.category, mixed.confidence) == ("late", pytest.approx(4 / 11))


def test_a_tie_goes_to_the_category_listed_first(small: RulesClassifier) -> None:
    # late 1, size 1: 1 / (1 + 1 + 1) = 1/3, placed; late is listed before size.
    prediction = small.predict_one("", "size late")
    assert (prediction.category, prediction.confidence) == ("late", pytest.approx(1 / 3))


def test_a_tie_of_half_words_stays_uncategorised_but_one_alone_is_placed(small: RulesClassifier) -> None:
    # slow 0.5 vs fit 0.5: 0.5 / (0.5 + 0.5 + 1) = 0.25 < 1/3; slow alone: 0.5 / 1.5 = 1/3.
    tie = small.predict_one("", "slow fit")
    assert (tie.category, tie.confidence) == (UNCATEGORISED, pytest.approx(0.25))
    assert small.predict_one("", "slow").category == "late"


def test_a_third_category_does_not_make_the_leader_less_sure(small: RulesClassifier) -> None:
    # late 2 (two hits), size 1, parcel adds 0.25 to late: 2.25 / (2.25 + 1 + 1) = 9/17, the runner-up only.
    prediction = small.predict_one("", "late late size parcel")
    assert (prediction.category, prediction.confidence) == ("late", pytest.approx(9 / 17))


# --- the development set ---------------------------------------------------------------------------------------------
def _label_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("dev", bench.DEV_SETS, ids=lambda dev: dev.labels.name)
def test_label_files_hold_only_ids_and_taxonomy_categories(dev: bench.DevSet) -> None:
    rows = _label_rows(dev.labels)
    assert list(rows[0]) == [dev.key, "category"]  # no message text in the project
    ids = [row[dev.key] for row in rows]
    assert len(ids) == len(set(ids))
    assert {row["category"] for row in rows} <= set(load_taxonomy().slugs) | {bench.NO_INTENT}


def test_label_readme_counts_match_the_label_files() -> None:
    counted = {dev.labels.name: pl.Series([row["category"] for row in _label_rows(dev.labels)]).value_counts()
               for dev in bench.DEV_SETS}
    tweets, reviews = (dict(counted[name].iter_rows()) for name in ("retail_tweets.csv", "olist_reviews.csv"))
    table = (bench.LABELS / "README.md").read_text(encoding="utf-8")
    for category in set(tweets) | set(reviews):
        row = f"| {category} | {tweets.get(category, 0)} | {reviews.get(category, 0)} |"
        assert row in table, row


def test_split_is_stratified_keeps_singletons_in_tuning_and_ignores_other_rows() -> None:
    frame = pl.DataFrame({"key": [str(i) for i in range(11)], "category": ["a"] * 6 + ["b"] * 4 + ["c"]})
    train, test = bench.split(frame, 0.5)
    # a: floor(6 x 0.5) = 3 held out, b: 2, c (one example): 0
    assert dict(test["category"].value_counts().iter_rows()) == {"a": 3, "b": 2}
    assert "c" in train["category"].to_list()
    more = frame.vstack(pl.DataFrame({"key": ["x", "y"], "category": ["z", "z"]}))
    assert set(bench.split(more, 0.5)[1].filter(pl.col("category") != "z")["key"]) == set(test["key"])


def test_folds_deal_each_category_round_and_take_a_single_example() -> None:
    frame = pl.DataFrame({"key": [str(i) for i in range(6)], "category": ["a"] * 5 + ["b"]})
    fold = bench.folds(frame, count=5)
    assert sorted(fold.filter(frame["category"] == "a").to_list()) == [0, 1, 2, 3, 4]
    assert fold.filter(frame["category"] == "b").to_list() == [0]


def test_a_dev_set_without_its_real_text_is_skipped_with_a_message(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    absent = bench.DevSet("Test set", bench.DEV_SETS[0].labels, tmp_path / "nowhere.csv", "tweet_id", None, "text")
    assert bench.load_dev_set(absent) is None
    assert "Test set: skipped" in capsys.readouterr().out


# --- bench/categories.py FILE [--predict OUT.csv] --------------------------------------------------------------------
OWN = """text,category
"Where is my parcel? It never arrived",shipping_status
"my parcel still has not arrived",shipping_status
"wheres my order, two weeks now",shipping_status
"=1+1 I want my money back",refund
"refund for the broken lamp please",refund
"Love it, thanks!",feedback
"""


def test_predict_writes_text_category_and_confidence_for_every_row(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "own.csv", tmp_path / "out.csv"
    source.write_text(OWN.replace(",shipping_status", "").replace(",refund", "").replace(",feedback", "")
                      .replace("text,category", "text"), encoding="utf-8")
    bench.main([str(source), "--predict", str(out)])
    written = pl.read_csv(out)
    assert written.columns == ["text", "category", "confidence"]
    assert written["category"].to_list() == ["shipping_status"] * 3 + ["refund", "refund", "feedback"]
    # A cell starting with "=" would run in a spreadsheet: it is written as text. Its rules: "my money" and
    # "money back" (2 words each) overlap in "my money back", which counts once: 2 / (2 + 1).
    assert written["text"][3] == "'=1+1 I want my money back"
    assert written["confidence"][3] == pytest.approx(0.667)
    # "refund* ... broken": refund 1 against damaged_item 1, the tie to refund (listed first) at 1/3
    assert written["confidence"][4] == pytest.approx(0.333)
    assert "out.csv: 6 rows, 0% uncategorised" in capsys.readouterr().out


def test_outside_file_scores_rules_on_all_rows_and_rules_with_model_cross_validated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "own.csv"
    source.write_text(OWN, encoding="utf-8")  # feedback has a single example
    bench.main([str(source)])
    printed = capsys.readouterr().out
    assert "6 labelled rows, 3 categories; rules on all rows, rules+model cross-validated over 5" in printed
    assert "feedback" in printed and "(too few to score)" in printed
    assert printed.strip().endswith("macro-F1 rules: 1.00, rules+model: 1.00")


def test_outside_file_without_categories_asks_for_predict(tmp_path: Path) -> None:
    source = tmp_path / "texts.csv"
    source.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no `category` column to score against"):
        bench.main([str(source)])


# --- measured on real messages the rules were not tuned on ------------------------------------------------------------
@pytest.mark.skipif(not (REAL_DATA / "retail-tweets-unlabelled").is_dir()
                    or not (REAL_DATA / "olist-sample-4000-consistent").is_dir(),
                    reason=f"real data folders under {REAL_DATA} are absent")
@pytest.mark.parametrize(("dev", "floor", "most_uncategorised"),
                         [(bench.DEV_SETS[0], 0.77, 0.15), (bench.DEV_SETS[1], 0.83, 0.12)],
                         ids=["english", "portuguese"])
def test_held_out_messages_keep_their_floor(dev: bench.DevSet, floor: float, most_uncategorised: float) -> None:
    """Rules alone, on the held-out half of the development set: macro-F1 over categories with 4 or more examples,
    and the share left uncategorised (no_intent messages left out of both)."""
    frame = bench.load_dev_set(dev)
    assert frame is not None
    evaluation = bench.evaluate_dev(frame, "held_out")
    # Measured by bench/categories.py: English 0.80 with 12 % uncategorised, Portuguese 0.86 with 9 %; the floors
    # sit 0.03 under (the target is 0.75 and 15 %).
    assert evaluation.macro_f1(evaluation.rules, bench.MIN_SUPPORT) >= floor
    assert evaluation.uncategorised_share(evaluation.rules) <= most_uncategorised
