"""Categories written by the import's INSERT or MERGE (data.categorising.arriving) are those categorise() wrote by
an UPDATE after the import: every case - the export's own category, its aliases, generic types, the store's own
values under a mapping or adopted, tags in any position and separator, corrections, text for the rules and the
model - imported once with the import deciding and once with categorise() deciding everything, must end equal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from data import categorising
from data.categorising import STORE_MAPPING_META, categorise, correct
from data.cli import import_paths
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from settings import load_settings
from tests.test_cli import ZENDESK_HEADER

EXPORTED = [None, "", "Refund", "refund request", "Question", "incident", "Kiln Trouble", "WISMO", "Damaged Item",
            "glaze flaw", "uncategorised"]
TAGS = [None, "", "vip", "vip, reembolso", "reembolso vip", "VIP;RMA;refund", "follow_up  cancel", " , ;", "swap",
        "kiln", "vip,devolucao,refund"]
SUBJECTS = [None, "Where is my parcel?", "I want my money back for this order", "Hello there",
            "kiln crack on piece", "glaze colours for set", "cancel my order please"]


def generated(n: int, seed: int, first_id: int = 0) -> pl.DataFrame:
    """``n`` tickets drawing every case above at random; the model has the store's tagged kiln and glaze
    tickets to learn from."""
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    return pl.DataFrame({
        "source": "desk", "ticket_id": [str(first_id + i) for i in range(n)],
        "created_at": [datetime(2025, 1, 1) + timedelta(hours=int(h)) for h in rng.integers(0, 2000, n)],
        "category_exported": pick(EXPORTED), "tags": pick(TAGS), "subject": pick(SUBJECTS),
        "description": pick([None, "sent from my phone", "the kiln arrived cracked"]),
    }, schema_overrides={"category_exported": pl.String, "tags": pl.String, "subject": pl.String})


def by_import(monkeypatch: pytest.MonkeyPatch, decides: bool) -> None:
    """With ``decides`` False the import writes every ticket pending, as it did before it categorised."""
    if not decides:
        monkeypatch.setattr(categorising, "arriving", lambda cur, relation, taxonomy=None: relation)


def categories(wh: Warehouse) -> dict[str, tuple[str, str, float]]:
    rows = wh.cursor().execute("SELECT ticket_id, category, category_source, category_confidence FROM tickets")
    # a model learned from the same tickets in another row order differs in the last digits of its confidence
    return {r[0]: (r[1], r[2], None if r[3] is None else round(r[3], 6)) for r in rows.fetchall()}


def import_and_categorise(wh: Warehouse, frame: pl.DataFrame, sha: str) -> None:
    import_batch(wh, Batch(f"{sha}.csv", sha, "desk", "tickets", {"tickets": frame}))
    categorise(wh)


@pytest.mark.parametrize("mapping", [None, {"values": {"kiln_trouble": "damaged_item", "glaze_flaw": "own"}},
                                     {"values": {}, "adopt": True}])
def test_categories_written_by_the_import_are_those_categorise_wrote_after_it(
        monkeypatch: pytest.MonkeyPatch, mapping: dict | None) -> None:
    found = {}
    for decides in (False, True):
        with monkeypatch.context() as patched:
            by_import(patched, decides)
            wh = Warehouse()
            if mapping is not None:
                with wh.transaction() as cur:
                    wh.set_meta(cur, STORE_MAPPING_META, json.dumps(mapping))
            import_and_categorise(wh, generated(600, seed=1), "first")
            for ticket_id in ("3", "4", "5"):
                correct(wh, "desk", ticket_id, "wrong_item")
            # a newer export: changed rows (corrected ones among them) go through the MERGE, new ones are added
            newer = generated(300, seed=2).with_columns(created_at=pl.col("created_at") + timedelta(minutes=1))
            import_and_categorise(wh, pl.concat([newer, generated(100, seed=3, first_id=600)]), "second")
            found[decides] = categories(wh)
    assert found[True] == found[False]
    sources = {source for _, source, _ in found[True].values()}
    adopted = mapping is not None and mapping.get("adopt")  # the store's categories alone: no tag, no rule places
    assert sources == {"analyst", "export", "none"} | (set() if adopted else {"mapping", "rules", "model"})


def test_the_import_leaves_only_what_the_text_decides_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pl.DataFrame({"source": "desk", "ticket_id": ["1", "2", "3", "4"], "created_at": datetime(2025, 1, 1),
                          "category_exported": ["Refund", "question", None, None],
                          "tags": [None, "vip reembolso", "vip", None]},
                         schema_overrides={"category_exported": pl.String, "tags": pl.String})
    wh = Warehouse()
    import_batch(wh, Batch("t.csv", "sha", "desk", "tickets", {"tickets": frame}))
    assert categories(wh) == {"1": ("refund", "export", 1.0), "2": ("refund", "mapping", 1.0),
                              "3": (None, None, None), "4": (None, None, None)}


def test_a_taxonomy_file_that_cannot_be_read_leaves_the_imported_tickets_pending(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.toml"
    broken.write_text("this is [ not toml")
    monkeypatch.setenv("CSPULSE_TAXONOMY_PATH", str(broken))
    from settings import get_settings
    get_settings.cache_clear()
    try:
        wh = Warehouse()
        import_batch(wh, Batch("t.csv", "sha", "desk", "tickets", {"tickets": generated(20, seed=4)}))
        assert wh.cursor().execute("SELECT count(*) FROM tickets WHERE category_source IS NULL").fetchone()[0] == 20
    finally:
        get_settings.cache_clear()


def test_a_csv_imported_in_batches_arrives_categorised_as_one_read_whole(tmp_path: Path) -> None:
    rows = "".join(f"{i},c{i}@example.com,Where is it?,solved,Normal,Mail,2024-03-04 09:00:00,"
                   f"2024-03-04 09:00:00,2024-03-04 10:00:00,1,0,5,60,Good,\"{tags}\"\n"
                   for i, tags in enumerate(["vip refund", "", "rma", "swap vip", "nothing"] * 3, start=1))
    file = tmp_path / "tickets.csv"
    file.write_text(ZENDESK_HEADER.replace("\n", ",Tags\n") + rows)
    found = {}
    for name, settings in {"batches": load_settings(_env_file=None, cli_batch_rows=4, cli_batches_above_mb=0),
                           "whole": load_settings(_env_file=None)}.items():
        import_paths([str(file)], tmp_path / f"{name}.duckdb", settings)
        wh = Warehouse(tmp_path / f"{name}.duckdb")
        found[name] = categories(wh)
        wh.close()
    assert found["batches"] == found["whole"]
    assert found["whole"]["1"] == ("refund", "mapping", 1.0) and found["whole"]["3"] == ("return", "mapping", 1.0)
