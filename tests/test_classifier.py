"""The offline ticket classifier: taxonomy file, rules, learned model, and the precedence between them.

Every ticket text below is written for these tests; none is copied from the real exports.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from data.classifier import (
    DEFAULT_TAXONOMY,
    UNCATEGORISED,
    RulesClassifier,
    TaxonomyError,
    TicketModel,
    classify_tickets,
    load_taxonomy,
    normalise,
    normalised,
    rule_pattern,
)
from data.taxonomy import CATEGORIES
from tests.conftest import REAL_DATA

# (subject, description) -> category, one ticket per category and language.
EXAMPLES: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        ("Where is my order?", "I ordered ten days ago and the parcel has not arrived yet.", "shipping_status"),
        ("", "I moved last week, please send it to my new address instead.", "shipping_change"),
        ("Please cancel my order", "I changed my mind and no longer want it.", "order_cancel"),
        ("", "Could you add a second mug to my order before it ships?", "order_change"),
        ("Vase arrived broken", "The box was crushed and the glass is cracked.", "damaged_item"),
        ("", "I asked for the blue jumper but got a red one, that's not what I ordered.", "wrong_item"),
        ("Refund please", "I would like my money back for the headphones.", "refund"),
        ("How do I return these shoes?", "They pinch my toes; can you email me a return label?", "return"),
        ("", "These trousers are too small, can I exchange them for a bigger size?", "exchange"),
        ("Promo code not working", "The code from your email is refused at checkout.", "discount"),
        ("Is the oak table still in stock?", "Also, what are its dimensions?", "product_question"),
        ("", "Just wanted to say thank you, the service was excellent.", "feedback"),
        ("Cannot log in", "I forgot my password and the reset email never comes.", "account"),
        ("", "Do you send a newsletter? I would like to sign up to it.", "other"),
        ("Biscuits", "The box of biscuits was stale and past its best before date.", "product_quality"),
        ("Charged twice", "My card was charged twice for the same order.", "payment"),
        ("", "Your website keeps showing an error at checkout and will not load.", "website_app"),
    ],
    "pt": [
        ("Cadê meu pedido?", "Comprei há duas semanas e ainda não chegou.", "shipping_status"),
        ("", "Preciso alterar o endereço de entrega, mudei de casa.", "shipping_change"),
        ("Cancelamento", "Quero cancelar o pedido, não quero mais o produto.", "order_cancel"),
        ("", "Posso adicionar mais um item ao meu pedido antes do envio?", "order_change"),
        ("Produto chegou quebrado", "A tampa veio trincada e o vidro está danificado.", "damaged_item"),
        ("", "Pedi a camiseta preta e veio o produto errado, na cor errada.", "wrong_item"),
        ("Reembolso", "Gostaria do meu dinheiro de volta, por favor.", "refund"),
        ("", "Como faço a devolução? Quero devolver o produto.", "return"),
        ("Troca de tamanho", "O sapato ficou apertado, quero um tamanho maior.", "exchange"),
        ("", "Meu cupom de desconto não foi aplicado na compra.", "discount"),
        ("Dúvida", "Esse liquidificador é de qual voltagem? Qual o material do copo?", "product_question"),
        ("", "Adorei, produto excelente e atendimento ótimo! Parabéns.", "feedback"),
        ("Esqueci minha senha", "Não consigo acessar a minha conta.", "account"),
        ("", "Qual o telefone da loja? Preciso falar com um atendente.", "other"),
        ("", "O perfume é falsificado, não é original.", "product_quality"),
        ("Cobrança em dobro", "Fui cobrado duas vezes no cartão pelo mesmo pedido.", "payment"),
        ("", "O aplicativo da loja dá erro e a página não carrega.", "website_app"),
    ],
}

# A store whose agents tag in words the default rules do not know: the model has to learn them.
TAGGED = pl.DataFrame(
    [
        ("Stuck at the depot", "The courier van never showed up and the box sits at the depot.", "shipping_status"),
        ("Courier no-show", "The courier never came, the depot still holds my box.", "shipping_status"),
        ("Depot", "The sorting depot has had my box for a week now.", "shipping_status"),
        ("Van never came", "Waited all day for the courier van, nothing.", "shipping_status"),
        ("Student pricing", "Is there student pricing on the desk lamp?", "discount"),
        ("Teacher pricing", "Do teachers get special pricing at checkout?", "discount"),
        ("Pricing for students", "My student card should give a lower price, right?", "discount"),
        ("Lower price", "Can I pay the student price for two chairs?", "discount"),
        ("Lovely shop", "Lovely shop, friendly people, will come again.", "feedback"),
        ("Kind words", "Friendly people and a lovely little shop, cheers.", "feedback"),
        ("Cheers", "Cheers to the friendly team, lovely experience.", "feedback"),
        ("So friendly", "The team was friendly and lovely on the phone.", "feedback"),
    ],
    schema=["subject", "description", "category"],
    orient="row",
)


@pytest.fixture(scope="module")
def rules() -> RulesClassifier:
    return RulesClassifier(load_taxonomy())


@pytest.fixture(scope="module")
def model() -> TicketModel:
    return TicketModel.train(TAGGED)


def test_examples_cover_every_taxonomy_language_and_category() -> None:
    taxonomy = load_taxonomy()
    assert set(EXAMPLES) == set(taxonomy.languages)
    for examples in EXAMPLES.values():
        assert sorted(category for *_, category in examples) == sorted(taxonomy.slugs)


def test_default_taxonomy_keeps_the_dashboard_slugs_and_labels() -> None:
    assert load_taxonomy().labels() == CATEGORIES


def test_default_taxonomy_has_rules_in_every_language_for_every_category() -> None:
    taxonomy = load_taxonomy()
    for category in taxonomy.categories:
        assert {lang for lang, rules in category.rules.items() if rules} == set(taxonomy.languages), category.slug


def test_normalise_drops_case_accents_apostrophes_and_punctuation() -> None:
    assert normalise("  Não CHEGOU!! I don't know… snake_case  ") == "nao chegou i dont know snake case"


def test_normalise_in_polars_matches_python() -> None:
    texts = ["Não CHEGOU!!", "don’t ‘quote’ me", "Ça coûte 12,50 €", "straße_ß 🎉 ok", "", None]
    in_polars = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(normalised("t"))["t"].to_list()
    assert in_polars == [normalise(text or "") for text in texts]


def test_rule_prefix_and_gap_match_whole_words_only() -> None:
    """The rule "cancel* ... order" matches "cancelling my last order", not "precancel", "orders" or a long gap."""
    pattern, weight = rule_pattern("cancel* ... order")
    assert weight == 2
    matches = pl.Series(["cancelling my last order", "cancel order", "precancel order", "cancel a b c d order",
                         "cancel orders"]).str.contains(pattern).to_list()
    assert matches == [True, True, False, False, False]


@pytest.mark.parametrize(("language", "subject", "description", "category"),
                         [(lang, *example) for lang, examples in EXAMPLES.items() for example in examples])
def test_rules_place_hand_written_tickets(rules: RulesClassifier, language: str, subject: str, description: str,
                                          category: str) -> None:
    prediction = rules.predict_one(subject, description)
    assert (prediction.category, prediction.source) == (category, "rules")
    assert rules.threshold <= prediction.confidence <= 1


def test_rules_weigh_the_subject_over_the_description(rules: RulesClassifier) -> None:
    assert rules.predict_one("Refund", "coupon").category == "refund"
    assert rules.predict_one("Coupon", "refund").category == "discount"


def test_rules_leave_text_without_evidence_uncategorised(rules: RulesClassifier) -> None:
    prediction = rules.predict_one("Hello", "Quick question about Tuesday.")
    assert (prediction.category, prediction.confidence) == (UNCATEGORISED, 0.0)


def test_rules_break_a_tie_by_the_taxonomy_order_at_low_confidence(rules: RulesClassifier) -> None:
    # refund* and coupon* weigh 1 each: 1 / (1 + 1 + prior 1) = 1/3, just placed; refund is listed before discount.
    prediction = rules.predict_one(None, "refund or coupon")
    assert prediction.category == "refund"
    assert prediction.confidence == pytest.approx(1 / 3)


def test_rules_threshold_decides_a_lone_keyword() -> None:
    # One keyword in the description and nothing against it: 1 / (1 + prior 1) = 0.5.
    taxonomy = load_taxonomy()
    assert RulesClassifier(taxonomy).predict_one("", "refund").category == "refund"
    assert RulesClassifier(taxonomy, threshold=0.5).predict_one("", "refund").category == "refund"
    strict = RulesClassifier(taxonomy, threshold=0.6).predict_one("", "refund")
    assert (strict.category, strict.confidence) == (UNCATEGORISED, 0.5)


def test_model_learns_vocabulary_the_rules_do_not_know(rules: RulesClassifier, model: TicketModel) -> None:
    unseen = [("", "my box is still at the depot, no van in sight"),
              ("", "student pricing for a lamp please"),
              ("", "cheers to the team at the shop")]
    assert [rules.predict_one(*ticket).category for ticket in unseen] == [UNCATEGORISED] * 3
    predictions = [model.predict_one(*ticket) for ticket in unseen]
    assert [p.category for p in predictions] == ["shipping_status", "discount", "feedback"]
    assert all(p.source == "model" and model.threshold <= p.confidence <= 1 for p in predictions)


def test_model_below_its_threshold_says_uncategorised_with_its_probability(model: TicketModel) -> None:
    confident = model.predict_one("", "student pricing for a lamp please")
    cautious = TicketModel.train(TAGGED, threshold=0.99).predict_one("", "student pricing for a lamp please")
    assert (confident.category, cautious.category) == ("discount", UNCATEGORISED)
    assert cautious.confidence == pytest.approx(confident.confidence)
    assert cautious.confidence < 0.99


def test_model_training_is_deterministic(model: TicketModel) -> None:
    again = TicketModel.train(TAGGED)
    tickets = pl.DataFrame({"subject": ["depot"], "description": ["lovely student courier"]})
    assert again.predict(tickets).equals(model.predict(tickets))


def test_model_needs_two_tagged_categories() -> None:
    one_category = TAGGED.filter(pl.col("category") == "discount").vstack(
        pl.DataFrame({"subject": ["x"], "description": ["y"], "category": [UNCATEGORISED]}))
    with pytest.raises(ValueError, match="at least two different categories"):
        TicketModel.train(one_category)


def test_combiner_precedence_export_then_rules_then_model(rules: RulesClassifier, model: TicketModel) -> None:
    tickets = pl.DataFrame(
        {
            "ticket_id": ["export", "mapping", "rules", "model", "none", "blank"],
            "subject": ["Where is my order?", "Where is my order?", "Where is my order?", "", "Hello", "Refund"],
            "description": ["", "", "", "student pricing for a lamp please", "about Tuesday", ""],
            "category": ["exchange", "refund", None, None, None, ""],
            "category_source": [None, "mapping", None, None, None, None],
        }
    )
    result = classify_tickets(tickets, rules, model)
    assert result["ticket_id"].to_list() == tickets["ticket_id"].to_list()
    assert result["category"].to_list() == ["exchange", "refund", "shipping_status", "discount", UNCATEGORISED,
                                            "refund"]
    assert result["category_source"].to_list() == ["export", "mapping", "rules", "model", "none", "rules"]
    assert result["category_confidence"][:2].to_list() == [1.0, 1.0]
    # The rules found nothing in "Hello about Tuesday"; what it reports is the model's doubt, below its threshold.
    assert rules.predict_one("Hello", "about Tuesday").confidence == 0
    assert 0 <= result["category_confidence"][4] < model.threshold


def test_combiner_prefers_confident_rules_over_a_confident_model(rules: RulesClassifier) -> None:
    # Agents who tagged every refund mention as feedback: the model learns it, the rules still win.
    mis_tagged = pl.DataFrame({
        "subject": ["", "", "", "", "", ""],
        "description": ["refund was quick, thanks", "thanks for the refund", "great refund service",
                        "courier van at the depot", "the depot has my box", "courier never came to the depot"],
        "category": ["feedback"] * 3 + ["shipping_status"] * 3,
    })
    trained = TicketModel.train(mis_tagged)
    ticket = pl.DataFrame({"subject": ["Refund"], "description": ["refund"], "category": [None]},
                          schema={"subject": pl.String, "description": pl.String, "category": pl.String})
    assert trained.predict_one("Refund", "refund").category == "feedback"
    result = classify_tickets(ticket, rules, trained)
    assert result.select("category", "category_source").row(0) == ("refund", "rules")


def test_combiner_without_a_model_leaves_what_rules_cannot_place(rules: RulesClassifier) -> None:
    tickets = pl.DataFrame({"subject": ["", "Refund"], "description": ["student pricing please", ""],
                            "category": [None, None]}, schema={"subject": pl.String, "description": pl.String,
                                                                "category": pl.String})
    result = classify_tickets(tickets, rules)
    assert result.select("category", "category_source").rows() == [(UNCATEGORISED, "none"), ("refund", "rules")]


def test_combiner_reports_how_close_an_unplaced_ticket_came(rules: RulesClassifier, model: TicketModel) -> None:
    cautious = TicketModel.train(TAGGED, threshold=0.99)
    tickets = pl.DataFrame({"subject": [""], "description": ["student pricing for a lamp please"], "category": [""]})
    result = classify_tickets(tickets, rules, cautious)
    assert result.select("category", "category_source").row(0) == (UNCATEGORISED, "none")
    assert result["category_confidence"][0] == pytest.approx(model.predict_one(*tickets.row(0)[:2]).confidence)


def test_combiner_guesses_again_but_keeps_what_a_person_or_export_set(rules: RulesClassifier) -> None:
    earlier = pl.DataFrame({
        "subject": ["Refund", "Refund", "Refund"],
        "description": ["", "", ""],
        "category": ["discount", "discount", "discount"],
        "category_source": ["rules", "analyst", None],
        "category_confidence": [0.6, 1.0, 1.0],
    })
    result = classify_tickets(earlier, rules)
    assert result.columns == earlier.columns
    assert result.select("category", "category_source").rows() == [
        ("refund", "rules"), ("discount", "analyst"), ("discount", "export")]


def test_combiner_reads_a_frame_without_category_or_subject(rules: RulesClassifier) -> None:
    result = classify_tickets(pl.DataFrame({"description": ["where is my parcel?"]}), rules)
    assert result.columns == ["description", "category", "category_source", "category_confidence"]
    assert result.select("category", "category_source").row(0) == ("shipping_status", "rules")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shop_taxonomy.toml"
    path.write_text(text, encoding="utf-8")
    return path


VALID = """
languages = ["en"]
[categories.plants]
label = "Plant care"
description = "Watering and repotting questions."
rules = { en = ["repot*", "watering"] }
"""


def test_user_taxonomy_replaces_the_default(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, VALID))
    assert taxonomy.slugs == ("plants",)
    assert RulesClassifier(taxonomy).predict_one("Repotting my fern", "").category == "plants"
    assert RulesClassifier(taxonomy).predict_one("Where is my order?", "").category == UNCATEGORISED


def test_a_category_without_rules_is_never_guessed(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, VALID + '[categories.misc]\nlabel = "Misc"\ndescription = "Rest."\n'))
    scores = RulesClassifier(taxonomy).scores(pl.DataFrame({"subject": ["repot", "x"], "description": ["", ""]}))
    assert scores.to_dict(as_series=False) == {"plants": [3.0, 0.0], "misc": [0.0, 0.0]}


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (VALID + "colour = 'red'\n", "categories.plants.colour", "unknown key"),
        (VALID.replace('label = "Plant care"\n', ""), "categories.plants.label", "non-empty string"),
        (VALID.replace("[categories.plants]", "[categories.Plants]"), "categories.Plants", "lower_snake_case"),
        (VALID.replace("[categories.plants]", "[categories.uncategorised]"), "categories.uncategorised", "reserved"),
        (VALID.replace("rules = { en", "rules = { pt"), "categories.plants.rules.pt", "not in languages"),
        (VALID.replace('["repot*", "watering"]', '"watering"'), "categories.plants.rules.en", "list of strings"),
        (VALID.replace('"watering"', '"... watering"'), "categories.plants.rules.en", "between two words"),
        (VALID.replace('["en"]', "[]"), "languages", "non-empty list"),
        ("extra = 1\n" + VALID, "extra", "unknown key"),
        ('languages = ["en"]\n', "categories", "at least one"),
    ],
)
def test_user_taxonomy_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TaxonomyError) as error:
        load_taxonomy(path)
    assert str(error.value).startswith(f"{path}: {key}: ")
    assert problem in str(error.value)


def test_user_taxonomy_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "languages = [en\n")
    with pytest.raises(TaxonomyError, match=r"shop_taxonomy\.toml: not a valid UTF-8 TOML file"):
        load_taxonomy(path)


def test_missing_user_taxonomy_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"nowhere\.toml: no such taxonomy file"):
        load_taxonomy(tmp_path / "nowhere.toml")


def test_a_taxonomy_file_is_parsed_once_per_text_and_again_after_it_changes(tmp_path: Path) -> None:
    """A start reads the file several times: the same text gives the same parsed taxonomy; an edit of the same
    length (one rule's word), a new one."""
    path = write(tmp_path, VALID)
    first = load_taxonomy(path)
    assert load_taxonomy(path) is first
    path.write_text(VALID.replace('"watering"', '"spraying"'), encoding="utf-8")
    edited = load_taxonomy(path)
    assert edited is not first and edited.categories[0].rules == {"en": ("repot*", "spraying")}
    assert first.categories[0].rules == {"en": ("repot*", "watering")}


def test_a_taxonomy_file_made_broken_after_a_good_read_is_refused_again(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    load_taxonomy(path)
    path.write_text("languages = [en\n", encoding="utf-8")
    for _ in range(2):  # a failure is not kept in place of the text: it is raised each time
        with pytest.raises(TaxonomyError, match="not a valid UTF-8 TOML file"):
            load_taxonomy(path)


def test_default_taxonomy_path_is_the_shipped_file() -> None:
    assert load_taxonomy().path == DEFAULT_TAXONOMY == load_taxonomy(DEFAULT_TAXONOMY).path


BITEXT_FOLDER = REAL_DATA / "bitext-customer-service-intents"


@pytest.mark.skipif(not BITEXT_FOLDER.is_dir(), reason=f"real data folder {BITEXT_FOLDER} is absent")
def test_bitext_macro_f1_holds_its_floor() -> None:
    """On the Bitext intents, rules alone keep a macro F1 of 0.93 or more, rules with the model 0.96 or more."""
    from bench.categories import BITEXT, evaluate, load_labelled

    evaluation = evaluate(load_labelled(BITEXT))
    # Measured by bench/categories.py: rules 0.96, rules+model 0.99; the floors sit 0.03 under (the issue asks
    # for no worse than 0.90 while the rules learn real phrasing).
    assert evaluation.macro_f1(evaluation.rules) >= 0.93
    assert evaluation.macro_f1(evaluation.combined) >= 0.96
