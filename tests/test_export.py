"""CSV downloads: cells a spreadsheet would run as formulas are neutralised, and the file starts with a UTF-8 BOM."""

from __future__ import annotations

import polars as pl

from data.export import neutralise, safe_csv


def test_export_neutralises_cells_a_spreadsheet_would_run() -> None:
    frame = pl.DataFrame({"text": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok", None],
                          "number": [1, 2, 3, 4, 5, 6, 7, 8]})
    out = neutralise(frame)
    assert out["text"].to_list() == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok",
                                     None]
    assert out["number"].to_list() == frame["number"].to_list()


def test_export_csv_has_a_bom_and_round_trips_the_neutralised_text() -> None:
    content = safe_csv(pl.DataFrame({"subject": ["=cmd|' /C calc'!A0", "café"]}))
    assert content.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(content[3:])
    assert back["subject"].to_list() == ["'=cmd|' /C calc'!A0", "café"]
