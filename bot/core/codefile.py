"""Reading a file of tracking codes (CSV or plain text) into entries, row by row.

Pure functions, standard library only, no I/O. The input is bounded by the caller
(`MAX_IMPORT_BYTES`); everything here is linear in its size.

What is accepted:

* Text in UTF-8 (with or without BOM), UTF-16 with BOM, or else Windows-1252 / Latin-1,
  as Excel exports it. Binary files (a PDF, an Excel workbook renamed `.csv`) are refused.
* Columns separated by `;`, `,` or a tab, quoted the CSV way. An optional header names the
  columns in any order (`code`/`codice`/`tracking`…, `label`/`etichetta`/`nome`…,
  `courier`/`corriere`…); without one the columns are code, label, courier.
* A file whose lines have no separator is read line by line like a pasted message:
  `CODE [label] [courier=…]`.

Rows are numbered as a spreadsheet shows them (the header is row 1), so a refusal can say
which row to fix.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.codes import (
    ELLIPSIS,
    MAX_REJECTED_TEXT_LENGTH,
    CodeKind,
    Entry,
    Refusal,
    classify,
    clean_label,
    is_valid_courier,
    normalize_courier,
    parse_track_args,
)

MAX_IMPORT_BYTES = 1_000_000
# Refused rows kept with their details; further ones are only counted.
MAX_REJECTED_ROWS = 100
# Rows read in full beyond `max_codes` (refused ones, duplicates); later rows are only skimmed
# to count the codes they hold, so a megabyte of junk costs little.
EXTRA_ROWS_EXAMINED = 1000
DELIMITERS = ("\t", ";", ",")  # on a tie, the earlier one wins: "," is the likeliest in labels
SNIFF_ROWS = 50
# A quoted cell may hold line breaks, but a row spanning more lines is a quote left open.
MAX_LINES_PER_RECORD = 10
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "spreadsheet",  # xlsx, ods (zip)
    b"\xd0\xcf\x11\xe0": "spreadsheet",  # xls (OLE)
    b"%PDF": "binary",
    b"\x89PNG": "binary",
    b"\xff\xd8\xff": "binary",
    b"GIF8": "binary",
    b"\x1f\x8b": "binary",
}
# Control characters other than tab, newline and carriage return; U+FFFD from bad decoding.
_JUNK_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_MAX_JUNK_SHARE = 0.01
# What Excel makes of a long numeric code in a column it considers numbers: 1.23457E+11.
_EXCEL_NUMBER_RE = re.compile(r"^[0-9]+(?:[.,][0-9]+)?E\+?[0-9]+$", re.IGNORECASE)
# Exports neutralise formulas with a leading "'" (see bot.reports); importing them back drops it.
_NEUTRALISED_RE = re.compile(r"^'(?=[=+\-@])")


class FileProblem(StrEnum):
    """Why a whole file cannot be imported."""

    EMPTY = "empty"
    BINARY = "binary"
    SPREADSHEET = "spreadsheet"
    MALFORMED = "malformed"
    NO_CODES = "no_codes"


class UnreadableFile(ValueError):
    def __init__(self, problem: FileProblem, row: int = 0) -> None:
        super().__init__(f"{problem.value} (row {row})" if row else problem.value)
        self.problem = problem
        self.row = row


class RowRefusal(StrEnum):
    BAD_CHECK_DIGIT = Refusal.BAD_CHECK_DIGIT.value
    NOT_A_CODE = Refusal.NOT_A_CODE.value
    BAD_COURIER = Refusal.BAD_COURIER.value
    MISSING_CODE = "missing_code"
    EXCEL_NUMBER = "excel_number"
    DUPLICATE = "duplicate"


# Refusals that mean "this row meant a code but it is wrong", as opposed to "not a code".
_NEAR_MISSES = frozenset(
    {
        RowRefusal.BAD_CHECK_DIGIT,
        RowRefusal.BAD_COURIER,
        RowRefusal.EXCEL_NUMBER,
        RowRefusal.DUPLICATE,
    }
)


@dataclass(frozen=True)
class RejectedRow:
    row: int
    text: str  # what the row held, cleaned and cut to MAX_REJECTED_TEXT_LENGTH
    reason: RowRefusal
    first_row: int = 0  # for a duplicate: the row where the code appeared first


@dataclass(frozen=True)
class ParsedImport:
    entries: tuple[Entry, ...]
    rejected: tuple[RejectedRow, ...]
    more_rejected: int  # refused rows beyond MAX_REJECTED_ROWS, counted only
    overflow: int  # rows beyond the limit whose code cell starts with a code, not read
    rows: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (courier, code) → row


@dataclass(frozen=True)
class Columns:
    code: int
    label: int | None
    courier: int | None


POSITIONAL = Columns(code=0, label=1, courier=2)

_HEADER_NAMES = {
    "code": {
        "code",
        "codice",
        "codici",
        "tracking",
        "tracking_number",
        "tracking_no",
        "tracking_code",
        "tracking_id",
        "codice_tracking",
        "codice_spedizione",
        "numero_spedizione",
        "numero_tracking",
        "awb",
    },
    "label": {
        "label",
        "etichetta",
        "nome",
        "name",
        "descrizione",
        "description",
        "note",
        "nota",
        "riferimento",
        "reference",
        "cliente",
        "customer",
    },
    "courier": {"courier", "corriere", "courier_code", "codice_corriere", "carrier", "vettore"},
}
_HEADER_SEPARATORS_RE = re.compile(r"[\s\-.]+")


# --- decoding ------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of a file, or UnreadableFile when it is empty or not text."""
    if not data.strip():
        raise UnreadableFile(FileProblem.EMPTY)
    for signature, kind in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise UnreadableFile(FileProblem(kind))
    text = _decode_text(data)
    if _looks_binary(text):
        raise UnreadableFile(FileProblem.BINARY)
    if not text.strip():
        raise UnreadableFile(FileProblem.EMPTY)
    return text


def _decode_text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile(FileProblem.BINARY) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # never fails: every byte is a character


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    return len(_JUNK_CHARS_RE.findall(text)) > len(text) * _MAX_JUNK_SHARE


# --- reading rows --------------------------------------------------------------------------


def _physical_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def choose_delimiter(text: str) -> str | None:
    """The separator most rows of the sample are split by; None when there is none.

    A separator must split at least half of the sample's non-blank rows: a few commas in
    the labels of a plain list of codes do not make it a CSV file.
    """
    sample_lines = [line for line in _physical_lines(text) if line.strip()][:SNIFF_ROWS]
    if not sample_lines:
        return None
    best, best_split = None, 0
    for delimiter in DELIMITERS:
        split = _rows_split(sample_lines, delimiter)
        if split > best_split:
            best, best_split = delimiter, split
    return best if best_split * 2 >= len(sample_lines) else None


def _rows_split(lines: Sequence[str], delimiter: str) -> int:
    """How many of these lines `delimiter` splits into two cells or more, each line alone (so
    a quote left open on one line does not hide the others)."""
    split = 0
    for line in lines:
        try:
            cells = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            continue  # a cell too large for csv: this line does not vote
        split += len(cells) >= 2
    return split


def _csv_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:  # a field over csv's size limit: a quote that never closes
            raise UnreadableFile(FileProblem.MALFORMED, start) from None
        # An unclosed quote silently swallows the rest of the file into one field.
        if reader.line_num - start >= MAX_LINES_PER_RECORD:
            raise UnreadableFile(FileProblem.MALFORMED, start)
        yield cells


def _line_rows(text: str) -> Iterator[list[str]]:
    """One cell per line; a line entirely in double quotes loses them."""
    for line in _physical_lines(text):
        stripped = line.strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
            stripped = stripped[1:-1].replace('""', '"')
        yield [stripped]


# --- header --------------------------------------------------------------------------------


def _header_name(cell: str) -> str:
    return _HEADER_SEPARATORS_RE.sub("_", cell.strip().strip("\ufeff\"'").casefold()).strip("_")


def header_columns(cells: Sequence[str]) -> Columns | None:
    """The columns a header row names, or None when the row is not a header.

    A row is a header when it holds no code and a cell is a known column name, or when no
    cell has a digit (no code can be there). Columns it does not name: the code is the first
    unnamed column, the label and courier are absent — unless the header names nothing, then
    they are positional.
    """
    if any(isinstance(classify(cell), CodeKind) for cell in cells):
        return None
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _header_name(cell)
        for column, aliases in _HEADER_NAMES.items():
            if name in aliases and column not in found:
                found[column] = index
    if not found:
        has_digit = any(char.isdigit() for cell in cells for char in cell)
        return None if has_digit else POSITIONAL
    code = found.get("code")
    if code is None:
        taken = set(found.values())
        code = next((i for i in range(len(cells) + 1) if i not in taken), 0)
    return Columns(code=code, label=found.get("label"), courier=found.get("courier"))


# --- one row -------------------------------------------------------------------------------


def _cell(cells: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index]


def shown_text(raw: str) -> str:
    """What the user wrote, on one line and short enough to quote back."""
    text, _ = clean_label(raw)
    if text is None:
        return ""
    if len(text) <= MAX_REJECTED_TEXT_LENGTH:
        return text
    return text[: MAX_REJECTED_TEXT_LENGTH - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _read_columns(cells: Sequence[str], columns: Columns, row: int) -> Entry | RejectedRow | None:
    raw_code = _cell(cells, columns.code).strip()
    if not raw_code:
        content = " ".join(cell.strip() for cell in cells if cell.strip())
        return RejectedRow(row, shown_text(content), RowRefusal.MISSING_CODE) if content else None
    entry = _read_line(raw_code, row)
    if not isinstance(entry, Entry):
        return entry
    courier = entry.courier
    raw_courier = _cell(cells, columns.courier).strip()
    if raw_courier:
        if not is_valid_courier(raw_courier):
            return RejectedRow(row, shown_text(raw_courier), RowRefusal.BAD_COURIER)
        courier = normalize_courier(raw_courier)
    # Text after the code in its own cell is kept too: nothing the user wrote is lost.
    label_text = " ".join(
        part for part in (entry.label, _NEUTRALISED_RE.sub("", _cell(cells, columns.label))) if part
    )
    label, truncated = clean_label(label_text)
    return Entry(entry.code, courier, label, truncated or entry.label_truncated)


def _read_line(line: str, row: int) -> Entry | RejectedRow | None:
    """A line (or a code cell) read like a pasted message: `CODE [label] [courier=…]`."""
    text = line.strip()
    if not text:
        return None
    if _EXCEL_NUMBER_RE.match(text):
        return RejectedRow(row, shown_text(text), RowRefusal.EXCEL_NUMBER)
    parsed = parse_track_args(text, max_codes=1)
    if parsed.entries:
        return parsed.entries[0]
    if not parsed.rejected:  # only a bullet or a dash
        return RejectedRow(row, shown_text(text), RowRefusal.NOT_A_CODE)
    rejected = parsed.rejected[0]
    return RejectedRow(row, rejected.text, RowRefusal(rejected.reason.value))


# --- the whole file ------------------------------------------------------------------------


class _Collector:
    """Entries in file order without duplicates, refused rows, and what went over the limit."""

    def __init__(self, max_codes: int) -> None:
        self.max_codes = max_codes
        self.entries: list[Entry] = []
        self.rejected: list[RejectedRow] = []
        self.more_rejected = 0
        self.overflow = 0
        self._first_row: dict[tuple[str, str], int] = {}

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.max_codes

    def add(self, outcome: Entry | RejectedRow, row: int) -> None:
        if isinstance(outcome, RejectedRow):
            self.reject(outcome)
            return
        key = (outcome.courier, outcome.code)
        first = self._first_row.get(key)
        if first is not None:
            self.reject(RejectedRow(row, outcome.code, RowRefusal.DUPLICATE, first_row=first))
            return
        self._first_row[key] = row
        self.entries.append(outcome)

    def reject(self, rejected: RejectedRow) -> None:
        if len(self.rejected) < MAX_REJECTED_ROWS:
            self.rejected.append(rejected)
        else:
            self.more_rejected += 1

    def result(self) -> ParsedImport:
        if not self.entries and not any(r.reason in _NEAR_MISSES for r in self.rejected):
            raise UnreadableFile(FileProblem.NO_CODES)
        return ParsedImport(
            tuple(self.entries),
            tuple(self.rejected),
            self.more_rejected,
            self.overflow,
            rows=dict(self._first_row),
        )


def _starts_with_code(text: str) -> bool:
    first = text.split(maxsplit=1)
    return bool(first) and isinstance(classify(first[0]), CodeKind)


def _numbered(rows: Iterable[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Rows with their spreadsheet number, blank ones skipped."""
    for number, cells in enumerate(rows, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def parse_import(data: bytes, *, max_codes: int) -> ParsedImport:
    """The entries of a file of codes, at most `max_codes` of them (see the module docstring).

    Raises UnreadableFile when the file is empty, binary, not valid CSV, or has no row that
    even looks like a code.
    """
    if max_codes < 1:
        raise ValueError(f"max_codes must be >= 1, got {max_codes}")
    text = decode(data)
    delimiter = choose_delimiter(text)
    rows = _numbered(_csv_rows(text, delimiter) if delimiter else _line_rows(text))
    collector = _Collector(max_codes)
    columns: Columns | None = None
    examined = 0
    for number, cells in rows:
        if columns is None:
            columns = header_columns(cells)
            if columns is not None:
                continue  # the header
            columns = POSITIONAL
        examined += 1
        if collector.full or examined > max_codes + EXTRA_ROWS_EXAMINED:
            collector.overflow += _starts_with_code(_cell(cells, columns.code))
            continue
        outcome = (
            _read_columns(cells, columns, number) if delimiter else _read_line(cells[0], number)
        )
        if outcome is not None:
            collector.add(outcome, number)
    return collector.result()
