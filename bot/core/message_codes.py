"""Reading tracking codes out of what a person writes: a code at the start of each line,
written whole or in groups, with bullets before it and a label and `courier=` (or
`corriere=`) after it.

Pure functions, standard library only. Linear in the size of the text, so any message can
be fed to it; at most `max_codes` are taken and the rest only counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.core.codes import (
    DASHES,
    DEFAULT_COURIER,
    MAX_NUMERIC_LENGTH,
    S10_LENGTH,
    S10_PREFIX_RE,
    CodeKind,
    Entry,
    Refusal,
    Rejected,
    classify,
    clean_label,
    clean_text,
    is_ascii_digits,
    is_poste_numeric,
    is_valid_courier,
    normalize,
    normalize_courier,
    rejected,
)

# Lines examined in full per message beyond `max_codes`; later lines are only skimmed to count
# the codes they start with (see `parse_message`).
EXTRA_LINES_EXAMINED = 200


@dataclass(frozen=True)
class ParsedCodes:
    entries: tuple[Entry, ...]
    rejected: tuple[Rejected, ...]
    overflow: int  # codes beyond the limit, not processed


# --- finding the code at the start of a line -----------------------------------------------

# Bullets and quote marks before the code: "- ", "• ", "* ", "> ", "1. ", "1) ", or several.
_LINE_PREFIX_RE = re.compile(r"\s*(?:(?:[-*>•·‣◦▪–—]|[0-9]{1,3}[.)])\s*)*")
_TOKEN_RE = re.compile(r"\S+")
_CODE_END_PUNCTUATION = ",;:"
# Groups of a numeric code written in parts ("1234 5678 9012"); a longer first part is taken
# as a whole code, so "123456789012 2024" keeps "2024" as the label.
MAX_DIGIT_GROUP = 6
_MAX_CODE_TOKENS = MAX_NUMERIC_LENGTH  # every part is at least one character


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int  # without the trailing punctuation that closes a code
    normalized: str
    closes_code: bool  # ended with "," ";" or ":" so no code continues past it


@dataclass(frozen=True, slots=True)
class _CodeReading:
    verdict: CodeKind | Refusal
    code: str
    start: int
    end: int


def _code_tokens(line: str, start: int) -> list[_Token]:
    """The first whitespace-separated tokens of `line` that could be parts of one code.

    Tokens that normalise to nothing (a lone dash, a zero-width space) are separators: skipped.
    """
    tokens: list[_Token] = []
    for match in _TOKEN_RE.finditer(line, start):
        raw = match.group()
        text = raw.rstrip(_CODE_END_PUNCTUATION)
        token = _Token(
            start=match.start(),
            end=match.start() + len(text),
            normalized=normalize(text),
            closes_code=len(text) < len(raw),
        )
        if token.normalized:
            tokens.append(token)
        if token.closes_code or len(tokens) == _MAX_CODE_TOKENS:
            break
    return tokens


def _read_s10(tokens: Sequence[_Token]) -> _CodeReading | None:
    """An S10 code written in one or more parts: "RR123456785IT", "rr 123 456 785 it"."""
    joined = ""
    for token in tokens:
        joined += token.normalized
        if len(joined) > S10_LENGTH or S10_PREFIX_RE.fullmatch(joined) is None:
            return None
        if len(joined) == S10_LENGTH:
            return _CodeReading(classify(joined), joined, tokens[0].start, token.end)
    return None


def _read_numeric(tokens: Sequence[_Token]) -> _CodeReading | None:
    """A 12-16 digit code, whole or in groups of at most MAX_DIGIT_GROUP digits.

    The longest joining that is a valid code wins, so a short number right after a grouped code
    is read as its last group ("1234 5678 9012 55" is one 14-digit code); a word in between,
    or a "," after the code, keeps it in the label.
    """
    first = tokens[0]
    if not is_ascii_digits(first.normalized):
        return None
    if len(first.normalized) > MAX_DIGIT_GROUP:
        if not is_poste_numeric(first.normalized):
            return None
        return _CodeReading(CodeKind.NUMERIC, first.normalized, first.start, first.end)
    joined = ""
    reading = None
    for token in tokens:
        group = token.normalized
        if len(group) > MAX_DIGIT_GROUP or not is_ascii_digits(group):
            break
        joined += group
        if len(joined) > MAX_NUMERIC_LENGTH:
            break
        if is_poste_numeric(joined):
            reading = _CodeReading(CodeKind.NUMERIC, joined, first.start, token.end)
    return reading


def _read_single_token(tokens: Sequence[_Token]) -> _CodeReading | None:
    """Any code written as one token; dashes inside it were already dropped."""
    first = tokens[0]
    verdict = classify(first.normalized)
    if verdict is Refusal.NOT_A_CODE:
        return None
    return _CodeReading(verdict, first.normalized, first.start, first.end)


def _read_code(tokens: Sequence[_Token]) -> _CodeReading | None:
    if not tokens:
        return None
    return _read_s10(tokens) or _read_numeric(tokens) or _read_single_token(tokens)


def _read_line_code(line: str) -> tuple[_CodeReading | None, int]:
    """The code the line starts with, if any, and where the text after the bullet starts."""
    prefix = _LINE_PREFIX_RE.match(line)  # matches the empty string at worst
    start = prefix.end() if prefix else 0
    return _read_code(_code_tokens(line, start)), start


# --- turning a line into an entry ----------------------------------------------------------

# `courier=SDA`, or in Italian `corriere=BRT`: a courier's code or the name people know.
_COURIER_OPTION_RE = re.compile(r"(?<!\S)(?:courier|corriere)=(\S*)", re.IGNORECASE)
_LABEL_LEAD_RE = re.compile(rf"^[\s{DASHES}:;,|]+")
MIN_ATTEMPT_LENGTH = 8
MIN_ATTEMPT_DIGITS = 3


def _looks_like_attempted_code(token: str) -> bool:
    """A lone token too code-like to be a chat message: 8+ characters, 3+ digits, and at least
    90% letters/digits once normalised."""
    text = normalize(token)
    code_chars = sum(char.isascii() and char.isalnum() for char in text)
    digits = sum(char.isascii() and char.isdigit() for char in text)
    return (
        len(text) >= MIN_ATTEMPT_LENGTH
        and digits >= MIN_ATTEMPT_DIGITS
        and code_chars * 10 >= len(text) * 9
    )


def _reject_unrecognised(after_prefix: str, *, strict: bool) -> Rejected | None:
    parts = after_prefix.split(maxsplit=1)
    if not parts or not clean_text(parts[0]):
        return None
    if strict or (len(parts) == 1 and _looks_like_attempted_code(parts[0])):
        return rejected(parts[0], Refusal.NOT_A_CODE)
    return None


def _entry(code: str, rest: str, default_courier: str) -> Entry | Rejected:
    """The entry for `code`, with the courier and label taken from the rest of its line."""
    courier = default_courier
    for option in _COURIER_OPTION_RE.finditer(rest):
        if not is_valid_courier(option.group(1)):
            return rejected(option.group(), Refusal.BAD_COURIER)
        courier = normalize_courier(option.group(1))  # the last one wins
    label_text = _LABEL_LEAD_RE.sub("", _COURIER_OPTION_RE.sub(" ", rest))
    label, truncated = clean_label(label_text)
    return Entry(code=code, courier=courier, label=label, label_truncated=truncated)


def _parse_line(line: str, *, default_courier: str, strict: bool) -> Entry | Rejected | None:
    reading, start = _read_line_code(line)
    if reading is None:
        return _reject_unrecognised(line[start:], strict=strict)
    if isinstance(reading.verdict, Refusal):
        return rejected(line[reading.start : reading.end], reading.verdict)
    return _entry(reading.code, line[reading.end :], default_courier)


def _starts_with_code(line: str) -> bool:
    reading, _ = _read_line_code(line)
    return reading is not None and isinstance(reading.verdict, CodeKind)


def _non_empty_lines(text: str) -> Iterator[str]:
    return (line for line in text.splitlines() if line and not line.isspace())


def _parse(text: str, *, max_codes: int, default_courier: str, strict: bool) -> ParsedCodes:
    if max_codes < 0:
        raise ValueError(f"max_codes must be >= 0, got {max_codes}")
    if not is_valid_courier(default_courier):
        raise ValueError(f"invalid default courier {default_courier!r}")
    courier = normalize_courier(default_courier)
    entries: list[Entry] = []
    rejected: dict[Rejected, None] = {}  # an ordered set
    seen: set[tuple[str, str]] = set()
    overflow = 0
    lines_examined = max_codes + EXTRA_LINES_EXAMINED
    for index, line in enumerate(_non_empty_lines(text)):
        if index >= lines_examined:
            overflow += _starts_with_code(line)
            continue
        outcome = _parse_line(line, default_courier=courier, strict=strict)
        if isinstance(outcome, Rejected):
            rejected[outcome] = None
        elif isinstance(outcome, Entry) and (outcome.courier, outcome.code) not in seen:
            seen.add((outcome.courier, outcome.code))
            if len(entries) < max_codes:
                entries.append(outcome)
            else:
                overflow += 1
    return ParsedCodes(tuple(entries), tuple(rejected), overflow)


def parse_message(
    text: str, *, max_codes: int, default_courier: str = DEFAULT_COURIER
) -> ParsedCodes:
    """The codes in a plain chat message, one per line, each line read on its own.

    A line starting with a code (after any bullet) is an entry: the rest of the line is its
    label, where `courier=xxx` picks the courier. Lines starting with an S10 code with a wrong
    check digit, lines with an invalid courier and lone tokens that look like a mistyped code
    are rejected; any other line is chat and ignored. Duplicates keep their first occurrence.
    At most `max_codes` entries are kept, further distinct codes are counted in `overflow`.
    Only the first `max_codes + EXTRA_LINES_EXAMINED` non-empty lines are examined in full;
    later lines only add to `overflow` when they start with a code (without de-duplication).
    """
    return _parse(text, max_codes=max_codes, default_courier=default_courier, strict=False)


def parse_track_args(
    text: str, *, max_codes: int, default_courier: str = DEFAULT_COURIER
) -> ParsedCodes:
    """Like `parse_message` for the text after /track, except that since the user asked to
    track, every non-empty line that does not start with a code is rejected as NOT_A_CODE."""
    return _parse(text, max_codes=max_codes, default_courier=default_courier, strict=True)
