"""bot.imports: files of codes as shops really send them (Excel, Notepad, other bots' exports)."""

from __future__ import annotations

import codecs

import pytest
from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from parcels import s10

from bot.core.codefile import (
    EXTRA_ROWS_EXAMINED,
    MAX_IMPORT_BYTES,
    MAX_REJECTED_ROWS,
    ParsedImport,
    RejectedRow,
    RowRefusal,
    parse_import,
)
from bot.core.codes import Entry
from bot.core.textfile import FileProblem, UnreadableFile, choose_delimiter

S10 = "RR123456785IT"
S10_TYPO = "RR123456784IT"
NUMERIC = "123456789012"
SDA = "3UW1CEG000511"


def parse(text: str | bytes, max_codes: int = 500) -> ParsedImport:
    data = text.encode() if isinstance(text, str) else text
    return parse_import(data, max_codes=max_codes)


def entry(code: str, label: str | None = None, courier: str = "poste-italiane") -> Entry:
    return Entry(code, courier, label)


def problem(text: str | bytes) -> tuple[FileProblem, int]:
    with pytest.raises(UnreadableFile) as caught:
        parse(text)
    return caught.value.problem, caught.value.row


# --- columns and headers -----------------------------------------------------------------


def test_header_in_any_order_and_case_with_semicolons() -> None:
    parsed = parse(f"Corriere;ETICHETTA;Codice\nitaly-sda;Scarpe;{SDA}\n;Borsa;{S10}\n")
    assert parsed.entries == (
        entry(SDA, "Scarpe", "italy-sda"),
        entry(S10, "Borsa"),
    )
    assert parsed.rejected == ()


@pytest.mark.parametrize(
    "header",
    [
        "code,label,courier",
        "tracking_number,name,courier_code",
        "Tracking Number,Name,Courier Code",
        "tracking,nome,corriere",
        '"codice","etichetta","corriere"',
    ],
)
def test_header_aliases(header: str) -> None:
    parsed = parse(f"{header}\n{S10},Mario,poste-italiane\n")
    assert parsed.entries == (entry(S10, "Mario"),)


def test_without_header_the_columns_are_code_label_courier() -> None:
    parsed = parse(f"{S10};Regalo;\n{SDA};Scarpe;italy-sda\n{NUMERIC}\n")
    assert parsed.entries == (
        entry(S10, "Regalo"),
        entry(SDA, "Scarpe", "italy-sda"),
        entry(NUMERIC),
    )


def test_header_naming_only_the_code_ignores_other_columns() -> None:
    parsed = parse(f"ordine;tracking;importo\n1001;{S10};12,50\n")
    assert parsed.entries == (entry(S10),)


def test_header_naming_label_and_courier_takes_the_code_from_the_first_other_column() -> None:
    parsed = parse(f"numero,nome,vettore\n{SDA},Scarpe,italy-sda\n")
    assert parsed.entries == (entry(SDA, "Scarpe", "italy-sda"),)


def test_unknown_header_without_digits_is_skipped_and_columns_are_positional() -> None:
    parsed = parse(f"Spedizione;Descrizione\n{S10};Regalo\n")
    assert parsed.entries == (entry(S10, "Regalo"),)
    assert parsed.rejected == ()


def test_a_data_row_with_a_column_name_in_it_is_not_a_header() -> None:
    parsed = parse(f"{S10},name\n{SDA},other\n")
    assert parsed.entries == (entry(S10, "name"), entry(SDA, "other"))


# --- delimiters, quoting, encodings ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_each_delimiter(delimiter: str) -> None:
    rows = ["code", "label", "courier"], [S10, "Regalo", ""], [SDA, "Scarpe", "italy-sda"]
    text = "\n".join(delimiter.join(row) for row in rows)
    assert choose_delimiter(text) == delimiter
    assert parse(text).entries == (entry(S10, "Regalo"), entry(SDA, "Scarpe", "italy-sda"))


def test_quoted_fields_may_hold_the_delimiter_quotes_and_line_breaks() -> None:
    text = f'code;label\n{S10};"Rossi; Mario ""il grande"""\n{SDA};"due\nrighe"\n{NUMERIC};fine\n'
    parsed = parse(text)
    assert parsed.entries == (
        entry(S10, 'Rossi; Mario "il grande"'),
        entry(SDA, "due righe"),
        entry(NUMERIC, "fine"),
    )


def test_semicolon_file_whose_labels_have_commas() -> None:
    text = f"{S10};Rossi, Mario\n{SDA};Bianchi, Anna, Milano\n"
    assert choose_delimiter(text) == ";"
    assert parse(text).entries == (entry(S10, "Rossi, Mario"), entry(SDA, "Bianchi, Anna, Milano"))


def test_utf8_bom_and_windows_line_endings() -> None:
    data = codecs.BOM_UTF8 + f"codice;etichetta\r\n{S10};Caffè\r\n".encode()
    assert parse(data).entries == (entry(S10, "Caffè"),)


def test_excel_windows_1252_export() -> None:
    data = f"codice;etichetta\r\n{S10};Perché € 5\r\n".encode("cp1252")
    assert parse(data).entries == (entry(S10, "Perché € 5"),)


def test_latin1_bytes_that_cp1252_does_not_define() -> None:
    data = f"{S10};caf\xe9 \x81\n".encode("latin-1")
    assert parse(data).entries == (entry(S10, "café"),)


def test_utf16_with_bom_as_excel_unicode_text() -> None:
    data = f"code\tlabel\r\n{S10}\tNoël\r\n".encode("utf-16")
    assert parse(data).entries == (entry(S10, "Noël"),)


def test_blank_lines_and_empty_rows_are_skipped_and_rows_keep_spreadsheet_numbers() -> None:
    text = f"\n\ncode;label\n\n{S10};a\n;;\n   \n{S10_TYPO};b\n\n"
    parsed = parse(text)
    assert parsed.entries == (entry(S10, "a"),)
    assert parsed.rejected == (RejectedRow(8, S10_TYPO, RowRefusal.BAD_CHECK_DIGIT),)


# --- a file that is a plain list -------------------------------------------------------------


def test_plain_text_list_is_read_like_a_pasted_message() -> None:
    text = (
        f"{S10} Regalo mamma, scatola rossa\n"
        f"- rr 123 456 785 it duplicate\n"
        f"{SDA} courier=italy-sda Scarpe\n"
        "ciao a tutti\n"
        f'"{NUMERIC}"\n'
    )
    assert choose_delimiter(text) is None
    parsed = parse(text)
    assert parsed.entries == (
        entry(S10, "Regalo mamma, scatola rossa"),
        entry(SDA, "Scarpe", "italy-sda"),
        entry(NUMERIC),
    )
    assert parsed.rejected == (
        RejectedRow(2, S10, RowRefusal.DUPLICATE, first_row=1),
        RejectedRow(4, "ciao", RowRefusal.NOT_A_CODE),
    )


def test_single_column_with_header() -> None:
    parsed = parse(f"Tracking\n{S10}\n{SDA}\n")
    assert parsed.entries == (entry(S10), entry(SDA))


# --- refused rows ----------------------------------------------------------------------------


def test_refusals_carry_row_number_and_reason() -> None:
    text = (
        "code;label;courier\n"  # 1
        f"{S10};ok;\n"  # 2
        f"{S10_TYPO};typo;\n"  # 3
        "hello;not a code;\n"  # 4
        ";only a label;\n"  # 5
        f"{SDA};bad courier;Bad Courier!\n"  # 6
        "1.23457E+11;excel;\n"  # 7
        f"{S10};again;\n"  # 8
    )
    parsed = parse(text)
    assert parsed.entries == (entry(S10, "ok"),)
    assert parsed.rejected == (
        RejectedRow(3, S10_TYPO, RowRefusal.BAD_CHECK_DIGIT),
        RejectedRow(4, "hello", RowRefusal.NOT_A_CODE),
        RejectedRow(5, "only a label", RowRefusal.MISSING_CODE),
        RejectedRow(6, "Bad Courier!", RowRefusal.BAD_COURIER),
        RejectedRow(7, "1.23457E+11", RowRefusal.EXCEL_NUMBER),
        RejectedRow(8, S10, RowRefusal.DUPLICATE, first_row=2),
    )


def test_same_code_for_two_couriers_is_not_a_duplicate() -> None:
    parsed = parse(f"{SDA};;italy-sda\n{SDA};;brt\n")
    assert parsed.entries == (entry(SDA, None, "italy-sda"), entry(SDA, None, "brt"))


def test_text_after_the_code_in_its_cell_joins_the_label() -> None:
    parsed = parse(f"{S10} Regalo;mamma\n{SDA};x\n")
    assert parsed.entries == (entry(S10, "Regalo mamma"), entry(SDA, "x"))


def test_neutralised_formulas_of_an_export_come_back_without_the_quote() -> None:
    parsed = parse(f"code,label\n{S10},'=SUM(A1)\n{SDA},'-sconto\n{NUMERIC},'ciao\n")
    assert [e.label for e in parsed.entries] == ["=SUM(A1)", "-sconto", "'ciao"]


def test_long_labels_are_cut_and_flagged() -> None:
    parsed = parse(f"{S10};{'x' * 200}\n")
    [only] = parsed.entries
    assert only.label_truncated and only.label is not None and len(only.label) == 80


def test_refused_rows_are_kept_up_to_a_bound_and_counted_beyond() -> None:
    rows = [f"{S10};first"] + [f"{S10_TYPO};{i}" for i in range(MAX_REJECTED_ROWS + 50)]
    parsed = parse("\n".join(rows))
    assert len(parsed.rejected) == MAX_REJECTED_ROWS
    assert parsed.more_rejected == 50


# --- limits ----------------------------------------------------------------------------------


def test_two_thousand_rows_are_bounded_by_the_limit() -> None:
    codes = [s10(30_000_000 + i) for i in range(2000)]
    text = "code,label\n" + "\n".join(f"{code},item {i}" for i, code in enumerate(codes))
    parsed = parse(text, max_codes=500)
    assert [e.code for e in parsed.entries] == codes[:500]
    assert parsed.entries[499].label == "item 499"
    assert parsed.overflow == 1500
    assert parsed.rejected == ()


def test_the_bound_counts_distinct_codes_not_rows() -> None:
    text = "\n".join([S10, S10, S10_TYPO, SDA, NUMERIC])
    parsed = parse(text, max_codes=2)
    assert parsed.entries == (entry(S10), entry(SDA))
    assert parsed.overflow == 1
    assert len(parsed.rejected) == 2


def test_rows_beyond_the_examined_bound_are_only_skimmed_for_codes() -> None:
    junk = [f"ciao{i};x" for i in range(EXTRA_ROWS_EXAMINED + 20)]
    text = "\n".join([S10, *junk, SDA, "hello", NUMERIC])
    parsed = parse(text, max_codes=2)
    assert parsed.entries == (entry(S10),)
    assert len(parsed.rejected) + parsed.more_rejected == EXTRA_ROWS_EXAMINED + 1
    assert parsed.overflow == 2  # SDA and NUMERIC; the junk after the bound is not counted


def test_max_codes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_codes"):
        parse(S10, max_codes=0)


# --- not a file of codes ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\r\n\t", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n"])
def test_empty_files(data: bytes) -> None:
    assert problem(data) == (FileProblem.EMPTY, 0)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)) * 20,
        b"RR123456785IT\x00\x00\x00\x01\x02\x03" * 50,
        "RR123456785IT;ok\n".encode("utf-16-le"),  # no BOM: NULs everywhere
    ],
)
def test_binary_junk(data: bytes) -> None:
    assert problem(data)[0] == FileProblem.BINARY


@pytest.mark.parametrize("signature", [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])
def test_excel_workbooks_renamed_csv(signature: bytes) -> None:
    assert problem(signature + b"\x14\x00\x06\x00" * 30)[0] == FileProblem.SPREADSHEET


@pytest.mark.parametrize(
    "text",
    [
        "name;city\nMario;Roma\nAnna;Milano\n",
        "Dear customer,\nyour order 1234 has shipped.\nRegards\n",
        "code\n\n\n",
    ],
)
def test_files_without_anything_like_a_code(text: str) -> None:
    assert problem(text) == (FileProblem.NO_CODES, 0)


def test_a_quote_that_never_closes_names_its_line() -> None:
    rows = [f"{s10(40_000_000 + i)};ok" for i in range(30)]
    rows[4] = f'{S10};"Rossi Mario'
    assert problem("\n".join(rows)) == (FileProblem.MALFORMED, 5)


def test_a_field_over_the_csv_size_limit_is_malformed_not_a_crash() -> None:
    rows = [f"{s10(40_000_000 + i)};ok" for i in range(20)]
    rows[7] = f'{S10};"' + "x" * 200_000 + '"'
    assert problem("\n".join(rows)) == (FileProblem.MALFORMED, 8)


def test_a_file_of_refused_near_misses_is_reported_row_by_row() -> None:
    parsed = parse(f"{S10_TYPO}\n{S10_TYPO.replace('4', '3', 1)}\n")
    assert parsed.entries == ()
    assert [r.reason for r in parsed.rejected] == [RowRefusal.BAD_CHECK_DIGIT] * 2


def test_a_megabyte_of_codes_is_read_within_the_bound() -> None:
    line = f"{S10};{'label ' * 10}\n"
    data = (line * (MAX_IMPORT_BYTES // len(line))).encode()
    assert len(data) <= MAX_IMPORT_BYTES
    parsed = parse(data, max_codes=500)
    assert parsed.entries == (entry(S10, ("label " * 10).strip()),)
    assert len(parsed.rejected) == MAX_REJECTED_ROWS  # duplicates of row 1


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_result_or_a_file_problem(data: bytes) -> None:
    try:
        parsed = parse(data, max_codes=50)
    except UnreadableFile as error:
        assert isinstance(error.problem, FileProblem)
        return
    assert parsed.entries or parsed.rejected
    assert len(parsed.entries) <= 50


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet=st.sampled_from(f"{S10};,\t\"' \nab12-=\r"), max_size=400))
def test_any_text_of_csv_characters_gives_a_result_or_a_file_problem(text: str) -> None:
    try:
        parsed = parse(text, max_codes=50)
    except UnreadableFile as error:
        assert isinstance(error.problem, FileProblem)
        return
    assert all(e.code for e in parsed.entries)
