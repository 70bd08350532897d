"""A store's own categories are first class: any custom field can hold them, the analyst says which when several
could, the Complaints page shows them under their own names and maps them onto the taxonomy (or adopts them), and
the JSON report lists them.

The fixture `zendesk_own_categories.csv` is a trimmed Zendesk export of ten tickets in April and May 2024 with two
drop-down custom fields, `Reason for contact [list]` (the store's categories) and `Region [list]` (not one):

    id    Reason for contact     Ticket type  tags       subject                  category, source
    1001  Damaged on arrival     Incident                Mug arrived in pieces    damaged_on_arrival, export
    1002  Damaged on arrival     Incident                Cracked bowl             damaged_on_arrival, export
    1003  "damaged on  arrival " Problem                 Teapot lid broken        damaged_on_arrival, export
    1004  Sizing advice          Question                Which size for a 10 ...  sizing_advice, export
    1005  Sizing advice          Question                Size chart?              sizing_advice, export
    1006  Refund                 Task                    Please return my money   refund, export (names it)
    1007  WISMO                  Question                Parcel status            shipping_status, mapping (alias)
    1008  -                      Incident                I want my money back     refund, rules
    1009  -                      Question                Hello                    uncategorised, none
    1010  -                      Question     reembolso  Hi there                 refund, mapping (tag alias)

A `-` is Zendesk's "no value"; Incident, Problem, Question and Task are Zendesk's own ticket types, which say nothing
about the topic, so those tickets go on to tags, rules and the model. 1001 and 1003 would be "damaged item" by the
rules (pieces, broken): the store's own category comes first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.categorising import (
    OWN,
    StoreMapping,
    apply_store_mapping,
    categorise,
    category_labels,
    correct,
    store_values,
)
from data.classifier import load_taxonomy
from data.format_types import Context
from data.formats import category_candidates
from data.plans import Plan, load_category_columns, plan_files, run_plan, save_category_column
from data.raw_tables import Limits
from data.warehouse import Warehouse
from metrics.complaints import category_counts, focus_categories
from metrics.query import Filters
from settings import Settings
from tests.conftest import PROJECT, REAL_DATA, load_fixture, use_warehouse, warehouse_file

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tickets" / "zendesk_own_categories.csv"
LIMITS = Limits(10_000_000, 10_000, 300)
DASHBOARD = str(PROJECT / "dashboard.py")
SPRING = {"start": "2024-04-01", "end": "2024-05-31"}

# Worked out from the table above: the whole spring, largest first, ties by category.
SPRING_CATEGORIES = [
    {"category": "damaged_on_arrival", "label": "Damaged on arrival", "source": "export", "tickets": 3},
    {"category": "refund", "label": "Refund request or status", "source": "taxonomy", "tickets": 3},  # 1006 1008 1010
    {"category": "sizing_advice", "label": "Sizing advice", "source": "export", "tickets": 2},
    {"category": "shipping_status", "label": "Where is my order", "source": "taxonomy", "tickets": 1},
    {"category": "uncategorised", "label": "Uncategorised", "source": "none", "tickets": 1},
]


def _plan(content: bytes | None = None, ctx: Context | None = None,
          remembered: dict[str, str] | None = None) -> Plan:
    [plan] = plan_files([("zendesk.csv", content or FIXTURE.read_bytes())], ctx or Context(tz="UTC", salt="s"),
                        LIMITS, category_columns=remembered)
    assert plan.ok, plan.reason
    return plan


def _imported(wh: Warehouse, ctx: Context | None = None, remembered: dict[str, str] | None = None) -> Warehouse:
    run_plan(wh, _plan(ctx=ctx, remembered=remembered))
    categorise(wh, load_taxonomy())
    return wh


def _categories(wh: Warehouse) -> dict[str, tuple[str, str]]:
    rows = wh.cursor().execute("SELECT ticket_id, category, category_source FROM tickets").fetchall()
    return {ticket_id: (category, source) for ticket_id, category, source in rows}


@pytest.fixture
def spring() -> Warehouse:
    return _imported(Warehouse())


# --- which column holds the category -----------------------------------------------------------------------------
def test_candidates_of_a_zendesk_export_are_its_list_fields_the_category_like_name_first() -> None:
    headers = ["Id", "Created at", "Status", "Ticket type", "Region [list]", "Reason for contact [list]"]
    # "Ticket type" is Zendesk's own Question/Incident/Problem/Task, read as such: never a candidate
    assert category_candidates(headers) == ["Reason for contact [list]", "Region [list]"]


def test_candidates_of_a_freshdesk_export_are_type_and_its_custom_fields() -> None:
    headers = ["Ticket ID", "Status", "Created time", "Type", "cf_warehouse", "cf_reason_for_contact"]
    # named for a reason or type first; among those the custom field (the store's own) before the built-in Type
    assert category_candidates(headers) == ["cf_reason_for_contact", "Type", "cf_warehouse"]


def test_candidates_of_gorgias_and_help_scout_are_custom_fields_named_for_a_category() -> None:
    gorgias = ["id", "status", "created_datetime", "subject", "Contact reason", "Store"]
    assert category_candidates(gorgias) == ["Contact reason"]
    # Help Scout's "Type" is the channel (email, chat, phone): not a candidate; a custom "Topic" field is
    helpscout = ["Number", "Mailbox", "Status", "Type", "Subject", "Created At", "Topic"]
    assert category_candidates(helpscout) == ["Topic"]


def test_a_file_that_is_no_known_ticket_export_has_no_candidates() -> None:
    assert category_candidates(["InvoiceNo", "StockCode", "Description", "Quantity", "Category"]) == []


def test_plan_reads_the_best_guess_and_offers_every_candidate() -> None:
    plan = _plan()
    assert plan.category_candidates == ["Reason for contact [list]", "Region [list]"]
    assert plan.category_column == "Reason for contact [list]"
    exported = dict(zip(plan.frames["tickets"]["ticket_id"], plan.frames["tickets"]["category_exported"],
                        strict=True))
    # as exported, spaces trimmed; "-" is none, and then Zendesk's ticket type is the only word
    assert (exported["1001"], exported["1003"], exported["1008"]) == ("Damaged on arrival", "damaged on  arrival",
                                                                       "Incident")


def test_a_single_candidate_is_read_without_a_question() -> None:
    lines = FIXTURE.read_text().splitlines()
    without_region = "\n".join(line.rsplit(",", 1)[0] for line in lines).encode()
    plan = _plan(without_region)
    assert plan.category_candidates == ["Reason for contact [list]"]
    assert plan.category_column == "Reason for contact [list]"
    assert "The ticket category is read from the column 'Reason for contact [list]'." in plan.notes


def test_the_chosen_column_becomes_the_exported_category() -> None:
    plan = _plan(ctx=Context(tz="UTC", salt="s", category_column="Region [list]"))
    assert plan.category_column == "Region [list]"
    exported = dict(zip(plan.frames["tickets"]["ticket_id"], plan.frames["tickets"]["category_exported"],
                        strict=True))
    # 1005's region is "-": none, so Zendesk's ticket type is all that is left
    assert (exported["1001"], exported["1002"], exported["1005"]) == ("EU", "US", "Question")


def test_the_analysts_answer_is_remembered_for_the_same_headers_only() -> None:
    wh = Warehouse()
    plan = _plan()
    save_category_column(wh, plan.headers, "Region [list]")
    remembered = load_category_columns(wh)
    assert _plan(remembered=remembered).category_column == "Region [list]"
    # the same headers in another order and case are the same set; another set of headers is not
    shuffled = FIXTURE.read_text().replace("Region [list]", "REGION [list]", 1).encode()
    assert _plan(shuffled, remembered=remembered).category_column == "REGION [list]"
    lines = FIXTURE.read_text().splitlines()
    other = "\n".join(line + ",x" for line in lines).replace("Region [list],x", "Region [list],Extra", 1).encode()
    assert _plan(other, remembered=remembered).category_column == "Reason for contact [list]"


def test_none_remembered_reads_no_custom_field() -> None:
    wh = Warehouse()
    plan = _plan()
    save_category_column(wh, plan.headers, None)
    again = _plan(remembered=load_category_columns(wh))
    assert again.category_column is None
    # only Zendesk's ticket types are left: no ticket has a store category
    assert set(again.frames["tickets"]["category_exported"]) == {"Incident", "Problem", "Question", "Task"}


def test_a_remembered_column_must_be_one_of_the_files() -> None:
    with pytest.raises(ValueError, match="not one of the file's columns"):
        save_category_column(Warehouse(), ["Id", "Created at"], "Reason for contact [list]")


def test_the_real_freshdesk_export_reads_its_type_as_the_category() -> None:
    path = REAL_DATA / "freshdesk-sample-tickets" / "freshdesk_tickets.csv"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    [plan] = plan_files([(path.name, path.read_bytes())], Context(tz="UTC", salt="s"), LIMITS)
    assert (plan.category_candidates, plan.category_column) == (["Type"], "Type")


# --- categories --------------------------------------------------------------------------------------------------
def test_the_stores_own_categories_are_kept_under_their_names_and_rules_place_only_the_rest(
        spring: Warehouse) -> None:
    assert _categories(spring) == {
        "1001": ("damaged_on_arrival", "export"), "1002": ("damaged_on_arrival", "export"),
        "1003": ("damaged_on_arrival", "export"), "1004": ("sizing_advice", "export"),
        "1005": ("sizing_advice", "export"), "1006": ("refund", "export"), "1007": ("shipping_status", "mapping"),
        "1008": ("refund", "rules"), "1009": ("uncategorised", "none"), "1010": ("refund", "mapping")}


def test_store_values_name_each_value_as_most_often_exported_with_where_it_goes(spring: Warehouse) -> None:
    values = store_values(spring.cursor(), load_taxonomy())
    assert values.select("value", "label", "tickets", "choice").rows() == [
        ("damaged_on_arrival", "Damaged on arrival", 3, OWN),  # two of three spelled so
        ("sizing_advice", "Sizing advice", 2, OWN),
        ("refund", "Refund", 1, "refund"),
        ("wismo", "WISMO", 1, "shipping_status"),
    ]


def test_a_store_mapping_moves_values_onto_the_taxonomy_or_keeps_them_and_corrections_stay(
        spring: Warehouse) -> None:
    correct(spring, "zendesk", "1004", "exchange")
    apply_store_mapping(spring, StoreMapping({"sizing_advice": "product_question", "wismo": OWN}), load_taxonomy())
    found = _categories(spring)
    assert found["1005"] == ("product_question", "mapping")
    assert found["1004"] == ("exchange", "analyst")  # the analyst's correction outlives the mapping
    assert found["1007"] == ("wismo", "export")  # kept as the store's own, under its own name
    assert found["1001"] == ("damaged_on_arrival", "export")  # not named in the mapping: as before
    values = store_values(spring.cursor(), load_taxonomy())
    assert dict(values.select("value", "label").filter(values["own"]).rows()) == {
        "damaged_on_arrival": "Damaged on arrival", "wismo": "WISMO"}


def test_adopting_the_stores_categories_keeps_every_value_and_stops_rules_and_tag_aliases(
        spring: Warehouse) -> None:
    apply_store_mapping(spring, StoreMapping({"sizing_advice": "product_question"}, adopt=True), load_taxonomy())
    found = _categories(spring)
    assert found["1005"] == ("sizing_advice", "export")  # adopted: the per-value mapping waits, it is not lost
    assert found["1007"] == ("wismo", "export")
    # no rules and no tag aliases; too few tagged tickets for a model of the store's categories
    assert found["1008"] == found["1009"] == found["1010"] == ("uncategorised", "none")
    apply_store_mapping(spring, StoreMapping({"sizing_advice": "product_question"}), load_taxonomy())
    assert _categories(spring)["1005"] == ("product_question", "mapping")
    assert _categories(spring)["1008"] == ("refund", "rules")


def test_adopted_categories_are_learned_by_the_model_for_tickets_without_one() -> None:
    # 20 "Sizing advice" tickets about sizes and 20 "Glaze" ones; an untagged size question is placed in the
    # store's own category by a model learned from them (rules would say "product question")
    rows = ["Id,Created at,Status,Subject,Reason for contact [list]"]
    rows += [f"s{i},2024-04-02 09:00:00,Open,Which size fits a {i} year old,Sizing advice" for i in range(20)]
    rows += [f"g{i},2024-04-02 09:00:00,Open,Glaze colour of set {i},Glaze" for i in range(20)]
    rows += ["new,2024-04-03 09:00:00,Open,Which size fits a 30 year old,-"]
    wh = Warehouse()
    run_plan(wh, _plan("\n".join(rows).encode()))
    apply_store_mapping(wh, StoreMapping(adopt=True), load_taxonomy())
    assert _categories(wh)["new"] == ("sizing_advice", "model")


def test_a_mapping_to_a_category_outside_the_taxonomy_is_refused(spring: Warehouse) -> None:
    with pytest.raises(ValueError, match="alien_abduction"):
        apply_store_mapping(spring, StoreMapping({"wismo": "alien_abduction"}), load_taxonomy())


def test_a_correction_may_name_one_of_the_stores_own_categories(spring: Warehouse) -> None:
    correct(spring, "zendesk", "1009", "sizing_advice", load_taxonomy())
    assert _categories(spring)["1009"] == ("sizing_advice", "analyst")


def test_order_side_focus_falls_back_to_the_largest_categories_for_a_store_of_its_own() -> None:
    assert focus_categories("sku", ["refund", "damaged_item", "other"]) == ["damaged_item"]
    assert focus_categories("sku", ["damaged_on_arrival", "uncategorised", "sizing_advice", "refund", "x"]) == [
        "damaged_on_arrival", "sizing_advice", "refund"]


# --- the JSON report ---------------------------------------------------------------------------------------------
@pytest.fixture
def spring_file(tmp_path: Path) -> Path:
    path = tmp_path / "spring.duckdb"
    _imported(Warehouse(path)).close()
    return path


def _report(db: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPULSE_")}
    done = subprocess.run([sys.executable, "-m", "metrics.report", "--json", "--db", str(db), *args], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_report_json_lists_the_periods_categories_with_the_stores_own_names(spring_file: Path) -> None:
    assert _report(spring_file, "--start", "2024-04-01", "--end", "2024-05-31")["categories"] == SPRING_CATEGORIES


def test_report_categories_count_the_period_only(spring_file: Path) -> None:
    # April: 1001-1004 -> damaged on arrival 3, sizing advice 1
    april = _report(spring_file, "--start", "2024-04-01", "--end", "2024-04-30")["categories"]
    assert [(c["label"], c["tickets"]) for c in april] == [("Damaged on arrival", 3), ("Sizing advice", 1)]


def test_category_counts_are_for_the_period_only_in_may(spring: Warehouse, settings: Settings) -> None:
    taxonomy = load_taxonomy()
    may = category_counts(spring.cursor(), Filters(date(2024, 5, 1), date(2024, 5, 31)),
                          category_labels(spring.cursor(), taxonomy), taxonomy.slugs, settings)
    # May: 1005 sizing; 1006 1008 1010 refund; 1007 where is my order; 1009 uncategorised
    assert [(c["category"], c["tickets"]) for c in may] == [
        ("refund", 3), ("shipping_status", 1), ("sizing_advice", 1), ("uncategorised", 1)]


# --- the pages ---------------------------------------------------------------------------------------------------
@pytest.fixture
def spring_app(spring_file: Path, monkeypatch: pytest.MonkeyPatch, fresh_streamlit_caches: None) -> Path:
    monkeypatch.setenv("CSPULSE_LOAD_DEMO_WHEN_EMPTY", "false")
    use_warehouse(monkeypatch, spring_file)
    return spring_file


def _complaints() -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60)
    for key, value in SPRING.items():
        app.query_params[key] = value
    app.switch_page("app_pages/complaints.py").run()
    assert not app.exception and not app.error
    return app


def _bars(app: AppTest) -> dict[str, int]:
    bars = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    return dict(zip(bars["y"], bars["x"], strict=True))


def test_complaints_page_shows_the_stores_categories_under_their_own_names(spring_app: Path) -> None:
    app = _complaints()
    assert _bars(app) == {"Damaged on arrival": 3, "Refund request or status": 3, "Sizing advice": 2,
                          "Where is my order": 1, "Uncategorised": 1}
    # the store's own values, each with its tickets, ready to be mapped
    assert app.selectbox(key="store_value_damaged_on_arrival").label == "Damaged on arrival (3)"
    assert app.selectbox(key="store_value_wismo").value == "shipping_status"


def test_complaints_page_maps_a_store_value_onto_the_taxonomy(spring_app: Path) -> None:
    app = _complaints()
    app.selectbox(key="store_value_sizing_advice").set_value("product_question")
    app.button(key="FormSubmitter:store_categories-Save and re-categorise").click().run()
    assert not app.exception
    assert _bars(app) == {"Damaged on arrival": 3, "Refund request or status": 3, "Product question": 2,
                          "Where is my order": 1, "Uncategorised": 1}
    assert Warehouse(spring_app, read_only=False).meta("category_mapping") == json.dumps(
        {"adopt": False, "values": {"sizing_advice": "product_question"}}, sort_keys=True)


def test_complaints_page_adopts_the_stores_categories(spring_app: Path) -> None:
    app = _complaints()
    app.checkbox(key="store_adopt").check()
    app.button(key="FormSubmitter:store_categories-Save and re-categorise").click().run()
    assert not app.exception
    # 1006 "Refund" is the store's own now too, but its slug is the taxonomy's refund; 1008 and 1010 lose theirs
    assert _bars(app) == {"Damaged on arrival": 3, "Sizing advice": 2, "Uncategorised": 3,
                          "Refund request or status": 1, "WISMO": 1}


def test_import_page_asks_which_column_holds_the_category_and_remembers(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        fresh_streamlit_caches: None) -> None:
    monkeypatch.setenv("CSPULSE_LOAD_DEMO_WHEN_EMPTY", "false")
    use_warehouse(monkeypatch, tmp_path / "fresh.duckdb")
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    app.switch_page("app_pages/imports.py").run()
    app.file_uploader(key="uploads").set_value(("spring.csv", FIXTURE.read_bytes(), "text/csv")).run()
    assert not app.exception
    [question] = [s for s in app.selectbox if s.label == "Which column holds the ticket category?"]
    assert question.options == ["Reason for contact [list]", "Region [list]", "none of them"]
    assert question.value == "Reason for contact [list]"
    question.set_value("Region [list]").run()
    assert not app.exception
    preview = app.dataframe[0].value
    assert preview["category_exported"].to_list()[:2] == ["EU", "US"]  # the file read again with the answer
    [asked] = [s for s in app.selectbox if s.label == "Which column holds the ticket category?"]
    assert asked.value == "Region [list]"
    remembered = _plan(remembered=load_category_columns(Warehouse(tmp_path / "fresh.duckdb")))
    assert remembered.category_column == "Region [list]"


def test_complaints_page_offers_no_mapping_when_every_value_is_named_as_the_taxonomy_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_streamlit_caches: None) -> None:
    # the shared fixture (like the demo store) exports taxonomy slugs: nothing of the store's own to map
    path = tmp_path / "slugs.duckdb"
    warehouse_file(monkeypatch, path, load_fixture)
    app = AppTest.from_file(DASHBOARD, default_timeout=60)
    app.switch_page("app_pages/complaints.py").run()
    assert not app.exception
    assert not [box for box in app.selectbox if str(box.key).startswith("store_value_")]
    assert not [e for e in app.expander if "store's own categories" in e.label]
