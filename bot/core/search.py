"""What /find matches: a query against a shipment's code, name and last event, case- and
accent-insensitive, the same on every database (the matching is done here, not in SQL)."""

from __future__ import annotations

import re
import unicodedata

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 100
_SPACES_RE = re.compile(r"\s+")
_CODE_SEPARATORS_RE = re.compile(r"[\s\-]+")


def fold(text: str) -> str:
    """`text` for comparing: case folded, accents dropped (NFKD without its combining marks:
    "Perché" → "perche", "ﬁ" → "fi"), runs of spaces as one."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES_RE.sub(" ", bare).strip()


def clean_query(text: str) -> str:
    """What the user asked for, as shown back to them: trimmed, runs of spaces as one."""
    return _SPACES_RE.sub(" ", text).strip()


def matches(query: str, *, code: str, fields: tuple[str | None, ...]) -> bool:
    """Whether `query` is part of the code (spaces and dashes ignored, as codes are typed)
    or of one of `fields` (the name, the last event's description and place)."""
    folded = fold(query)
    if not folded:
        return False
    as_code = _CODE_SEPARATORS_RE.sub("", folded)
    if as_code and as_code in fold(code):
        return True
    return any(folded in fold(field) for field in fields if field)
