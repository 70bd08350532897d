"""CSV downloads that a spreadsheet cannot turn into formulas."""

from __future__ import annotations

import polars as pl

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets (OWASP CSV
# injection). A leading apostrophe makes it text and is shown by none of them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(_starts_with_any(name)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text
    )


def _starts_with_any(name: str) -> pl.Expr:
    expression = pl.lit(False)
    for start in FORMULA_STARTS:
        expression = expression | pl.col(name).str.starts_with(start)
    return expression


def safe_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 with BOM (so Excel reads accents), every text cell neutralised."""
    return b"\xef\xbb\xbf" + neutralise(frame).write_csv().encode()
