"""Tracking-number rules: which texts are codes, of which kind; couriers; labels.

Pure functions, standard library only, no I/O. Every function does work linear in the size of
its input, so any message can be fed to it.

Accepted codes, checked on the normalised text (see `normalize`), first rule that matches wins:

1. UPU S10 (`RR123456785IT`): two letters, 8 serial digits, a check digit, two letters. A code
   of this shape whose check digit is wrong is refused (`Refusal.BAD_CHECK_DIGIT`), never
   accepted by a later rule, so the user can be told about the likely typo.
2. Poste Italiane domestic numeric codes: 12 to 16 digits.
3. Any other courier's code: 10 to 30 letters/digits with at least 4 digits. This also covers
   the purely numeric codes of other lengths (10-11 digits like DHL, 17-30 digits like USPS).
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_COURIER = "poste-italiane"
MAX_LABEL_LENGTH = 80
MAX_REJECTED_TEXT_LENGTH = 40

ELLIPSIS = "…"


class CodeKind(StrEnum):
    S10 = "s10"
    NUMERIC = "numeric"
    ALNUM = "alnum"


class Refusal(StrEnum):
    BAD_CHECK_DIGIT = "bad_check_digit"
    NOT_A_CODE = "not_a_code"
    BAD_COURIER = "bad_courier"


@dataclass(frozen=True)
class Entry:
    code: str
    courier: str
    label: str | None
    label_truncated: bool = False


@dataclass(frozen=True)
class Rejected:
    text: str  # what the user wrote, cleaned and cut to MAX_REJECTED_TEXT_LENGTH
    reason: Refusal


# --- normalisation -------------------------------------------------------------------------

DASHES = r"\-\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"
# Format characters that are invisible and creep into copy-pasted text: soft hyphen, zero-width
# space/non-joiner/joiner, LRM/RLM, bidi embeddings and isolates, word joiner, BOM.
_INVISIBLES = r"\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_DROPPED_FROM_CODES_RE = re.compile(rf"[\s{DASHES}{_INVISIBLES}]+")
_MAX_NORMALIZE_PASSES = 4


def _normalize_once(text: str) -> str:
    return _DROPPED_FROM_CODES_RE.sub("", unicodedata.normalize("NFKC", text).upper())


def normalize(raw: str) -> str:
    """NFKC, uppercase, without whitespace, dashes and invisible characters.

    A single pass is not always idempotent (dropping a zero-width character can let NFKC compose
    its neighbours, uppercasing can produce non-NFKC text), so passes repeat until stable.
    """
    text = raw
    for _ in range(_MAX_NORMALIZE_PASSES):
        normalized = _normalize_once(text)
        if normalized == text:
            break
        text = normalized
    return text


# --- code rules ----------------------------------------------------------------------------

S10_LENGTH = 13
MAX_NUMERIC_LENGTH = 16
NUMERIC_LENGTHS = range(12, MAX_NUMERIC_LENGTH + 1)
ALNUM_LENGTHS = range(10, 31)
ALNUM_MIN_DIGITS = 4

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10_RE = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
S10_PREFIX_RE = re.compile(r"[A-Z]{0,2}|[A-Z]{2}[0-9]{1,9}|[A-Z]{2}[0-9]{9}[A-Z]{1,2}")
_CODE_CHARS_RE = re.compile(r"[A-Z0-9]+")


def is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def s10_check_digit(serial: str) -> int:
    """Check digit of the 8-digit serial of a UPU S10 code."""
    if len(serial) != 8 or not is_ascii_digits(serial):
        raise ValueError(f"an S10 serial is 8 digits, got {serial!r}")
    weighted_sum = sum(
        int(digit) * weight for digit, weight in zip(serial, _S10_WEIGHTS, strict=True)
    )
    check = 11 - weighted_sum % 11
    return {10: 0, 11: 5}.get(check, check)


def _is_s10_shape(code: str) -> bool:
    return _S10_RE.fullmatch(code) is not None


def _has_valid_s10_check_digit(code: str) -> bool:
    return int(code[10]) == s10_check_digit(code[2:10])


def is_poste_numeric(code: str) -> bool:
    return len(code) in NUMERIC_LENGTHS and is_ascii_digits(code)


def _is_generic_alnum(code: str) -> bool:
    return len(code) in ALNUM_LENGTHS and sum(char.isdigit() for char in code) >= ALNUM_MIN_DIGITS


def classify(raw: str) -> CodeKind | Refusal:
    """Kind of the code `raw` normalises to, or why it is refused (never BAD_COURIER)."""
    code = normalize(raw)
    if _CODE_CHARS_RE.fullmatch(code) is None:
        return Refusal.NOT_A_CODE
    if _is_s10_shape(code):
        return CodeKind.S10 if _has_valid_s10_check_digit(code) else Refusal.BAD_CHECK_DIGIT
    if is_poste_numeric(code):
        return CodeKind.NUMERIC
    if _is_generic_alnum(code):
        return CodeKind.ALNUM
    return Refusal.NOT_A_CODE


# --- couriers ------------------------------------------------------------------------------

_COURIER_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,49}")


def normalize_courier(courier: str) -> str:
    """The form couriers are stored and compared in: NFKC, trimmed, lowercase."""
    return unicodedata.normalize("NFKC", courier).strip().lower()


def is_valid_courier(courier: str) -> bool:
    """Whether `courier` (once normalised) has the shape of a TrackingMore courier code."""
    return _COURIER_RE.fullmatch(normalize_courier(courier)) is not None


# --- free-text cleaning --------------------------------------------------------------------

_WHITESPACE_RUN_RE = re.compile(r"\s+")
_SPACE_RUN_RE = re.compile(r" {2,}")
# Control characters, invisible format characters and lone surrogates (these last would make
# the text impossible to encode as UTF-8 when it is sent back to Telegram).
_UNPRINTABLE_RE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u180e\u200b\u200c\u200e\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]+"
)
ZERO_WIDTH_JOINER = "\u200d"
# The zero-width joiner glues emoji sequences (👨‍👩‍👧), so it is kept between two visible
# characters and dropped anywhere else, where it could only hide in an otherwise blank text.
_STRAY_JOINER_RE = re.compile(r"(?<![^ ])\u200d+|\u200d+(?![^ ])")
_JOINER_RUN_RE = re.compile(r"\u200d{2,}")


def clean_text(raw: str) -> str:
    text = _WHITESPACE_RUN_RE.sub(" ", raw)
    text = _UNPRINTABLE_RE.sub("", text)
    text = _STRAY_JOINER_RE.sub("", text)
    text = _JOINER_RUN_RE.sub(ZERO_WIDTH_JOINER, text)
    return _SPACE_RUN_RE.sub(" ", text).strip(" ")


def _truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    kept = text[: limit - len(ELLIPSIS)].rstrip(" " + ZERO_WIDTH_JOINER)
    return kept + ELLIPSIS, True


def clean_label(raw: str) -> tuple[str | None, bool]:
    """A label fit to store and show: one line, no invisible characters, at most
    MAX_LABEL_LENGTH characters (ending with "…" when cut). Returns (label or None, truncated)."""
    label, truncated = _truncate(clean_text(raw), MAX_LABEL_LENGTH)
    return (label or None), truncated


def rejected(raw: str, reason: Refusal) -> Rejected:
    text, _ = _truncate(clean_text(raw), MAX_REJECTED_TEXT_LENGTH)
    return Rejected(text, reason)
