"""The shared first stage of an import: bytes in, text cells out, or one clear line saying why not."""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import random
import zipfile
import zlib
from pathlib import Path

import polars as pl
import pytest

from data import raw_tables
from data.basics import ImportRejected
from data.raw_tables import FileRejected, Limits, RawTable, header_lookup, read_path, read_table
from settings import Settings

FILES = Path(__file__).resolve().parent / "fixtures" / "files"
LIMITS = Limits(max_bytes=10_000_000, max_rows=2_000_000, max_columns=300)


def read(content: bytes, name: str = "export.csv", limits: Limits = LIMITS) -> RawTable:
    return read_table(content, name, limits)


def rejected(content: bytes, name: str = "export.csv", limits: Limits = LIMITS) -> str:
    """The rejection's message, checked to be one line starting with the file name."""
    with pytest.raises(FileRejected) as caught:
        read_table(content, name, limits)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    return message


def rows(table: RawTable) -> list[tuple[str | None, ...]]:
    return table.frame.rows()


# --- API ----------------------------------------------------------------------------------------------------------


def test_raw_tables_raw_table_is_text_cells_with_the_files_identity() -> None:
    content = b"Ticket ID,Status\n1,open\n2,solved\n"
    table = read(content, "tickets.csv")
    assert table.file_name == "tickets.csv"
    assert table.sha256 == hashlib.sha256(content).hexdigest()
    assert (table.encoding, table.delimiter, table.notes) == ("utf-8", ",", ())
    assert table.frame.columns == ["Ticket ID", "Status"]
    assert set(table.frame.dtypes) == {pl.String}
    assert rows(table) == [("1", "open"), ("2", "solved")]


def test_raw_tables_rejection_is_an_import_rejection() -> None:
    assert issubclass(FileRejected, ImportRejected)


def test_raw_tables_limits_come_from_settings() -> None:
    settings = Settings(upload_max_bytes=1000, upload_max_rows=20, upload_max_columns=3)
    assert Limits.from_settings(settings) == Limits(max_bytes=1000, max_rows=20, max_columns=3)


def test_raw_tables_header_lookup_ignores_case_and_spacing() -> None:
    frame = read(b"Ticket  ID,STATUS,Created time\n1,open,x\n").frame
    lookup = header_lookup(frame)
    assert lookup == {"ticket id": "Ticket  ID", "status": "STATUS", "created time": "Created time"}


# --- 1. size ------------------------------------------------------------------------------------------------------


def test_raw_tables_rejects_more_bytes_than_the_limit_before_anything_else() -> None:
    content = gzip.compress(b"a,b\n" * 100)  # would also be rejected as gzip: the size is checked first
    message = rejected(content, "big.csv", Limits(max_bytes=10, max_rows=10, max_columns=10))
    assert f"{len(content):,} bytes" in message
    assert "10-byte limit" in message


def test_raw_tables_read_path_checks_the_size_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n1,2\n" * 100)
    with pytest.raises(FileRejected, match=r"^big\.csv: 800 bytes, more than the 100-byte limit"):
        read_path(path, Limits(max_bytes=100, max_rows=10, max_columns=10))


# --- 2. magic bytes -----------------------------------------------------------------------------------------------


def _zip_of_csv() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("orders.csv", "a,b\n1,2\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("gzip", gzip.compress(b"a,b\n1,2\n" * 1000)),
        ("zstd", b"\x28\xb5\x2f\xfd" + b"\x00" * 20),
        ("zip", _zip_of_csv()),
        ("bzip2", bz2.compress(b"a,b\n1,2\n")),
        ("7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 20),
        ("xz", lzma.compress(b"a,b\n1,2\n")),
        ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
        ("zlib", zlib.compress(b"a,b\n1,2\n" * 1000)),
        ("Excel 97-2003", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20),
    ],
)
def test_raw_tables_rejects_compressed_and_binary_files_by_magic_bytes(kind: str, content: bytes) -> None:
    message = rejected(content, "orders.csv")
    assert "compressed/binary, not CSV: unpack it first" in message
    assert f"(it is a {kind}" in message


def test_raw_tables_text_that_starts_like_a_zlib_header_is_still_text() -> None:
    # "x^" is a valid zlib header; Polars would inflate it, so such a file takes the careful reader.
    assert rows(read(b"x^2,y\n1,2\n")) == [("1", "2")]


# --- 3. encodings -------------------------------------------------------------------------------------------------


def test_raw_tables_utf8_with_bom_is_utf8_sig_and_headers_lose_the_bom() -> None:
    table = read(codecs.BOM_UTF8 + "Name,Café\n1,crème\n".encode())
    assert table.encoding == "utf-8-sig"
    assert table.frame.columns == ["Name", "Café"]
    assert rows(table) == [("1", "crème")]


def test_raw_tables_plain_utf8_is_read_as_is() -> None:
    table = read("name,city\nJoão,São Paulo\n😀,東京\n".encode())
    assert (table.encoding, table.notes) == ("utf-8", ())
    assert rows(table) == [("João", "São Paulo"), ("😀", "東京")]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_raw_tables_utf16_with_bom_is_decoded_and_noted(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    table = read(bom + "Ticket,Note\r\n1,café €\r\n".encode(codec))
    assert table.encoding == "utf-16"
    assert table.frame.columns == ["Ticket", "Note"]
    assert rows(table) == [("1", "café €")]
    assert "decoded as UTF-16" in table.notes


def test_raw_tables_rejects_nul_bytes_without_a_utf16_bom() -> None:
    assert "NUL bytes" in rejected("a,b\n1,2\n".encode("utf-16-le"))
    assert "binary" in rejected(b"a,b\n1,\x002\n")


def test_raw_tables_invalid_utf8_is_decoded_as_windows_1252() -> None:
    table = read("product,price\ncafé,€12\n“quoted”,–\n".encode("cp1252"))
    assert table.encoding == "windows-1252"
    assert any(note.startswith("decoded as Windows-1252") for note in table.notes)
    assert rows(table) == [("café", "€12"), ("“quoted”", "–")]


def test_raw_tables_windows_1252_past_the_first_megabyte_is_still_found() -> None:
    # The first lines are read as text and the rest left to Polars, which refuses the 0xE9 two megabytes in.
    body = b"".join(b"%d,plain ascii\n" % n for n in range(150_000))
    table = read(b"id,text\n" + body + b"150000,caf\xe9\n")
    assert table.encoding == "windows-1252"
    assert any(note.startswith("decoded as Windows-1252") for note in table.notes)
    assert table.frame.height == 150_001 and table.frame["text"][-1] == "café"


def test_raw_tables_windows_1252_never_uses_replacement_characters() -> None:
    # 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined in Windows-1252: kept as their code points, like browsers do.
    table = read(b"a,b\nx\x81\x8d\x8f\x90\x9dy,\xe9\n")
    assert rows(table) == [("x\x81\x8d\x8f\x90\x9dy", "é")]
    assert "\ufffd" not in str(rows(table))


def test_raw_tables_rejects_a_utf8_bom_on_invalid_utf8() -> None:
    assert "not valid UTF-8 at byte 12" in rejected(codecs.BOM_UTF8 + b"a,b\n1,caf\xe9\n")


# --- 4. line endings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_raw_tables_lf_crlf_and_cr_only_line_endings_give_the_same_records(eol: str) -> None:
    text = eol.join(["id,status,note", "1,open,a", "2,solved,", "3,pending,c", ""])
    table = read(text.encode())
    assert rows(table) == [("1", "open", "a"), ("2", "solved", None), ("3", "pending", "c")]
    assert ("CR-only line endings read as lines" in table.notes) == (eol == "\r")


def test_raw_tables_doubled_cr_line_endings_are_line_ends() -> None:
    # Text written twice through Windows newline translation ends its lines in CR CR LF.
    table = read(b'id,note\r\r\n1,"a\r\nb"\r\r\n2,x\r\r\n')
    assert rows(table) == [("1", "a\r\nb"), ("2", "x")]
    assert "CR CR LF line endings read as lines" in table.notes


def test_raw_tables_rejects_a_stray_cr_inside_an_unquoted_value() -> None:
    message = rejected(b"id,note\n1,a\rb\n")
    assert message.endswith("record 1 (from line 2) cannot be read: a carriage return (CR) inside an unquoted value")


def test_raw_tables_cr_only_keeps_newlines_inside_quoted_values() -> None:
    table = read(b'id,note\r1,"line one\rline two"\r2,x\r')
    assert rows(table) == [("1", "line one\rline two"), ("2", "x")]


def test_raw_tables_crlf_inside_quoted_fields_of_an_lf_file_is_kept_as_crlf() -> None:
    table = read(b'id,note\n1,"first\r\nsecond"\n2,"a\nb"\n3,plain\n')
    assert rows(table) == [("1", "first\r\nsecond"), ("2", "a\nb"), ("3", "plain")]


def test_raw_tables_quoted_newlines_delimiters_and_quotes_stay_in_their_values() -> None:
    table = read_path(FILES / "helpdesk_quoted_newlines.csv", LIMITS)
    assert table.frame.height == 4
    assert rows(table)[0] == ("1", "Late parcel", 'Ordered on Monday,\nstill nothing.\nPlease "help".', "Open")
    assert rows(table)[3] == ("4", "Multi\nline subject", None, "Pending")


def test_raw_tables_blank_lines_are_skipped_and_noted() -> None:
    table = read(b"\na,b\n1,2\n\n\r\n3,4\n\n")
    assert rows(table) == [("1", "2"), ("3", "4")]
    assert "skipped 4 blank lines (not counted as records)" in table.notes


# --- 5. delimiter -------------------------------------------------------------------------------------------------


def test_raw_tables_semicolon_file_keeps_decimal_commas_as_text() -> None:
    table = read_path(FILES / "semicolon_decimal_comma.csv", LIMITS)
    assert table.delimiter == ";"
    assert table.frame.columns == ["Bestellung", "Betrag", "Versand", "Notiz"]
    assert rows(table) == [
        ("1001", "12,50", "4,90", "Tür; Griff"),
        ("1002", "1.234,00", "0,00", None),
        ("1003", "-3,10", None, "Zeile eins\nZeile zwei"),
    ]


def test_raw_tables_tab_delimiter_is_detected() -> None:
    table = read(b"id\tamount, EUR\tnote\n1\t3,50\ta; b\n")
    assert table.delimiter == "\t"
    assert rows(table) == [("1", "3,50", "a; b")]


def test_raw_tables_delimiter_detection_respects_quotes() -> None:
    # Outside quotes the header has 2 commas and 1 semicolon; inside them, 4 semicolons that must not count.
    table = read(b'"a;b;c",d;e,"f;g;h"\n1,2,3\n')
    assert table.delimiter == ","
    assert table.frame.columns == ["a;b;c", "d;e", "f;g;h"]


def test_raw_tables_excel_sep_line_names_the_delimiter() -> None:
    table = read(b"sep=;\nid;amount,net\n1;2,5\n")
    assert table.delimiter == ";"
    assert rows(table) == [("1", "2,5")]
    assert any("sep=;" in note for note in table.notes)


# --- 6. headers ---------------------------------------------------------------------------------------------------


def test_raw_tables_headers_are_stripped_but_keep_case_and_order() -> None:
    table = read(b" Zeta ,\talpha\t,Mid Dle\n1,2,3\n")
    assert table.frame.columns == ["Zeta", "alpha", "Mid Dle"]


def test_raw_tables_rejects_duplicate_headers_ignoring_case() -> None:
    message = rejected(b"id,Email,name,EMAIL ,id\n1,2,3,4,5\n")
    assert "duplicate header names" in message
    assert "'id' (columns 1, 5)" in message
    assert "'Email' (columns 2, 4)" in message


def test_raw_tables_rejects_blank_headers_naming_their_positions() -> None:
    assert rejected(b"id,, ,name\n1,2,3,4\n").endswith("blank header names in columns 2, 3")


def test_raw_tables_drops_r_row_names_in_a_blank_first_column() -> None:
    table = read_path(FILES / "r_write_csv.csv", LIMITS)
    assert table.frame.columns == ["ticket_id", "channel", "first_reply_minutes"]
    assert rows(table) == [("T1", "email", "30"), ("T2", "chat", "NA"), ("T5", "email", "120")]
    assert "dropped the unnamed first column of row numbers (R's write.csv row names)" in table.notes


@pytest.mark.parametrize("first", ["a", "", "1.5"])
def test_raw_tables_rejects_a_blank_first_header_over_values_that_are_not_row_numbers(first: str) -> None:
    assert rejected(f",id\n{first},x\n2,y\n".encode()).endswith("blank header name in column 1")


@pytest.mark.parametrize("content", [b"", b"   ", b"\n\n\r\n", b" \t \r\n  \n", codecs.BOM_UTF8, b"sep=,\n"])
def test_raw_tables_rejects_an_empty_file(content: bytes) -> None:
    assert rejected(content).endswith("empty file")


@pytest.mark.parametrize("content", [b"id,status", b"id,status\n", b"id,status\r\n\r\n"])
def test_raw_tables_rejects_a_header_without_rows(content: bytes) -> None:
    assert rejected(content).endswith("has headers but no rows")


# --- 7. ragged rows -----------------------------------------------------------------------------------------------


def test_raw_tables_rejects_a_record_with_more_fields_than_the_header() -> None:
    content = b'id,note,status\n1,"two\nlines",open\n2,x,open,extra,more\n3,y,open\n'
    assert rejected(content, "orders.csv") == "orders.csv: record 2 has 5 fields, the header has 3"


def test_raw_tables_rejects_a_trailing_delimiter_as_an_extra_field() -> None:
    assert rejected(b"a,b\n1,2\n3,4,\n").endswith("record 2 has 3 fields, the header has 2")


def test_raw_tables_short_records_get_null_trailing_cells_and_a_note() -> None:
    table = read(b"id,status,note\n1,open\n2,open,x\n3\n4,,\n")
    assert rows(table) == [("1", "open", None), ("2", "open", "x"), ("3", None, None), ("4", None, None)]
    assert "2 records had fewer fields than the header; their missing cells are empty" in table.notes


def test_raw_tables_rejects_a_quote_that_is_never_closed() -> None:
    message = rejected(b'id,note\n1,ok\n2,"never closed\n3,x\n')
    assert message.endswith("record 2 (from line 3) cannot be read: a quoted field is never closed")


def test_raw_tables_rejects_text_after_a_closing_quote() -> None:
    assert "record 1 (from line 2) cannot be read" in rejected(b'id,note\n1,"quoted"tail\n')
    assert "the header (record 0) cannot be read" in rejected(b'id,"note\n1,2\n')


def test_raw_tables_a_quote_inside_an_unquoted_value_is_literal() -> None:
    # Polars refuses this; the careful reader takes the quote as text, as spreadsheets do.
    table = read(b'sku,title\n1,5" screen\n2,"12"" ruler"\n3,plain\n')
    assert rows(table) == [("1", '5" screen'), ("2", '12" ruler'), ("3", "plain")]


def test_raw_tables_fast_and_careful_readers_agree() -> None:
    for path in sorted(FILES.glob("*.csv")):
        text = path.read_text(encoding="utf-8")
        names, delimiter = raw_tables._header(text, path.name, None)
        fast = raw_tables._read_fast(text.encode(), delimiter, len(names), path.name, LIMITS, [])
        careful = raw_tables._read_slow(text, delimiter, len(names), path.name, LIMITS, [])
        assert fast is not None
        assert fast.equals(careful), path.name


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_raw_tables_scan_carries_quotes_and_records_across_chunks(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    content = (FILES / "helpdesk_quoted_newlines.csv").read_bytes() + b'5,"a,""b""\r\nc",,Open\n\n6'
    expected = read(content)
    monkeypatch.setattr(raw_tables, "_SCAN_CHUNK", chunk)
    again = read(content)
    assert again.frame.equals(expected.frame)
    assert again.notes == expected.notes
    assert again.frame.height == 6


# --- 8. limits ----------------------------------------------------------------------------------------------------


def test_raw_tables_rejects_more_records_than_the_limit() -> None:
    content = b"id\n" + b"".join(b"%d\n" % i for i in range(6))
    assert read(content, limits=Limits(1000, 6, 10)).frame.height == 6
    assert rejected(content, limits=Limits(1000, 5, 10)).endswith("6 records, more than the limit of 5")


def test_raw_tables_rejects_more_columns_than_the_limit() -> None:
    content = b"a,b,c,d\n1,2,3,4\n"
    assert read(content, limits=Limits(1000, 10, 4)).frame.width == 4
    assert rejected(content, limits=Limits(1000, 10, 3)).endswith("4 columns, more than the limit of 3")


def test_raw_tables_rejects_a_flood_of_blank_lines() -> None:
    assert "6 blank lines, more than the limit of 5" in rejected(b"id\n1\n" + b"\n" * 6, limits=Limits(1000, 5, 10))


def test_raw_tables_stops_scanning_once_over_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_tables, "_SCAN_CHUNK", 4)
    flood = rejected(b"id\n1\n" + b"\n" * 1000, limits=Limits(10_000, 5, 10))
    assert "at least " in flood
    assert "blank lines, more than the limit of 5" in flood
    many = rejected(b"id\n" + b"1\n" * 1000, limits=Limits(10_000, 5, 10))
    assert "at least " in many
    assert "records, more than the limit of 5" in many


# --- 9. values as exported ----------------------------------------------------------------------------------------


def test_raw_tables_values_stay_byte_identical_text() -> None:
    table = read_path(FILES / "values_as_exported.csv", LIMITS)
    assert rows(table) == [
        ("00123", "'10022", "=SUM(A1)", "NA", None, None),
        ("07001", "+1 555 0100", "<b>x</b>", "N/A", None, None),
        ("0", "-5", "'; DROP TABLE tickets; --", "null", None, None),
        ("00000", " padded ", "@cmd", "None", None, None),
    ]


# --- 10. large files ----------------------------------------------------------------------------------------------


def test_raw_tables_reads_a_million_row_file_correctly() -> None:
    n = 1_000_000
    index = pl.col("index")
    expected = pl.DataFrame({"index": pl.int_range(n, eager=True)}).select(
        *[(index * (i + 1)).cast(pl.String).alias(f"c{i}") for i in range(8)],
        zip=pl.format("0{}", index % 1000),
        note=pl.when(index % 997 == 0).then(pl.lit('said "hi",\nthen left')).otherwise(pl.lit("plain")),
    )
    buffer = io.BytesIO()
    expected.write_csv(buffer)
    table = read(buffer.getvalue(), "big.csv", Limits(500_000_000, n, 10))
    assert table.frame.shape == (n, 10)
    assert table.frame.equals(expected)
    assert table.notes == ()


# --- 11. read_path ------------------------------------------------------------------------------------------------


def test_raw_tables_read_path_of_a_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match=r"^gone\.csv: no such file"):
        read_path(tmp_path / "gone.csv", LIMITS)


def test_raw_tables_read_path_names_the_table_after_the_file() -> None:
    table = read_path(str(FILES / "values_as_exported.csv"), LIMITS)
    assert table.file_name == "values_as_exported.csv"
    assert table.sha256 == hashlib.sha256((FILES / "values_as_exported.csv").read_bytes()).hexdigest()


# --- 12. XLSX -----------------------------------------------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
WORKSHEET = f"{RELS}/worksheet"


def sheet_xml(rows_xml: str) -> str:
    return f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>{rows_xml}</sheetData></worksheet>'


def xlsx(first_sheet: str, shared: tuple[str, ...] = (), styles: str = "", other_sheet: str = "") -> bytes:
    """A minimal workbook; its first sheet is stored as sheet2.xml so the relationships must be followed."""
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "_rels/.rels": f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
        '<sheet name="Tickets" sheetId="1" r:id="rId7"/><sheet name="Other" sheetId="2" r:id="rId3"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PACKAGE_RELS}">'
        f'<Relationship Id="rId3" Type="{WORKSHEET}" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId7" Type="{WORKSHEET}" Target="/xl/worksheets/sheet2.xml"/></Relationships>',
        "xl/worksheets/sheet2.xml": first_sheet,
        "xl/worksheets/sheet1.xml": other_sheet or sheet_xml('<row r="1"><c r="A1"><v>999</v></c></row>'),
    }
    if shared:
        items = "".join(f'<si><t xml:space="preserve">{text}</t></si>' for text in shared)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">{items}</sst>'
    if styles:
        parts["xl/styles.xml"] = styles
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


STYLES = (
    f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/></numFmts>'
    '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>'
)

TICKETS = sheet_xml(
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>Created</t></is></c>'
    '<c r="C1" t="s"><v>1</v></c><c r="D1" t="s"><v>2</v></c><c r="E1" t="s"><v>3</v></c>'
    '<c r="F1" t="s"><v>6</v></c></row>'
    '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" s="1"><v>45292</v></c><c r="C2"><v>12.5</v></c>'
    '<c r="D2" t="b"><v>1</v></c><c r="E2" t="inlineStr"><is><r><t xml:space="preserve">Hello </t></r>'
    '<r><rPr><b/></rPr><t>world</t></r><rPh><t>ハロー</t></rPh></is></c><c r="F2" s="2"><v>45292.5</v></c></row>'
    '<row r="4"><c r="A4" t="str"><v>T2</v></c><c r="C4"><v>-3</v></c><c r="D4" t="b"><v>0</v></c><c r="E4" s="1"/>'
    '<c r="F4" t="e"><v>#N/A</v></c></row>'
    '<row r="5"><c t="s"><v>5</v></c><c><v>1.5E-3</v></c></row>'
    '<row r="6"><c r="B6" t="s"><v>7</v></c></row>'
)
TICKET_STRINGS = ("Ticket ID", "Amount", "Paid", "Note", "00123", "'=SUM(A1)", "Due", "")


def test_raw_tables_xlsx_reads_the_first_worksheet_as_text() -> None:
    table = read(xlsx(TICKETS, TICKET_STRINGS, STYLES), "tickets.xlsx")
    assert (table.delimiter, table.encoding) == ("xlsx", "utf-8")
    assert table.frame.columns == ["Ticket ID", "Created", "Amount", "Paid", "Note", "Due"]
    assert set(table.frame.dtypes) == {pl.String}
    assert rows(table) == [
        ("00123", "2024-01-01", "12.5", "TRUE", "Hello world", "2024-01-01 12:00:00"),  # date cells as dates
        ("T2", None, "-3", "FALSE", None, "#N/A"),
        ("'=SUM(A1)", "1.5E-3", None, None, None, None),
    ]


def test_raw_tables_xlsx_reads_date_cells_as_iso_text_and_says_so() -> None:
    # Excel stores dates as days since 1899-12-30: 45292 is 2024-01-01, .5 is noon.
    table = read(xlsx(TICKETS, TICKET_STRINGS, STYLES), "tickets.xlsx")
    assert any("'Created', 'Due'" in note and "Excel date cells" in note for note in table.notes)


def test_raw_tables_xlsx_applies_the_header_checks() -> None:
    duplicate = sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c><c r="B1" t="inlineStr"><is><t>email</t></is>'
        '</c></row><row r="2"><c r="A2"><v>1</v></c></row>'
    )
    assert "'Email' (columns 1, 2)" in rejected(xlsx(duplicate), "t.xlsx")
    gap = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="C1" t="inlineStr"><is><t>c</t>'
                    '</is></c></row><row r="2"><c r="A2"><v>1</v></c></row>')  # fmt: skip
    assert rejected(xlsx(gap), "t.xlsx").endswith("blank header name in column 2")
    header_only = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>')
    assert rejected(xlsx(header_only), "t.xlsx").endswith("has headers but no rows")
    assert rejected(xlsx(sheet_xml("")), "t.xlsx").endswith("empty file (the first worksheet has no cells)")


def test_raw_tables_xlsx_rejects_a_value_beyond_the_header() -> None:
    wide = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
                     '<row r="3"><c r="A3"><v>1</v></c><c r="D3"><v>2</v></c></row>')  # fmt: skip
    assert rejected(xlsx(wide), "t.xlsx").endswith("record 1 (sheet row 3) has a value in column 4, the header has 1")


def test_raw_tables_xlsx_applies_the_limits() -> None:
    three = sheet_xml("".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>0</v></c></row>'
                              for r in range(1, 5)))  # fmt: skip
    assert read(xlsx(three), "t.xlsx", Limits(100_000, 3, 2)).frame.shape == (3, 2)
    assert rejected(xlsx(three), "t.xlsx", Limits(100_000, 2, 2)).endswith("3 records, more than the limit of 2")
    assert rejected(xlsx(three), "t.xlsx", Limits(100_000, 3, 1)).endswith("2 columns, more than the limit of 1")


def test_raw_tables_xlsx_refuses_a_zip_bomb() -> None:
    padding = " " * 3_000_000  # deflates to a few kilobytes
    bomb = xlsx(sheet_xml(f'<row r="1"><c r="A1"><v>1</v></c></row>{padding}'))
    limits = Limits(max_bytes=100_000, max_rows=10, max_columns=10, max_unpacked_bytes=1_000_000)
    assert len(bomb) < limits.max_bytes
    assert "unpacks to more than 1,000,000 bytes, the limit" in rejected(bomb, "bomb.xlsx", limits)


def test_raw_tables_xlsx_refuses_xml_entities() -> None:
    sheet = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaa">]><worksheet xmlns="{MAIN}"/>'
    assert "declares a DTD" in rejected(xlsx(sheet), "t.xlsx")


def test_raw_tables_xlsx_that_is_not_a_workbook_is_rejected() -> None:
    assert "not an Excel workbook" in rejected(b"a,b\n1,2\n", "t.xlsx")
    assert "a damaged XLSX workbook" in rejected(b"PK\x03\x04" + b"\x00" * 40, "t.xlsx")
    no_sheet = io.BytesIO()
    with zipfile.ZipFile(no_sheet, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert rejected(no_sheet.getvalue(), "t.xlsx").endswith("an XLSX workbook without a worksheet")


def test_raw_tables_fast_reader_agrees_with_the_csv_module_on_random_files() -> None:
    # Seeded random files of fields with commas, quotes, doubled quotes, CRLF and quoted newlines, read by both
    # readers whenever the fast one accepts the file; the fast one must never disagree.
    rng = random.Random(20261123)
    pieces = ["a", "bc", " ", ",", '""', "\r\n", "\n", "x y"]
    compared = 0
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(1, 6)):
            cells = []
            for _ in range(3):
                text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))
                cells.append(f'"{text}"' if any(c in text for c in ',"\r\n') else text)
            lines.append(",".join(cells))
        text = "h1,h2,h3\n" + "\n".join(lines) + "\n"
        fast = raw_tables._read_fast(text.encode(), ",", 3, "random.csv", LIMITS, [])
        if fast is None:
            continue
        careful = raw_tables._read_slow(text, ",", 3, "random.csv", LIMITS, [])
        assert fast.equals(careful), text
        compared += 1
    assert compared > 200
