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
)
from bot.core.message_codes import parse_track_args
from bot.core.textfile import (
    FileProblem,
    UnreadableFile,
    choose_delimiter,
    csv_rows,
    decode,
    line_rows,
)

MAX_IMPORT_BYTES = 1_000_000
# Refused rows kept with their details; further ones are only counted.
MAX_REJECTED_ROWS = 100
# Rows read in full beyond `max_codes` (refused ones, duplicates); later rows are only skimmed
# to count the codes they hold, so a megabyte of junk costs little.
EXTRA_ROWS_EXAMINED = 1000
# What Excel makes of a long numeric code in a column it considers numbers: 1.23457E+11.
_EXCEL_NUMBER_RE = re.compile(r"^[0-9]+(?:[.,][0-9]+)?E\+?[0-9]+$", re.IGNORECASE)
# Exports neutralise formulas with a leading "'" (see bot.reports); importing them back drops it.
_NEUTRALISED_RE = re.compile(r"^'(?=[=+\-@])")


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
_WORD_GAPS_RE = re.compile(r"[\s_]+")


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
    # A courier column may hold the name people know ("Poste Italiane", "BRT"): written
    # with dashes it has a code's shape, and the courier list resolves it when followed.
    raw_courier = _cell(cells, columns.courier).strip()
    if raw_courier:
        as_code = _WORD_GAPS_RE.sub("-", raw_courier)
        if not is_valid_courier(as_code):
            return RejectedRow(row, shown_text(raw_courier), RowRefusal.BAD_COURIER)
        courier = normalize_courier(as_code)
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
    rows = _numbered(csv_rows(text, delimiter) if delimiter else line_rows(text))
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
