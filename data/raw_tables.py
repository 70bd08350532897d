"""First stage of every import: a CSV or XLSX export as bytes in, a :class:`RawTable` of text cells out, or one
clear rejection; hostile files (compressed, binary, zip bombs, over the limits) are rejected before they cost much.

Nothing is cast here: every cell stays the string the export holds (only CSV quoting is undone) and an empty cell is
null. A rejection is one line that starts with the file name and names the record and column where there is one.

Records are numbered the way messages count them: the header is record 0 and frame row ``i`` is record ``i + 1``.
Blank lines are not records (they are skipped and noted), so a record may span several lines (quoted newlines).
LF, CRLF, CR-only and CR CR LF all end lines outside quotes. Newlines inside quoted values are kept exactly as
exported: a CRLF inside a quoted field stays CRLF, a CR in a CR-only file stays CR. A lone CR inside an unquoted value
is rejected: a spreadsheet would start a new row there, Polars would not.

The fast path decodes in Python, scans the bytes once with numpy for record boundaries and field counts (quotes
respected), then hands the UTF-8 bytes to Polars' multi-threaded reader. When the scan or Polars disagrees with the
file's quoting, Python's strict ``csv`` module re-reads it: it is slower but finds the record a person must fix.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import numpy as np
import polars as pl

from data.basics import ImportRejected, sha256_bytes
from settings import Settings

DELIMITERS = (",", ";", "\t")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # the 1900 date system, as Excel and LibreOffice write it
# A sheet beyond these was not written by a spreadsheet (Excel's and LibreOffice's XLSX maximum): refused as it is read.
EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS = 1_048_576, 16_384
_SMALL_PART_MAX_BYTES = 20_000_000  # workbook, relationships and styles are parsed whole, so each is capped alone
_INFLATE_CHUNK = 1 << 16
_PROGRESS_ROWS = 2_000  # about 0.3 s of parsing: often enough for a progress bar, rare enough to cost nothing
_FLUSH_CELLS = 1 << 20  # rows move from Python lists into Polars every this many cells: memory follows the text

# Polars would silently decompress gzip, zlib and zstd; the others would be read as garbage text.
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"BZh", "bzip2"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"%PDF-", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003 (.xls) or password-protected"),
)
_ZLIB_SECOND_BYTES = b"\x01\x5e\x9c\xda"

# Bytes 0x80-0x9F as Windows-1252 reads them; the five it leaves undefined keep their code point (as browsers do),
# so no byte is ever replaced by U+FFFD.
_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}

_LF, _CR, _QUOTE = 10, 13, 34
_CsvReader = type(csv.reader([]))
_SCAN_CHUNK = 1 << 22  # 4 MB slices keep the scan's temporary arrays small whatever the file's size
_CRS_LF = re.compile(r"\r+\n")
_SEP_LINE = re.compile(r"sep=([,;\t])\r?\n", re.IGNORECASE)


class FileRejected(ImportRejected):
    """The whole file cannot be read; str(e) starts with the file name and names row/column where it can."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_columns: int
    max_unpacked_bytes: int = Settings.model_fields["upload_max_unpacked_bytes"].default  # an XLSX's XML, inflated

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.upload_max_bytes, settings.upload_max_rows, settings.upload_max_columns,
                   settings.upload_max_unpacked_bytes)

    @classmethod
    def for_command_line(cls, settings: Settings) -> Limits:
        """A file from disk is not held in a browser's upload: its own limits, none when unset."""
        return cls(settings.cli_max_bytes or _NO_LIMIT, settings.cli_max_rows or _NO_LIMIT,
                   settings.upload_max_columns, settings.upload_max_unpacked_bytes)


_NO_LIMIT = 1 << 62


@dataclass(frozen=True)
class RawTable:
    file_name: str
    frame: pl.DataFrame
    sha256: str
    encoding: str
    delimiter: str
    notes: tuple[str, ...]
    first_record: int = 1  # the file's record number of frame row 0: a batch of a file read in parts starts later


Progress = Callable[[int, int], None]  # (records read so far, at most how many): called as a workbook's rows are read


def read_table(content: bytes, file_name: str, limits: Limits, progress: Progress | None = None) -> RawTable:
    """The export as text cells, or FileRejected naming what is wrong. ``progress`` hears of an XLSX sheet's rows
    as they are parsed (data.read_worker shows them); a CSV is read in one go."""
    if len(content) > limits.max_bytes:
        raise FileRejected(f"{file_name}: {len(content):,} bytes, more than the {limits.max_bytes:,}-byte limit")
    notes: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        # hashlib releases the GIL: the file's hash is taken on another core while the text is decoded (which holds
        # the GIL and one core) and read.
        digest = pool.submit(sha256_bytes, content)
        if _is_xlsx(content, file_name):
            names, frame = _read_xlsx(content, file_name, limits, notes, progress)
            encoding, delimiter = "utf-8", "xlsx"
        else:
            _check_magic(content, file_name)
            plain = _read_plain_utf8(content, file_name, limits, notes)
            if plain is not None:
                (names, frame, delimiter), encoding = plain, "utf-8"
            else:
                text, data, encoding = _decode(content, file_name, notes)
                names, frame, delimiter = _read_csv(text, data, file_name, limits, notes)
        frame = _finish(frame, names, file_name, notes)
        return RawTable(file_name, frame, digest.result(), encoding, delimiter, tuple(notes))


def read_path(path: str | Path, limits: Limits) -> RawTable:
    """Read a file from disk; its size is checked before its bytes are loaded."""
    path = Path(path)
    return read_table(_bytes_of(path, limits, None), path.name, limits)


def header_lookup(frame: pl.DataFrame) -> dict[str, str]:
    """Lower-cased, whitespace-collapsed header -> actual header, to find columns by name whatever their case."""
    return {_header_key(name): name for name in frame.columns}


def _header_key(name: str) -> str:
    return " ".join(name.split()).lower()


# --- bytes to text ------------------------------------------------------------------------------------------------


def _check_magic(content: bytes, file_name: str) -> None:
    if kind := _magic_kind(content):
        raise FileRejected(f"{file_name}: compressed/binary, not CSV: unpack it first (it is a {kind} file)")


def _magic_kind(content: bytes) -> str | None:
    kind = next((kind for magic, kind in _MAGIC if content.startswith(magic)), None)
    if kind is None and _zlib_header(content):
        kind = None if _looks_like_text(content[:64]) else "zlib"  # a header may well start with "x^"
    return kind


def _zlib_header(content: bytes) -> bool:
    return content[:1] == b"x" and len(content) > 1 and content[1:2] in _ZLIB_SECOND_BYTES


def _looks_like_text(start: bytes) -> bool:
    return not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", start)


def _decode(content: bytes, file_name: str, notes: list[str]) -> tuple[str, bytes | None, str]:
    """Text, the same text as UTF-8 bytes when the input already is (saves a copy), and the encoding's name."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as error:
            raise FileRejected(f"{file_name}: not valid UTF-16 at byte {error.start:,}") from None
        notes.append("decoded as UTF-16")
        _reject_nul(text, file_name)
        return text, None, "utf-16"
    _reject_nul(content, file_name)
    if content.startswith(codecs.BOM_UTF8):
        body = content[3:]
        try:
            return body.decode("utf-8"), body, "utf-8-sig"
        except UnicodeDecodeError as error:
            raise FileRejected(
                f"{file_name}: starts with a UTF-8 byte-order mark but is not valid UTF-8 at byte {error.start + 3:,}"
            ) from None
    try:
        return content.decode("utf-8"), content, "utf-8"
    except UnicodeDecodeError:
        notes.append("decoded as Windows-1252 (the file is not valid UTF-8)")
        return content.decode("latin-1").translate(_CP1252), None, "windows-1252"


def _reject_nul(content: bytes | str, file_name: str) -> None:
    nul = b"\x00" if isinstance(content, bytes) else "\x00"
    if nul in content:
        raise FileRejected(
            f"{file_name}: contains NUL bytes (binary, or UTF-16 without a byte-order mark), not CSV: save it as UTF-8"
        )


# --- CSV ----------------------------------------------------------------------------------------------------------


def _read_csv(
    text: str, data: bytes | None, file_name: str, limits: Limits, notes: list[str]
) -> tuple[list[str], pl.DataFrame, str]:
    text, delimiter = text.removeprefix("\ufeff"), None
    if match := _SEP_LINE.match(text):
        # Excel's "sep=;" first line names the delimiter and is not part of the table.
        delimiter, text, data = match.group(1), text[match.end() :], None
        notes.append(f"used the delimiter from the file's {match.group(0).strip()!r} line")
    if not text or text.isspace():  # text.strip() would copy the whole text to find out (0.1 s on 180 MB)
        raise FileRejected(f"{file_name}: empty file")
    text, ending = _line_endings(text)
    if ending:
        data = None
        notes.append(f"{ending} line endings read as lines")
    names, delimiter = _header(text, file_name, delimiter)
    _check_header(names, file_name, limits)
    data = text.encode() if data is None else data
    frame = _read_fast(data, delimiter, len(names), file_name, limits, notes)
    if frame is None:
        frame = _read_slow(text, delimiter, len(names), file_name, limits, notes)
    return names, frame, delimiter


def _read_plain_utf8(
    content: bytes, file_name: str, limits: Limits, notes: list[str]
) -> tuple[list[str], pl.DataFrame, str] | None:
    """The common file read without decoding all of it: UTF-8 without a byte-order mark or "sep=" line, lines
    ending in LF or CRLF, quoting that Polars reads as the csv module does. Polars refuses a value that is not
    UTF-8, so a file read here is valid UTF-8 throughout; None sends the file the careful way (_decode, _read_csv).
    Decoding 180 MB took 0.08 s with the GIL held, and its copy of the text 180 MB.
    """
    if content.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in content:
        return None
    head = _head(content)
    if not head or head.isspace() or _SEP_LINE.match(head) or _line_endings(head)[1] is not None:
        return None
    try:
        names, delimiter = _header(head, file_name, None)
    except FileRejected:
        return None  # or a header longer than the head: the careful way says which
    _check_header(names, file_name, limits)
    shape_notes: list[str] = []
    frame = _read_fast(content, delimiter, len(names), file_name, limits, shape_notes)
    if frame is None:
        return None
    notes += shape_notes
    return names, frame, delimiter


def _head(content: bytes, size: int = 1 << 20) -> str | None:
    """The whole lines in the first ``size`` bytes as text, or None if they are not UTF-8."""
    end = len(content) if len(content) <= size else content.rfind(b"\n", 0, size) + 1
    try:
        return content[:end].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _line_endings(text: str) -> tuple[str, str | None]:
    """LF line ends (outside quotes) where the header's ending would mislead Polars, and what they were.

    CR-only (classic Mac) reads as one line; CR CR LF (text written twice through Windows newline translation)
    leaves a CR in every last value. Plain CRLF needs nothing.
    """
    cr, lf = text.find("\r"), text.find("\n")
    if cr < 0 or 0 <= lf < cr:
        return text, None
    ending = _CRS_LF.match(text, cr)
    if ending is None:
        return _outside_quotes(text, lambda part: part.replace("\r\n", "\n").replace("\r", "\n")), "CR-only"
    if ending.end() - cr > 2:
        return _outside_quotes(text, lambda part: _CRS_LF.sub("\n", part)), "CR CR LF"
    return text, None


def _outside_quotes(text: str, change: Callable[[str], str]) -> str:
    # Splitting on quotes leaves the text outside quoted fields at even positions ("" escapes toggle twice).
    parts = text.split('"')
    parts[::2] = [change(part) for part in parts[::2]]
    return '"'.join(parts)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, without copying it whole (csv.reader needs the endings)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _csv_rows(text: str, delimiter: str) -> _CsvReader:
    return csv.reader(_lines(text), delimiter=delimiter, quotechar='"', doublequote=True, strict=True)


def _header(text: str, file_name: str, delimiter: str | None) -> tuple[list[str], str]:
    """The header's cells and the delimiter giving it the most fields (ties go to the earlier of , ; tab).

    A candidate whose quoting does not parse is out: quotes are right for one delimiter only.
    """
    best, chosen, errors = [], None, []
    for candidate in (delimiter,) if delimiter else DELIMITERS:
        try:
            cells = next((row for row in _csv_rows(text, candidate) if row), [])
        except csv.Error as error:
            errors.append(_csv_reason(error))
            continue
        if len(cells) > len(best):
            best, chosen = cells, candidate
    if chosen is None or (len(best) == 1 and errors):  # one "column" is what a broken comma header looks like
        raise FileRejected(f"{file_name}: the header (record 0) cannot be read: {errors[0]}")
    return [_clean_header(cell) for cell in best], chosen


def _clean_header(name: str) -> str:
    return name.strip().strip("\ufeff").strip()


def _check_header(names: list[str], file_name: str, limits: Limits) -> None:
    if len(names) > limits.max_columns:
        raise FileRejected(f"{file_name}: {len(names):,} columns, more than the limit of {limits.max_columns:,}")
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, 1):
        if name:
            positions.setdefault(_header_key(name), []).append(position)
    duplicates = [f"{names[p[0] - 1]!r} (columns {', '.join(map(str, p))})" for p in positions.values() if len(p) > 1]
    if duplicates:
        raise FileRejected(f"{file_name}: duplicate header names (case ignored): {'; '.join(duplicates)}")
    blank = [position for position, name in enumerate(names, 1) if not name]
    # A blank first header may be R's row names; _finish decides once the values are read.
    if blank and (blank != [1] or len(names) == 1):
        plural = "s" if len(blank) > 1 else ""
        raise FileRejected(f"{file_name}: blank header name{plural} in column{plural} {', '.join(map(str, blank))}")


def _text_schema(width: int) -> dict[str, pl.DataType]:
    """Placeholder names: the real headers may be blank or repeat until they are checked."""
    return {f"c{i}": pl.String() for i in range(width)}


def _text_frame(columns: list[list[str | None]]) -> pl.DataFrame:
    return pl.DataFrame(dict(zip(_text_schema(len(columns)), columns, strict=True)), schema=_text_schema(len(columns)))


@dataclass(frozen=True)
class _Scan:
    fields: np.ndarray  # fields per record, header included; 0 marks a blank line
    irregular: bool  # quoting or line endings that Polars and the csv module read differently


def _scan(data: bytes, delimiter: str, file_name: str, limits: Limits) -> _Scan:
    """Record boundaries and field counts in one vectorised pass, newlines and delimiters in quotes ignored.

    Only the positions of quotes, line ends and separators are found (quick, SIMD compares); whether a position is
    inside quotes is the parity of the quotes before it, looked up among the few quotes. A running parity over
    every byte (``bitwise_xor.accumulate``) and a per-record ``reduceat`` took three times as long.
    """
    bytes_ = np.frombuffer(data, np.uint8)
    quoted, has_cr, sep = b'"' in data, b"\r" in data, ord(delimiter)
    inside, record_start, open_seps, fields, seen, irregular = False, 0, 0, [], 0, False
    for offset in range(0, bytes_.size, _SCAN_CHUNK):
        if seen > 2 * limits.max_rows + 1:  # stop early: records or blank lines are over the limit already
            counted = np.concatenate(fields)
            _check_rows(int(np.count_nonzero(counted)) - 1, int(np.sum(counted == 0)), file_name, limits, "at least ")
        chunk = bytes_[offset : offset + _SCAN_CHUNK]
        quotes = np.flatnonzero(chunk == _QUOTE) if quoted else _NO_POSITIONS
        opening = (np.arange(quotes.size) + inside) % 2 == 0
        irregular |= _stray_quotes(bytes_, quotes[opening] + offset, quotes[~opening] + offset, sep)
        ends = _outside(np.flatnonzero(chunk == _LF), quotes, inside)
        if has_cr:
            irregular |= _bare_cr(bytes_, _outside(np.flatnonzero(chunk == _CR), quotes, inside) + offset)
        per_record = _separators_per_record(chunk, sep, ends, quotes, inside)
        per_record[0] += open_seps
        starts = np.concatenate(([record_start], ends + offset + 1))[: ends.size]
        fields.append(_blank_is_zero(bytes_, starts, ends + offset, per_record[:-1] + 1))
        open_seps, seen = int(per_record[-1]), seen + ends.size
        record_start = int(ends[-1]) + offset + 1 if ends.size else record_start
        inside = inside != bool(quotes.size % 2)
    if record_start < bytes_.size:
        last = np.array([open_seps + 1])
        fields.append(_blank_is_zero(bytes_, np.array([record_start]), np.array([bytes_.size]), last))
    return _Scan(np.concatenate(fields) if fields else np.zeros(0, np.int32), irregular or inside)


_NO_POSITIONS = np.zeros(0, np.int64)


def _outside(positions: np.ndarray, quotes: np.ndarray, inside: bool) -> np.ndarray:
    """The positions outside quotes: an even number of quotes before them, counting the chunk's start state."""
    return positions[(np.searchsorted(quotes, positions) + inside) % 2 == 0]


def _separators_per_record(
    chunk: np.ndarray, sep: int, ends: np.ndarray, quotes: np.ndarray, inside: bool
) -> np.ndarray:
    """Separators outside quotes before each line end of the chunk, and after the last one (carried on).

    All separators are counted between line ends, then those inside each quoted stretch are taken off the
    record the stretch lies in.
    """
    seps = np.flatnonzero(chunk == sep)
    per_record = np.diff(np.concatenate(([0], np.searchsorted(seps, ends), [seps.size])))
    ends_inside = inside != bool(quotes.size % 2)
    if not (quotes.size or inside):
        return per_record
    # Quote positions alternate between a quoted stretch's start and end; the chunk's edges stand in for quotes
    # that opened before it or close after it.
    edges = np.concatenate((np.zeros(int(inside), np.int64), quotes, np.full(int(ends_inside), chunk.size)))
    starts, stops = edges[0::2], edges[1::2]
    quoted_seps = np.searchsorted(seps, stops) - np.searchsorted(seps, starts)
    record = np.searchsorted(ends, starts)
    return per_record - np.bincount(record, weights=quoted_seps, minlength=ends.size + 1).astype(np.int64)


def _stray_quotes(bytes_: np.ndarray, opening: np.ndarray, closing: np.ndarray, sep: int) -> bool:
    """A quote opening mid-value (5" screen) or text after a closing one ("a"b): the csv module must judge."""
    before = bytes_[np.maximum(opening - 1, 0)]
    after = bytes_[np.minimum(closing + 1, bytes_.size - 1)]
    bad_open = (opening > 0) & ~np.isin(before, (sep, _LF, _QUOTE))
    bad_close = (closing + 1 < bytes_.size) & ~np.isin(after, (sep, _LF, _CR, _QUOTE))
    return bool(bad_open.any() or bad_close.any())


def _bare_cr(bytes_: np.ndarray, crs: np.ndarray) -> bool:
    """A CR outside quotes not ending a line (a stray CR, or Windows' doubled CR CR LF): Polars keeps it in values."""
    return bool(((crs + 1 < bytes_.size) & (bytes_[np.minimum(crs + 1, bytes_.size - 1)] != _LF)).any())


def _blank_is_zero(bytes_: np.ndarray, starts: np.ndarray, ends: np.ndarray, fields: np.ndarray) -> np.ndarray:
    length = ends - starts
    lone_cr = (length == 1) & (bytes_[np.minimum(starts, bytes_.size - 1)] == _CR)
    return np.where((length == 0) | lone_cr, 0, fields).astype(np.int32)


def _read_fast(
    data: bytes, delimiter: str, width: int, file_name: str, limits: Limits, notes: list[str]
) -> pl.DataFrame | None:
    """Polars on the whole file, or None when its quoting needs the careful reader."""
    if _zlib_header(data):  # Polars would try to inflate text that starts like zlib ("x^")
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Polars reads on another thread while the scan checks the shape: both release the GIL, and the read is
        # thrown away if the scan finds a shape Polars would get wrong.
        starts_with_record = data[:1] not in (b"\n", b"\r")
        guess = pool.submit(_polars_read, data, delimiter, width, 0) if starts_with_record else None
        scan = _scan(data, delimiter, file_name, limits)
        records = np.flatnonzero(scan.fields)  # the header and the data records, blank lines left out
        if scan.irregular or scan.fields[records[0]] != width or scan.fields.max() > width:
            return None
        _check_rows(records.size - 1, scan.fields.size - records.size, file_name, limits)
        skip = int(records[0])
        frame = guess.result() if guess is not None and skip == 0 else _polars_read(data, delimiter, width, skip)
    if frame is None or frame.height != scan.fields.size - records[0]:
        return None
    short, blank = int((scan.fields[records[1:]] < width).sum()), scan.fields.size - records.size
    _note_shape(short, blank, notes)
    return (frame.filter(pl.Series(scan.fields[records[0] :] > 0)) if blank else frame).slice(1)


def _polars_read(data: bytes, delimiter: str, width: int, skip: int) -> pl.DataFrame | None:
    try:
        return pl.read_csv(
            data, has_header=False, separator=delimiter, quote_char='"', eol_char="\n", comment_prefix=None,
            skip_lines=skip, schema=_text_schema(width), null_values=[""], truncate_ragged_lines=False,
            raise_if_empty=False, try_parse_dates=False, decimal_comma=False,
        )  # fmt: skip
    except pl.exceptions.PolarsError:
        return None


def _read_slow(text: str, delimiter: str, width: int, file_name: str, limits: Limits, notes: list[str]) -> pl.DataFrame:
    """Python's strict csv reader: slower, but says which record breaks the quoting or the header's width."""
    columns: list[list[str | None]] = [[] for _ in range(width)]
    record, short, blank = -1, 0, 0
    rows = _csv_rows(text, delimiter)
    while True:
        line = rows.line_num + 1
        try:
            row = next(rows, None)
        except csv.Error as error:
            where = f"record {record + 1} (from line {line})"
            raise FileRejected(f"{file_name}: {where} cannot be read: {_csv_reason(error)}") from None
        if row is None:
            break
        if not row:
            blank += 1
            continue
        record += 1
        if len(row) > width:
            raise FileRejected(f"{file_name}: record {record} has {len(row)} fields, the header has {width}")
        short += len(row) < width
        if record:
            for column, cell in zip(columns, _pad(row, width), strict=True):
                column.append(cell or None)
    _check_rows(record, blank, file_name, limits)
    _note_shape(short, blank, notes)
    return _text_frame(columns)


def _csv_reason(error: csv.Error) -> str:
    reason = str(error)
    if reason == "unexpected end of data":
        return "a quoted field is never closed"
    if reason.startswith("new-line character seen in unquoted field"):
        return "a carriage return (CR) inside an unquoted value"
    if reason.startswith("field larger than field limit"):
        return f"a field longer than {csv.field_size_limit():,} characters (a quote never closed?)"
    return reason


def _pad(row: list[str], width: int) -> Iterable[str]:
    return row + [""] * (width - len(row))


def _check_rows(records: int, blank: int, file_name: str, limits: Limits, bound: str = "") -> None:
    if records <= 0:
        raise FileRejected(f"{file_name}: has headers but no rows")
    if records > limits.max_rows:
        raise FileRejected(f"{file_name}: {bound}{records:,} records, more than the limit of {limits.max_rows:,}")
    if blank > limits.max_rows:  # each would still cost a row while reading
        raise FileRejected(f"{file_name}: {bound}{blank:,} blank lines, more than the limit of {limits.max_rows:,}")


def _note_shape(short: int, blank: int, notes: list[str]) -> None:
    if short:
        notes.append(f"{_count(short, 'record')} had fewer fields than the header; their missing cells are empty")
    if blank:
        notes.append(f"skipped {_count(blank, 'blank line')} (not counted as records)")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


# --- a CSV from disk in batches ----------------------------------------------------------------------------------


class NotInBatches(Exception):
    """The file needs the whole-file reader (another encoding, a byte-order mark, odd quoting or line endings): not
    an error, the reader that can say what is wrong with it must read it."""


class CsvBatches:
    """A plain UTF-8 CSV file (what :func:`_read_plain_utf8` reads) as :class:`RawTable` batches of at most
    ``batch_rows`` lines each, so that memory follows a batch, not the file.

    Each batch goes through the same scan and Polars read as a whole file: field counts, quoting, UTF-8 and the
    limits are checked batch by batch, and each batch's ``first_record`` keeps record numbers the file's own. A
    file the fast reader would not take raises :class:`NotInBatches` (from the constructor, or from a batch) and
    goes to :func:`read_path`, whose careful reader names the record to fix. After the last batch, ``sha256``,
    ``records`` and :meth:`notes` describe the whole file.
    """

    def __init__(self, path: Path, limits: Limits, batch_rows: int) -> None:
        self.path, self.file_name, self.limits, self.batch_rows = path, path.name, limits, batch_rows
        self.records = self.blank = self.short = 0
        self.sha256 = ""
        start = _bytes_of(path, limits)
        _check_magic(start, self.file_name)
        if start.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in start \
                or _zlib_header(start) or start[:1] in (b"\n", b"\r"):
            raise NotInBatches(self.file_name)
        head = _head(start)
        if not head or head.isspace() or _SEP_LINE.match(head) or _line_endings(head)[1] is not None:
            raise NotInBatches(self.file_name)
        try:
            self.names, self.delimiter = _header(head, self.file_name, None)
        except FileRejected:
            raise NotInBatches(self.file_name) from None
        _check_header(self.names, self.file_name, limits)
        ends = _record_ends(start)
        if not self.names[0] or not ends.size:  # R's row names, or a header longer than the head
            raise NotInBatches(self.file_name)
        self.header_bytes = int(ends[0]) + 1
        self.line_bytes = max(1, len(head) // max(1, head.count("\n")))

    def __iter__(self) -> Iterator[RawTable]:
        digest = hashlib.sha256()
        with self.path.open("rb") as file:
            digest.update(file.read(self.header_bytes))
            pending, done = b"", False
            while not done:
                chunk = file.read(max(1 << 20, self.line_bytes * self.batch_rows))
                digest.update(chunk)
                done, pending = not chunk, pending + chunk
                ends = _record_ends(pending)
                while ends.size >= self.batch_rows or (done and pending):
                    cut = int(ends[self.batch_rows - 1]) + 1 if ends.size >= self.batch_rows else len(pending)
                    batch = self._batch(pending[:cut])
                    # the rest starts at a record, outside quotes: its line ends are the same ones, shifted
                    pending, ends = pending[cut:], ends[ends >= cut] - cut
                    if batch is not None:
                        yield batch
        _check_rows(self.records, self.blank, self.file_name, self.limits)
        self.sha256 = digest.hexdigest()

    def notes(self) -> list[str]:
        notes: list[str] = []
        _note_shape(self.short, self.blank, notes)
        return notes

    def _batch(self, block: bytes) -> RawTable | None:
        width = len(self.names)
        if b"\x00" in block:
            raise NotInBatches(self.file_name)
        with ThreadPoolExecutor(max_workers=1) as pool:  # Polars reads while the scan checks, as _read_fast does
            guess = pool.submit(_polars_read, block, self.delimiter, width, 0) if block[:1] not in b"\r\n" else None
            scan = _scan(block, self.delimiter, self.file_name, self.limits)
        if scan.irregular or scan.fields.max(initial=0) > width:
            raise NotInBatches(self.file_name)
        records = np.flatnonzero(scan.fields)
        blank = scan.fields.size - records.size
        self.blank += blank
        if not records.size:
            return None
        skip = int(records[0])
        frame = guess.result() if guess is not None and skip == 0 else _polars_read(block, self.delimiter, width, skip)
        if frame is None or frame.height != scan.fields.size - skip:
            raise NotInBatches(self.file_name)
        if blank:
            frame = frame.filter(pl.Series(scan.fields[skip:] > 0))
        self.short += int((scan.fields[records] < width).sum())
        first = self.records + 1
        self.records += frame.height
        if self.records > self.limits.max_rows or self.blank > self.limits.max_rows:
            _check_rows(self.records, self.blank, self.file_name, self.limits, "at least ")
        frame = frame.rename(dict(zip(frame.columns, self.names, strict=True)))
        return RawTable(self.file_name, frame, "", "utf-8", self.delimiter, (), first_record=first)


def _bytes_of(path: Path, limits: Limits, size: int | None = 1 << 20) -> bytes:
    """The file's first ``size`` bytes (all with None), once its size is within the limit; what cannot be read
    says why."""
    try:
        if (found := path.stat().st_size) > limits.max_bytes:
            raise FileRejected(f"{path.name}: {found:,} bytes, more than the {limits.max_bytes:,}-byte limit")
        with path.open("rb") as file:
            return file.read(-1 if size is None else size)
    except FileNotFoundError:
        raise FileRejected(f"{path.name}: no such file ({path})") from None
    except IsADirectoryError:
        raise FileRejected(f"{path.name}: is a folder, not a file") from None
    except PermissionError:
        raise FileRejected(f"{path.name}: cannot be read (permission denied)") from None


def _record_ends(data: bytes) -> np.ndarray:
    """Positions of the line ends outside quotes of bytes that start outside quotes."""
    bytes_ = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(bytes_ == _LF)
    if b'"' not in data:
        return ends
    return _outside(ends, np.flatnonzero(bytes_ == _QUOTE), False)


# --- shared header rules ------------------------------------------------------------------------------------------


def _finish(frame: pl.DataFrame, names: list[str], file_name: str, notes: list[str]) -> pl.DataFrame:
    """Drop R's row-name column, or reject a blank first header; name the columns after the header."""
    if names and not names[0]:
        if not _is_row_numbers(frame.get_column(frame.columns[0])):
            raise FileRejected(f"{file_name}: blank header name in column 1")
        frame, names = frame.drop(frame.columns[0]), names[1:]
        notes.append("dropped the unnamed first column of row numbers (R's write.csv row names)")
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _is_row_numbers(values: pl.Series) -> bool:
    return values.null_count() == 0 and bool(values.str.contains(r"^[0-9]+$").all())


# --- XLSX ---------------------------------------------------------------------------------------------------------

_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}  # built-in date/time formats
_CELL_REFERENCE = re.compile(r"\$?([A-Za-z]{1,3})\$?[0-9]*")


def _is_xlsx(content: bytes, file_name: str) -> bool:
    if not file_name.lower().endswith(".xlsx"):
        return False
    if not content.startswith(b"PK\x03\x04"):
        raise FileRejected(f"{file_name}: named .xlsx but is not an Excel workbook (not a zip file)")
    return True


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Parts:
    """The workbook's XML parts, inflated within one budget of bytes. A part's declared size is checked before it is
    opened, and the bytes are counted again as they come, so a lying zip stops at the budget too."""

    def __init__(self, content: bytes, file_name: str, budget: int) -> None:
        self.file_name, self.budget, self.limit = file_name, budget, budget
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(content))
        except zipfile.BadZipFile:
            raise FileRejected(f"{file_name}: a damaged XLSX workbook (not a readable zip)") from None

    def xml(self, name: str) -> ElementTree.Element | None:
        """A small part (workbook, relationships, styles) as a tree; None when the workbook has none."""
        if name not in self.zip.NameToInfo:
            return None
        if self.zip.getinfo(name).file_size > _SMALL_PART_MAX_BYTES:
            raise FileRejected(f"{self.file_name}: {name} unpacks to more than {_SMALL_PART_MAX_BYTES:,} bytes, "
                               "which no spreadsheet writes (zip bomb?)")
        parser = ElementTree.XMLParser()
        for chunk in self.chunks(name):
            self._feed(parser, chunk, name)
        try:
            return parser.close()
        except ElementTree.ParseError as error:
            raise self._damaged(name, error) from None

    def elements(self, name: str, tags: frozenset[str], parent: str) -> Iterator[ElementTree.Element]:
        """Each complete element of the part named in ``tags``, in document order, read as the part is inflated.
        Once the caller asks for the next, the elements before it leave ``parent``: one is held at a time."""
        parser, holder = ElementTree.XMLPullParser(events=("start", "end")), None
        for chunk in self.chunks(name):
            self._feed(parser, chunk, name)
            for event, element in parser.read_events():
                local = _local(element.tag)
                if event == "start":
                    holder = element if local == parent else holder
                elif local in tags:
                    yield element
                    if holder is not None:
                        holder.clear()
        try:
            parser.close()
        except ElementTree.ParseError as error:
            raise self._damaged(name, error) from None

    def chunks(self, name: str) -> Iterator[bytes]:
        info = self.zip.getinfo(name)
        if info.file_size > self.budget:
            raise self._over_budget()
        try:
            with self.zip.open(info) as part:
                chunk = part.read(_INFLATE_CHUNK)
                if b"<!DOCTYPE" in chunk:  # entities are how XML bombs inflate; workbooks never declare any
                    raise FileRejected(f"{self.file_name}: {name} declares a DTD, which workbooks never do")
                while chunk:
                    self.budget -= len(chunk)
                    if self.budget < 0:
                        raise self._over_budget()
                    yield chunk
                    chunk = part.read(_INFLATE_CHUNK)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError) as error:
            raise self._damaged(name, error) from None

    def _feed(self, parser: ElementTree.XMLParser | ElementTree.XMLPullParser, chunk: bytes, name: str) -> None:
        try:
            parser.feed(chunk)
        except ElementTree.ParseError as error:
            raise self._damaged(name, error) from None

    def _damaged(self, name: str, error: Exception) -> FileRejected:
        return FileRejected(f"{self.file_name}: a damaged XLSX workbook ({name}: {error})")

    def _over_budget(self) -> FileRejected:
        return FileRejected(f"{self.file_name}: unpacks to more than {self.limit:,} bytes, the limit for a workbook's "
                            "contents (zip bomb?)")


def _read_xlsx(content: bytes, file_name: str, limits: Limits, notes: list[str], progress: Progress | None = None
               ) -> tuple[list[str], pl.DataFrame]:
    parts = _Parts(content, file_name, limits.max_unpacked_bytes)
    sheet = _first_sheet(parts)
    if sheet not in parts.zip.NameToInfo:
        raise FileRejected(f"{file_name}: an XLSX workbook without a worksheet")
    most = max(0, _count_row_tags(parts, sheet, file_name, limits) - 1)  # the header's row is no record
    shared, dates = _shared_strings(parts), _date_styles(parts)
    rows = _sheet_rows(parts.elements(sheet, _SHEET_TAGS, "sheetData"), shared, dates, file_name, limits)
    header = next((cells for _, cells in rows if cells), {})
    if not header:
        raise FileRejected(f"{file_name}: empty file (the first worksheet has no cells)")
    width = max(header) + 1
    names = [_clean_header(header.get(i) or "") for i in range(width)]
    _check_header(names, file_name, limits)
    frame = _sheet_frame(rows, width, file_name, limits, (lambda done: progress(done, most)) if progress else None)
    _note_dates(dates.columns, names, notes)
    return names, frame


def _count_row_tags(parts: _Parts, sheet: str, file_name: str, limits: Limits) -> int:
    """Refuse, in one pass of byte counts and no XML parsing, a sheet with more rows than a spreadsheet holds or the
    limit lets through (records and as many blank rows): parsing a million rows in Python costs minutes of CPU.
    The count is an upper bound (``<row`` also starts ``<rowBreaks>``), so it only ever stops what is over; it is
    returned, the most rows the sheet may hold."""
    most, budget, rows, tail = min(EXCEL_MAX_ROWS, 2 * limits.max_rows + 1), parts.budget, 0, b""
    for chunk in parts.chunks(sheet):
        window = tail + chunk  # a tag split across two chunks is counted once
        rows += window.count(b"<row") + window.count(b":row") - tail.count(b"<row") - tail.count(b":row")
        tail = chunk[-3:]
        if rows > most + 1:  # one more for <rowBreaks>
            over = ("a spreadsheet holds" if most == EXCEL_MAX_ROWS else
                    f"the limit of {limits.max_rows:,} records and as many blank rows")
            raise FileRejected(f"{file_name}: its sheet has more than {most:,} rows, more than {over}")
    parts.budget = budget  # the rows are counted against the budget again as they are parsed
    return rows


def _sheet_frame(rows: Iterator[tuple[int, dict[int, str]]], width: int, file_name: str, limits: Limits,
                 progress: Callable[[int], None] | None = None) -> pl.DataFrame:
    """The records after the header, counted as they are read: the read stops at the first record over the limit.
    ``progress`` hears the count every ``_PROGRESS_ROWS`` records."""
    columns: list[list[str | None]] = [[] for _ in range(width)]
    chunks, records, blank, flush = [], 0, 0, max(1, _FLUSH_CELLS // width)
    for sheet_row, cells in rows:
        if not cells:
            blank += 1
            _check_rows(max(records, 1), blank, file_name, limits, "at least ")
            continue
        records += 1
        if progress is not None and records % _PROGRESS_ROWS == 0:
            progress(records)
        if records > limits.max_rows:
            _check_rows(records, blank, file_name, limits, "at least ")
        if max(cells) >= width:
            raise FileRejected(
                f"{file_name}: record {records} (sheet row {sheet_row}) has a value in column {max(cells) + 1}, "
                f"the header has {width}"
            )
        for index, column in enumerate(columns):
            column.append(cells.get(index))
        if len(columns[0]) == flush:
            chunks.append(_text_frame(columns))
            columns = [[] for _ in range(width)]
    _check_rows(records, 0, file_name, limits)
    return pl.concat([*chunks, _text_frame(columns)], rechunk=False)


def _first_sheet(parts: _Parts) -> str:
    workbook, rels = parts.xml("xl/workbook.xml"), parts.xml("xl/_rels/workbook.xml.rels")
    sheet = next((e for e in workbook.iter() if _local(e.tag) == "sheet"), None) if workbook is not None else None
    if sheet is None or rels is None:
        return "xl/worksheets/sheet1.xml"
    targets = {e.get("Id"): e.get("Target", "") for e in rels.iter() if _local(e.tag) == "Relationship"}
    # r:id, whichever namespace (transitional or strict OOXML) the writer used
    rel_id = next((value for key, value in sheet.attrib.items() if _local(key) == "id"), None)
    target = targets.get(rel_id, "worksheets/sheet1.xml")
    path = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
    return str(PurePosixPath(*[p for p in PurePosixPath(path).parts if p != "."]))


def _rich_text(element: ElementTree.Element) -> str:
    """Text of an <si> or <is>: its <t> and the <t> of its runs, leaving out phonetic guides (<rPh>)."""
    texts = []
    for child in element:
        if _local(child.tag) == "t":
            texts.append(child.text or "")
        elif _local(child.tag) == "r":
            texts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(texts)


def _shared_strings(parts: _Parts) -> list[str]:
    name = "xl/sharedStrings.xml"
    if name not in parts.zip.NameToInfo:
        return []
    return [_rich_text(si) for si in parts.elements(name, frozenset({"si"}), "sst")]


@dataclass
class _DateStyles:
    styles: set[str]
    columns: set[int]


def _date_styles(parts: _Parts) -> _DateStyles:
    """Cell style indexes whose number format shows a date or time (built-in ids or a custom d/m/y/h/s format)."""
    styles = parts.xml("xl/styles.xml")
    if styles is None:
        return _DateStyles(set(), set())
    custom = {e.get("numFmtId", "") for e in styles.iter() if _local(e.tag) == "numFmt" and _is_date_format(e)}
    xfs = next((e for e in styles.iter() if _local(e.tag) == "cellXfs"), [])
    date_ids = {str(i) for i in _DATE_FORMAT_IDS | custom}
    return _DateStyles({str(i) for i, xf in enumerate(xfs) if xf.get("numFmtId", "0") in date_ids}, set())


def _is_date_format(numfmt: ElementTree.Element) -> bool:
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", numfmt.get("formatCode", "")).lower()
    return bool(re.search(r"[dmyhs]", code))


_SHEET_TAGS = frozenset({"dimension", "row"})


def _sheet_rows(
    elements: Iterator[ElementTree.Element], shared: list[str], dates: _DateStyles, file_name: str, limits: Limits
) -> Iterator[tuple[int, dict[int, str]]]:
    """(sheet row number, {0-based column: text}) for each row, blank ones included; cells placed by their
    reference. A sheet declaring more rows than the limit, or a row or cell no spreadsheet could hold, stops here."""
    row_number = 0
    for row in elements:
        if _local(row.tag) == "dimension":
            _check_dimension(row.get("ref", ""), file_name, limits)
            continue
        row_number = int(row.get("r", "")) if row.get("r", "").isdigit() else row_number + 1
        if row_number > EXCEL_MAX_ROWS or len(row) > EXCEL_MAX_COLUMNS:
            raise FileRejected(f"{file_name}: sheet row {row_number:,} has more rows above it or cells in it than a "
                               f"spreadsheet holds ({EXCEL_MAX_ROWS:,} rows of {EXCEL_MAX_COLUMNS:,} cells)")
        yield row_number, _row_cells(row, shared, dates, file_name)


def _row_cells(row: ElementTree.Element, shared: list[str], dates: _DateStyles, file_name: str) -> dict[int, str]:
    cells: dict[int, str] = {}
    column = -1
    for cell in row:
        if _local(cell.tag) != "c":
            continue
        column = _column_index(cell.get("r"), file_name) if cell.get("r") else column + 1
        text = _cell_text(cell, shared, file_name)
        if text:
            if cell.get("t", "n") == "n" and cell.get("s") in dates.styles:
                dates.columns.add(column)
                text = _excel_date_text(text)
            cells[column] = text
    return cells


def _check_dimension(reference: str, file_name: str, limits: Limits) -> None:
    """Refuse at once a sheet whose declared range (``A1:C2740001``) holds more rows than the limit allows; a sheet
    declaring less is still counted as it is read, since the declaration may lie."""
    first, _, last = reference.partition(":")
    numbers = [int(digits) for digits in re.findall(r"[0-9]+", f"{first}:{last or first}")[:2]]
    if len(numbers) == 2 and numbers[1] - numbers[0] > limits.max_rows:
        raise FileRejected(f"{file_name}: its sheet declares rows {numbers[0]:,} to {numbers[1]:,} ({reference}), "
                           f"more than the limit of {limits.max_rows:,} records")


def _column_index(reference: str, file_name: str) -> int:
    """0-based column of a reference such as "C7" (C -> 2)."""
    match = _CELL_REFERENCE.fullmatch(reference)
    if not match:
        raise FileRejected(f"{file_name}: a damaged XLSX workbook (cell reference {reference!r})")
    index = 0
    for letter in match.group(1).upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cell_text(cell: ElementTree.Element, shared: list[str], file_name: str) -> str | None:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((e for e in cell if _local(e.tag) == "is"), None)
        return None if inline is None else _rich_text(inline)
    value = next((e.text for e in cell if _local(e.tag) == "v"), None)
    if value is None:
        return None
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            raise FileRejected(f"{file_name}: cell {cell.get('r')} points to a missing shared string") from None
    if kind == "b":
        return "TRUE" if value.strip() == "1" else "FALSE"
    return value


def _excel_date_text(serial: str) -> str:
    """An Excel date cell (days since 1899-12-30, the fraction the time of day) as ISO text, like a CSV export."""
    try:
        moment = _EXCEL_EPOCH + timedelta(seconds=round(float(serial) * 86_400))
    except (ValueError, OverflowError):
        return serial
    return moment.strftime("%Y-%m-%d") if moment.time() == time(0) else moment.strftime("%Y-%m-%d %H:%M:%S")


def _note_dates(columns: set[int], names: list[str], notes: list[str]) -> None:
    if columns:
        listed = ", ".join(repr(names[i]) for i in sorted(columns))
        notes.append(f"dates in {listed} are Excel date cells, read as YYYY-MM-DD HH:MM:SS in the sheet's own clock")
