"""Typed columns from the text cells of an export, with every unreadable cell reported.

Readers load every export as text (``infer_schema=False``: all ``pl.String``, null for an empty cell, row *i* is
CSV record *i + 1*) and call these functions column by column. Each returns a :class:`Cast`: the typed values,
null where the cell was empty or could not be read, and a :class:`Problem` for every cell that was not empty but
could not be read. Nothing is dropped silently and nothing raises on bad data; only a wrong argument (an unknown
time zone, an unsupported decimal mark) raises ``ValueError``.

Everything is vectorised with Polars expressions; Python runs only over small sets of distinct values (currency
tokens). A column lists at most :data:`MAX_PROBLEMS` problems, the first ones by record; the rest are counted in
:attr:`Cast.unlisted`. Masking personal data for display is not casting: it lives in :mod:`data.privacy`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

MAX_PROBLEMS = 1000

DateOrder = Literal["DMY", "MDY", "ambiguous", "unknown"]
DurationUnit = Literal["minutes", "hours", "seconds"]


@dataclass(frozen=True)
class Problem:
    record: int  # 1-based CSV record number (frame row index + 1)
    column: str  # the header as in the file
    value: str  # the cell text, exactly as read
    why: str  # short and human, e.g. "not a date in the form DD/MM/YYYY HH:MM"


@dataclass(frozen=True)
class Cast:
    values: pl.Series  # typed result, null where the cell was empty or unreadable
    problems: list[Problem]  # the first MAX_PROBLEMS unreadable cells, by record
    unlisted: int = 0  # further unreadable cells, counted but not listed, so huge files stay cheap
    bad: pl.Series | None = None  # True for every unreadable cell, listed or not; None when there are none
    naive_times: bool = False  # some timestamp carried no offset and was read as wall-clock time in the given zone

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.unlisted

    def bad_rows(self) -> pl.Series:
        """0-based row numbers of every unreadable cell (the problem list stops at MAX_PROBLEMS)."""
        if self.bad is None:
            return pl.Series([], dtype=pl.UInt32)
        return self.bad.arg_true()


# ---------------------------------------------------------------------------------------------------------------
# Shared plumbing: every cast is a frame of the raw cells, a typed value and a reason (null when the cell is fine).

_RAW, _TEXT = "raw", "text"
_NO_PROBLEM = pl.lit(None, pl.String)


def _cells(s: pl.Series, text: pl.Expr | None = None) -> pl.DataFrame:
    """The raw cells and their cleaned text (stripped; empty -> null) side by side."""
    frame = pl.DataFrame({_RAW: s.cast(pl.String)})
    cleaned = frame.with_columns((text if text is not None else pl.col(_RAW).str.strip_chars()).alias(_TEXT))
    # A second step: inside one when/then the cleaning expression was evaluated twice (half of the cost).
    return cleaned.with_columns(_non_empty(pl.col(_TEXT)).alias(_TEXT))


def _non_empty(text: pl.Expr) -> pl.Expr:
    return pl.when(text != "").then(text)


def _result(frame: pl.DataFrame, value: pl.Expr, why: pl.Expr, column: str, name: str) -> Cast:
    """Values nulled where a reason was given; the reasons become problems in record order."""
    out = frame.select(pl.col(_RAW), why.alias("why"), value.alias("value"))
    out = out.with_columns(pl.when(pl.col("why").is_null()).then(pl.col("value")).alias("value"))
    problems, unlisted = _problems(out, column)
    bad = out["why"].is_not_null() if problems else None
    return Cast(out["value"].alias(name), problems, unlisted, bad)


def _problems(out: pl.DataFrame, column: str) -> tuple[list[Problem], int]:
    bad = out.with_row_index("record", offset=1).filter(pl.col("why").is_not_null())
    listed = bad.head(MAX_PROBLEMS).select("record", _RAW, "why")
    problems = [Problem(int(record), column, value, why) for record, value, why in listed.iter_rows()]
    return problems, bad.height - len(problems)


# ---------------------------------------------------------------------------------------------------------------
# Text


def to_text(s: pl.Series) -> Cast:
    """Surrounding whitespace stripped, empty -> null; every other byte kept.

    Text that looks like a formula (``=SUM(A1)``), HTML or SQL is data here; neutralising it is the job of whatever
    renders or downloads it, so it is never rewritten and never a problem.
    """
    return Cast(_cells(s)[_TEXT].alias(s.name), [])  # no text is unreadable: no problem list to build


# ---------------------------------------------------------------------------------------------------------------
# Numbers and money

# Spreadsheets write U+2212 and dashes for minus; a leading ' is Excel's "keep this as text" mark.
_MINUS_SIGNS = "[\u2212\u2012\u2013\ufe63\uff0d]"
_GROUP_SEPARATORS = {".": [",", " ", "\u00a0", "\u202f", "'"], ",": [".", " ", "\u00a0", "\u202f", "'"]}
_DECIMAL_WORDS = {".": "decimal point '.'", ",": "decimal comma ','"}


def _number_text(column: pl.Expr) -> pl.Expr:
    text = column.str.strip_chars().str.strip_prefix("'").str.strip_chars()
    return text.str.replace_all(_MINUS_SIGNS, "-")


def _check_decimal(decimal: str) -> None:
    if decimal not in _GROUP_SEPARATORS:
        raise ValueError(f"decimal must be '.' or ',', not {decimal!r}")


def _number_pattern(decimal: str, *, exponent: bool) -> str:
    """A signed number whose digit groups, if any, are all three digits apart with one separator.

    Checking the grouping (rather than deleting every separator) is what catches a decimal comma read as a
    thousands separator: "12,50" is not a number in a decimal-point file.
    """
    grouped = [rf"[0-9]{{1,3}}(?:{re.escape(sep)}[0-9]{{3}})+" for sep in _GROUP_SEPARATORS[decimal]]
    if decimal == ".":
        grouped.append(r"[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3}")  # Indian lakh grouping: 1,23,456.00
    integer = "|".join(["[0-9]+", *grouped])
    point = re.escape(decimal)
    tail = r"(?:[eE][+-]?[0-9]+)?" if exponent else ""
    return rf"^[+-]?(?:(?:{integer})(?:{point}[0-9]*)?|{point}[0-9]+){tail}$"


def _canonical_number(text: pl.Expr, decimal: str) -> pl.Expr:
    """A validated number with its group separators removed and a '.' decimal point."""
    separators = "".join(re.escape(sep) for sep in _GROUP_SEPARATORS[decimal])
    plain = text.str.replace_all(f"[{separators}]", "")
    return plain.str.replace(",", ".", literal=True) if decimal == "," else plain


def _plain(s: pl.Series, dtype: pl.DataType) -> pl.Series | None:
    """The column cast directly when every cell already is a plain number (the common case), else None.

    The general readers below run several regular expressions a cell; on a million plain cells that is most of
    an import's time, and they would give the same values.
    """
    text = s.cast(pl.String).str.strip_chars()
    text = pl.select(pl.when(text != "").then(text)).to_series()
    if text.str.contains(r"[^0-9.eE+-]").any():
        return None
    value = text.cast(dtype, strict=False)
    if value.null_count() != text.null_count() or (dtype == pl.Float64 and not value.is_finite().all()):
        return None
    return value.alias(s.name)


def to_int(s: pl.Series, column: str) -> Cast:
    """Int64 from "1,234", " 12 ", "'0012", "-5", "3.0"; "3.5" is a problem (not a whole number)."""
    plain = _plain(s, pl.Int64())
    if plain is not None:
        return Cast(plain, [])
    frame = _cells(s, _number_text(pl.col(_RAW)))
    text = pl.col(_TEXT)
    canonical = _canonical_number(text, ".")
    whole = canonical.str.replace(r"\.0*$", "").str.replace(r"^([+-]?)$", "${1}0")  # ".0" is zero
    value = whole.cast(pl.Int64, strict=False)
    why = (
        pl.when(text.is_null()).then(_NO_PROBLEM)
        .when(~text.str.contains(_number_pattern(".", exponent=False))).then(pl.lit("not a whole number"))
        .when(whole.str.contains(".", literal=True)).then(pl.lit("not a whole number (has a fraction)"))
        .when(value.is_null()).then(pl.lit("too large for a whole number"))
    )
    return _result(frame, value, why, column, s.name)


def to_number(s: pl.Series, column: str, decimal: str = ".") -> Cast:
    """Float64 from "1,234.5", "1e3", "'-2", "−2" (decimal "."), or "1.234,5" (decimal ",")."""
    _check_decimal(decimal)
    plain = _plain(s, pl.Float64()) if decimal == "." else None
    if plain is not None:
        return Cast(plain, [])
    frame = _cells(s, _number_text(pl.col(_RAW)))
    text = pl.col(_TEXT)
    value = _canonical_number(text, decimal).cast(pl.Float64, strict=False)
    why = (
        pl.when(text.is_null()).then(_NO_PROBLEM)
        .when(~text.str.contains(_number_pattern(decimal, exponent=True)))
        .then(pl.lit(f"not a number with a {_DECIMAL_WORDS[decimal]}"))
        .when(value.is_null() | ~value.is_finite()).then(pl.lit("too large a number"))
    )
    return _result(frame, value, why, column, s.name)


# Active ISO 4217 codes: an amount may carry one before or after it ("USD 12", "12,50 EUR").
_ISO_CODE_LIST = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP
CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR
ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED
VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
_ISO_CODES = frozenset(_ISO_CODE_LIST.split())


def is_currency_code(code: str) -> bool:
    """An active ISO 4217 code, in any letter case ("GBP", "eur")."""
    return code.strip().upper() in _ISO_CODES

# Symbols read as one currency. None marks a symbol several currencies share: "$" (USD, CAD, AUD, MXN, ...),
# "¥" (JPY, CNY), "₨"/"Rs" (INR, PKR, LKR, NPR), "kr" (SEK, NOK, DKK, ISK). Guessing those would mislabel money.
_SYMBOL_CODES: dict[str, str | None] = {
    "US$": "USD", "CA$": "CAD", "C$": "CAD", "AU$": "AUD", "A$": "AUD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD",
    "MX$": "MXN", "R$": "BRL", "NT$": "TWD", "JP¥": "JPY", "円": "JPY", "CN¥": "CNY", "元": "CNY",
    "€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₪": "ILS", "₫": "VND", "₱": "PHP", "₦": "NGN", "₽": "RUB",
    "₺": "TRY", "₴": "UAH", "₸": "KZT", "฿": "THB", "₡": "CRC", "₲": "PYG", "₵": "GHS", "₭": "LAK", "₼": "AZN",
    "₾": "GEL", "zł": "PLN", "Kč": "CZK", "Ft": "HUF",
    "$": None, "¥": None, "₨": None, "Rs": None, "Rs.": None, "kr": None, "kr.": None,
}


def _currency_pattern() -> str:
    # Longest first: the regex takes the first alternative that matches, and "US$" must win over "$". Any three
    # letters stand for a code here (a short regex is twice as fast); _known_currency checks them afterwards.
    symbols = sorted(_SYMBOL_CODES, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(symbol) for symbol in symbols) + "|[A-Za-z]{3})"


def _known_currency(token: pl.Expr) -> pl.Expr:
    return token.is_null() | token.is_in(list(_SYMBOL_CODES)) | token.str.to_uppercase().is_in(_ISO_CODES)


_CUR = _currency_pattern()
_NUM_CHARS = "[0-9.,'\\s]"
_MONEY = (
    rf"^(?P<open>\()?\s*(?P<s1>[-+])?\s*(?P<c1>{_CUR})?\s*(?P<s2>[-+])?\s*"
    rf"(?P<num>{_NUM_CHARS}*[0-9]{_NUM_CHARS}*)"
    rf"(?P<c2>{_CUR})?\s*(?P<s3>-)?\s*(?P<close>\))?$"
)


def _money_parts(text: pl.Expr) -> pl.Expr:
    """Struct of the parts of an amount: parentheses, up to three sign positions, currency before/after, number."""
    return text.str.extract_groups(_MONEY)


def to_money(s: pl.Series, column: str, decimal: str = ".") -> Cast:
    """Decimal(18, 2), rounded half-even to cents.

    Accepts a currency symbol or ISO code before or after the number ("$1,234.50", "USD 12", "1 234,50 €" with
    decimal ","), a sign before or after the symbol or a trailing minus ("-$5", "$-5", "5.00-"), accounting
    parentheses ("(5.00)" -> -5.00), Unicode minus, a leading apostrophe and surrounding spaces.
    """
    _check_decimal(decimal)
    frame = _cells(s, _number_text(pl.col(_RAW)))
    parts = pl.col("parts")
    signs = [parts.struct.field(name) for name in ("s1", "s2", "s3")]
    parenthesised = parts.struct.field("open").is_not_null()
    number = parts.struct.field("num").str.strip_chars()
    negative = parenthesised | pl.any_horizontal([sign == "-" for sign in signs]).fill_null(False)
    canonical = _canonical_number(number, decimal)
    amount = pl.when(negative).then(pl.lit("-") + canonical).otherwise(canonical)
    value = amount.cast(pl.Decimal(18, 2), strict=False)
    sign_count = pl.sum_horizontal([sign.is_not_null().cast(pl.Int8) for sign in signs])
    unbalanced = parenthesised != parts.struct.field("close").is_not_null()
    currencies = _known_currency(parts.struct.field("c1")) & _known_currency(parts.struct.field("c2"))
    misshapen = number.is_null() | unbalanced | (sign_count > 1) | (parenthesised & (sign_count > 0)) | ~currencies
    why = (
        pl.when(pl.col(_TEXT).is_null()).then(_NO_PROBLEM)
        .when(misshapen)
        .then(pl.lit("not an amount of money"))
        .when(~number.str.contains(_number_pattern(decimal, exponent=False)))
        .then(pl.lit(f"not an amount of money with a {_DECIMAL_WORDS[decimal]}"))
        .when(value.is_null()).then(pl.lit("too large an amount (over 16 digits before the decimal mark)"))
    )
    return _result(frame.with_columns(_money_parts(pl.col(_TEXT)).alias("parts")), value, why, column, s.name)


def currency_symbol(s: pl.Series) -> pl.Series:
    """ISO code named by an amount's currency code or symbol; null when it names none or an ambiguous one.

    "USD 12" -> "USD", "12,50 €" -> "EUR", "R$ 10" -> "BRL", "$12 USD" -> "USD" (a code beats a symbol), but
    "$12" -> null: "$" is shared by a dozen currencies, and so are "¥", "₨"/"Rs" and "kr". Take the currency from
    the file's currency column or the store's settings for those.
    """
    parts = pl.DataFrame({_RAW: s.cast(pl.String)}).select(_money_parts(_number_text(pl.col(_RAW))).alias("p"))
    tokens = [pl.col("p").struct.field(side) for side in ("c1", "c2")]
    written = [_written_code(token) for token in tokens]  # a code beats a symbol: "$12 USD" is USD
    symbols = [token.replace_strict(_SYMBOL_CODES, default=None, return_dtype=pl.String) for token in tokens]
    return parts.select(pl.coalesce([*written, *symbols]).alias(s.name)).to_series()


def _written_code(token: pl.Expr) -> pl.Expr:
    upper = token.str.to_uppercase()
    return pl.when(upper.is_in(_ISO_CODES)).then(upper)


# ---------------------------------------------------------------------------------------------------------------
# Booleans

_BOOLEANS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
             "false": False, "f": False, "no": False, "n": False, "0": False}


def to_bool(s: pl.Series, column: str) -> Cast:
    """Boolean from true/false, yes/no, y/n, t/f, 1/0 in any letter case."""
    frame = _cells(s)
    value = pl.col(_TEXT).str.to_lowercase().replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean)
    why = pl.when(pl.col(_TEXT).is_not_null() & value.is_null()).then(pl.lit("not yes/no or true/false"))
    return _result(frame, value, why, column, s.name)


# ---------------------------------------------------------------------------------------------------------------
# Timestamps

_OFFSET_DIRECTIVE = re.compile(r"%[:#]?z")
_LITERAL_Z = re.compile(r"(?<!%)Z$")
_HUMAN_DIRECTIVES = {
    "%Y": "YYYY", "%y": "YY", "%m": "MM", "%-m": "M", "%d": "DD", "%-d": "D", "%e": "D", "%H": "HH", "%-H": "H",
    "%I": "hh", "%M": "MM", "%S": "SS", "%p": "AM/PM", "%b": "Mon", "%B": "Month", "%a": "Ddd", "%A": "Day",
    "%z": "±HHMM", "%:z": "±HH:MM", "%#z": "±HH:MM", "%.f": ".fff", "%f": "ffffff", "%T": "HH:MM:SS",
    "%R": "HH:MM", "%F": "YYYY-MM-DD", "%%": "%",
}


def _offset_format(fmt: str) -> str | None:
    """The format made to accept any offset spelling ("-0700", "+02:00", "Z"), or None if it carries no offset.

    chrono's %z and %:z refuse "Z"; %#z takes all three, so a file mixing them still parses.
    """
    if not _OFFSET_DIRECTIVE.search(fmt) and not _LITERAL_Z.search(fmt):
        return None
    return _LITERAL_Z.sub("%#z", _OFFSET_DIRECTIVE.sub("%#z", fmt))


def human_format(fmt: str) -> str:
    """'%d/%m/%Y %H:%M' -> 'DD/MM/YYYY HH:MM', for messages an analyst reads."""
    return re.sub(r"%[-:#.]?[A-Za-z%]", lambda m: _HUMAN_DIRECTIVES.get(m.group(), m.group()), fmt)


def _parse(text: pl.Expr, fmt: str) -> pl.Expr:
    """Naive datetimes: UTC when the format carries an offset (each value converted by its own), else wall time."""
    offset_fmt = _offset_format(fmt)
    if offset_fmt is not None:
        return text.str.strptime(pl.Datetime("us"), offset_fmt, strict=False).dt.replace_time_zone(None)
    return text.str.strptime(pl.Datetime("us"), fmt, strict=False)


def _to_utc(parsed: pl.Expr, fmt: str, tz: str) -> pl.Expr:
    """Wall time in tz as naive UTC; values read with an offset already are."""
    if _offset_format(fmt) is not None or tz == "UTC":
        return parsed
    # A fall-back hour happens twice: take the first. A spring-forward hour never happens: null, reported below.
    local = parsed.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def _utc_from(text: pl.Expr, fmt: str, tz: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(parsed at all, naive UTC, read without an offset) for one format: an offset in the value wins; otherwise it
    is wall time in tz."""
    parsed = _parse(text, fmt)
    return parsed, _to_utc(parsed, fmt, tz), _read_as_wall_time(parsed, fmt)


def _read_as_wall_time(parsed: pl.Expr, fmt: str) -> pl.Expr:
    """True where this format read the cell and the cell had no offset: its zone is the reader's assumption."""
    return pl.when(parsed.is_not_null()).then(pl.lit(_offset_format(fmt) is None))


def _check_zone(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Berlin'") from error


def _is_placeholder(text: pl.Expr, placeholders: Sequence[str]) -> pl.Expr:
    """The cell is a placeholder date, alone or followed by a time ("1900-01-01", "1900-01-01 00:00:00")."""
    hits = [(text == p) | text.str.starts_with(p + " ") | text.str.starts_with(p + "T") for p in placeholders]
    return pl.any_horizontal(hits) if hits else pl.lit(False)


def _parse_stamps(frame: pl.DataFrame, formats: Sequence[str], tz: str) -> pl.DataFrame:
    """Columns "parsed" (read by some format) and "utc" for every cell, parsing as little as possible.

    Each format costs a parse of the whole column, and a dozen on a million cells took seconds, while a column
    almost always has one format. So the formats that read a sample go first over every cell; the others are
    tried only on the cells still unread, in the given order, so an odd value later on is still read.
    """
    text = pl.col(_TEXT)
    sample = _first_values(frame[_TEXT], 2000)
    hits = [sample.str.strptime(pl.Datetime("us"), _offset_format(f) or f, strict=False).is_not_null().sum()
            for f in formats]
    first = [formats[hits.index(max(hits))]]  # the format that reads most of the sample, earliest on a tie
    rest = [f for f in formats if f not in first]
    out = _single_format(frame, first[0], tz)
    unread = text.is_not_null() & pl.col("parsed").is_null()
    if not rest or not out.select(unread.any()).item():
        return out
    out = out.with_row_index("_row")
    retried = out.filter(unread).drop("parsed", "utc", "wall").with_columns(_coalesced(text, rest, tz))
    return out.update(retried.select("_row", "parsed", "utc", "wall"), on="_row").drop("_row")


def _first_values(values: pl.Series, count: int) -> pl.Series:
    """The first ``count`` non-null values, looked for near the top first: drop_nulls copies the whole column."""
    window = 50 * count
    near_top = values.head(window).drop_nulls()
    if near_top.len() >= count or values.len() <= window:
        return near_top.head(count)
    return values.drop_nulls().head(count)


def _single_format(frame: pl.DataFrame, fmt: str, tz: str) -> pl.DataFrame:
    # Two steps, so the column is parsed once: "parsed" and "utc" as one expression each parsed it twice.
    out = frame.with_columns(_parse(pl.col(_TEXT), fmt).alias("parsed"))
    return out.with_columns(_to_utc(pl.col("parsed"), fmt, tz).alias("utc"),
                            _read_as_wall_time(pl.col("parsed"), fmt).alias("wall"))


def _coalesced(text: pl.Expr, formats: Sequence[str], tz: str) -> list[pl.Expr]:
    attempts = [_utc_from(text, fmt, tz) for fmt in formats]
    return [pl.coalesce([matched for matched, _, _ in attempts]).alias("parsed"),
            pl.coalesce([utc for _, utc, _ in attempts]).alias("utc"),
            pl.coalesce([wall for _, _, wall in attempts]).alias("wall")]


def to_timestamp_utc(
    s: pl.Series,
    column: str,
    *,
    formats: Sequence[str],
    tz: str,
    placeholders: Sequence[str] = ("1900-01-01",),
) -> Cast:
    """Naive Datetime('us') in UTC, trying the chrono formats in order (see _parse_stamps for the cost).

    A format with an offset directive (%z, %:z, %#z, or a literal trailing Z) converts each value by its own
    offset, so a Shopify file switching from -0700 to -0800 at DST converts correctly; "Z" is accepted wherever
    an offset is. A format without one reads wall-clock time in ``tz``: a time in the spring-forward gap is a
    problem, a fall-back time that happens twice takes the earlier instant. Placeholders become null quietly.
    :attr:`Cast.naive_times` says whether any value was read that way, on ``tz``'s clock.
    """
    if not formats:
        raise ValueError("give at least one format")
    _check_zone(tz)
    frame = _parse_stamps(_cells(s), formats, tz)
    text = pl.col(_TEXT)
    # Placeholders found once, as a column: as an expression both the value and the reason evaluated them.
    frame = frame.with_columns(_is_placeholder(text, placeholders).alias("placeholder"))
    placeholder = pl.col("placeholder")
    value = pl.when(~placeholder).then(pl.col("utc"))
    forms = " or ".join(human_format(fmt) for fmt in formats)
    why = (
        pl.when(text.is_null() | placeholder).then(_NO_PROBLEM)
        .when(pl.col("parsed").is_null()).then(pl.lit(f"not a date in the form {forms}"))
        .when(value.is_null()).then(pl.lit(f"does not exist in {tz} (clocks skip this hour)"))
    )
    cast = _result(frame, value, why, column, s.name)
    naive = frame.select((pl.col("wall").fill_null(False) & ~placeholder).any()).item()
    return replace(cast, naive_times=bool(naive))


_SLASH_DATE = r"^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-][0-9]{2,4}(?:[^0-9]|$)"
_SLASH_DATE_START = r"^\s*[0-9]{1,2}[/.-]"  # what every match of _SLASH_DATE starts with, surrounding space allowed


def date_order(s: pl.Series) -> DateOrder:
    """Which field of slash/dot dates ("31/12/2023 22:36", "8/9/2024 11:33") is the day.

    "DMY" if some first field exceeds 12, "MDY" if some second field does, "ambiguous" if dates are there but
    every field is 12 or less, "unknown" if both happen (not one date order) or there are no such dates.
    """
    # Most columns hold ISO dates: a quick test that can only fail where the full pattern fails leaves the two
    # extractions a handful of cells (on a million it took 0.09 s instead of 0.02 s).
    cells = s.cast(pl.String)
    candidates = cells.filter(cells.str.contains(_SLASH_DATE_START))
    fields = pl.DataFrame({_RAW: candidates}).select(
        [
            pl.col(_RAW).str.strip_chars().str.extract(_SLASH_DATE, index).cast(pl.Int32).alias(name)
            for index, name in ((1, "first"), (2, "second"))
        ]
    )
    counts = fields.select(
        pl.col("first").is_not_null().sum().alias("dates"),
        (pl.col("first") > 12).sum().alias("day_first"),
        (pl.col("second") > 12).sum().alias("month_first"),
    ).row(0, named=True)
    if counts["dates"] == 0 or (counts["day_first"] and counts["month_first"]):
        return "unknown"
    if counts["day_first"]:
        return "DMY"
    return "MDY" if counts["month_first"] else "ambiguous"


# ---------------------------------------------------------------------------------------------------------------
# Durations

_MINUTES_PER = {"minutes": 1.0, "hours": 60.0, "seconds": 1 / 60}
_CLOCK = (
    r"^(?P<sign>[-+])?\s*(?:(?P<days>[0-9]+)\s*days?,?)?\s*"
    r"(?:(?P<h>[0-9]+):(?P<m>[0-5][0-9])(?::(?P<s>[0-5][0-9](?:\.[0-9]+)?))?)?$"
)


def to_minutes(s: pl.Series, column: str, unit: DurationUnit) -> Cast:
    """Float64 minutes.

    Accepts a plain number in ``unit`` ("90", "1.5" hours -> 90.0, "1,234" with thousands commas), a clock
    duration whatever the unit ("1:30" = 1 h 30 min, "26:15:30", "00:05:30.5"), and days before a clock
    ("1 day 02:03", "2 days, 3:04:05", "3 days"). Hours may exceed 24; minutes and seconds must be under 60.
    A negative duration is a problem: it means the export's clocks are wrong, not that time ran backwards.
    """
    if unit not in _MINUTES_PER:
        raise ValueError(f"unit must be minutes, hours or seconds, not {unit!r}")
    plain = _plain(s, pl.Float64())
    if plain is not None and not (plain < 0).any():
        return Cast(plain * _MINUTES_PER[unit], [])
    frame = _cells(s, _number_text(pl.col(_RAW))).with_columns(pl.col(_TEXT).str.extract_groups(_CLOCK).alias("c"))
    text, clock = pl.col(_TEXT), pl.col("c")
    number = _canonical_number(text, ".").cast(pl.Float64, strict=False) * _MINUTES_PER[unit]
    is_number = (text.str.contains(_number_pattern(".", exponent=True)) & number.is_finite()).fill_null(False)
    is_clock = (clock.struct.field("days").is_not_null() | clock.struct.field("h").is_not_null()).fill_null(False)
    value = pl.when(is_number).then(number).when(is_clock).then(_clock_minutes(clock))
    why = (
        pl.when(text.is_null()).then(_NO_PROBLEM)
        .when(~(is_number | is_clock)).then(pl.lit("not a duration"))
        .when(value < 0).then(pl.lit("negative duration"))
    )
    return _result(frame, value, why, column, s.name)


def _clock_minutes(clock: pl.Expr) -> pl.Expr:
    def part(name: str) -> pl.Expr:
        return clock.struct.field(name).cast(pl.Float64).fill_null(0.0)

    minutes = part("days") * 1440 + part("h") * 60 + part("m") + part("s") / 60
    return pl.when(clock.struct.field("sign") == "-").then(-minutes).otherwise(minutes)


# ---------------------------------------------------------------------------------------------------------------
# Satisfaction

# Help Scout "okay" is a response that was not satisfied: CSAT is good / (good + bad), the share of top-box
# answers, and leaving "okay" out would inflate it. "Not offered" means no survey: null, not a problem.
_RATING_WORDS: dict[str, str | None] = {
    "good": "good", "bad": "bad", "offered": "offered", "not offered": None, "unoffered": None,
    "good, i'm satisfied": "good", "bad, i'm unsatisfied": "bad",
    "great": "good", "okay": "bad", "not good": "bad",
}
_WHOLE_SCORE = r"^[0-9]+(?:\.0*)?$"


def to_rating(s: pl.Series, column: str) -> tuple[Cast, Cast]:
    """See _rating_cells; a rating column holds a handful of distinct cells, so each is read once."""
    distinct = s.unique(maintain_order=True)
    if distinct.len() * 20 > s.len():
        return _rating_cells(s, column)
    rating, score = _rating_cells(distinct, column)
    lookup = pl.DataFrame({"cell": distinct, "rating": rating.values, "score": score.values,
                           "why": [None] * distinct.len()}, schema_overrides={"why": pl.String})
    reasons = {p.value: p.why for p in rating.problems}
    if reasons:
        lookup = lookup.with_columns(why=pl.col("cell").replace_strict(reasons, default=None, return_dtype=pl.String))
    rows = s.alias("cell").to_frame().join(lookup, on="cell", how="left", maintain_order="left", nulls_equal=True)
    problems, unlisted = _problems(rows.select(pl.col("cell").alias(_RAW), "why"), column)
    bad = rows["why"].is_not_null() if problems else None
    return (Cast(rows["rating"].alias(s.name), problems, unlisted, bad), Cast(rows["score"].alias(s.name), []))


def _rating_cells(s: pl.Series, column: str) -> tuple[Cast, Cast]:
    """(rating, score): rating is good | bad | offered (String), score 1-5 (Int16) where the source rated on a scale.

    Zendesk words (Good, Bad, Offered, Not Offered, Unoffered) and Help Scout's (great -> good, okay and not good
    -> bad) give a rating and no score; a number 1-5 ("4", "3.0") gives the score and rating good if >= 4 else
    bad. Each unreadable cell is reported once, in the rating's problems; the score's list stays empty.
    """
    frame = _cells(s)
    word = pl.col(_TEXT).str.to_lowercase().str.replace_all(r"\s+", " ")
    is_word = word.is_in(list(_RATING_WORDS))
    score = pl.when(word.str.contains(_WHOLE_SCORE)).then(word.str.extract(r"^([0-9]+)").cast(pl.Int64, strict=False))
    in_scale = score.is_between(1, 5)
    scored = pl.when(score >= 4).then(pl.lit("good")).otherwise(pl.lit("bad"))
    rating = pl.when(is_word).then(word.replace_strict(_RATING_WORDS, default=None, return_dtype=pl.String))
    why = (
        pl.when(pl.col(_TEXT).is_null() | is_word | in_scale).then(_NO_PROBLEM)
        .when(word.str.contains(r"^[0-9]+(?:\.[0-9]*)?$")).then(pl.lit("not a rating from 1 to 5"))
        .otherwise(pl.lit("not a satisfaction rating"))
    )
    frame = frame.with_columns(why.alias("why"))
    rating_cast = _result(frame, pl.when(in_scale).then(scored).otherwise(rating), pl.col("why"), column, s.name)
    score_values = frame.select(pl.when(in_scale).then(score).cast(pl.Int16).alias(s.name)).to_series()
    return rating_cast, Cast(score_values, [])
