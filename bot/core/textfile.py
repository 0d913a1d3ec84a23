"""A file's bytes to text and rows: the encodings Excel and Notepad write, binary files
refused, the separator guessed, CSV quoting honoured and bounded.

Pure functions, standard library only, no I/O.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum

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


def csv_rows(text: str, delimiter: str) -> Iterator[list[str]]:
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


def line_rows(text: str) -> Iterator[list[str]]:
    """One cell per line; a line entirely in double quotes loses them."""
    for line in _physical_lines(text):
        stripped = line.strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
            stripped = stripped[1:-1].replace('""', '"')
        yield [stripped]
