"""Until when a parcel waits to be collected, read from the carrier's own words.

Carriers write it in the event text: "In giacenza presso l'ufficio postale, ritirabile entro
il 12/12/2026", "disponibile fino al 12.12.2026", "ready for collection until 12 December
2026", "collect by 2026-12-12". Only a date that follows such words counts: a text that merely
contains a date ("arrivata il 25/11/2026") has no deadline, and none is invented.

Pure: no I/O, nothing of the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

_MONTHS = {
    # Italian
    "gennaio": 1,
    "febbraio": 2,
    "marzo": 3,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "agosto": 8,
    "settembre": 9,
    "ottobre": 10,
    "novembre": 11,
    "dicembre": 12,
    "gen": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "mag": 5,
    "giu": 6,
    "lug": 7,
    "ago": 8,
    "set": 9,
    "sett": 9,
    "ott": 10,
    "nov": 11,
    "dic": 12,
    # English
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "dec": 12,
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))

# The words that announce a deadline, then a few words that may stand between them and the
# date ("entro e non oltre il giorno", "until the", "by:").
_CUE = (
    r"(?:entro(?:\s+e\s+non\s+oltre)?|non\s+oltre|fino\s+a(?:l|ll'|llo)?|sino\s+a(?:l|ll')?"
    r"|scadenza(?:\s+giacenza)?|scade|until|till|by|before|no\s+later\s+than|deadline"
    r"|expires?(?:\s+on)?|last\s+day(?:\s+for\s+collection)?)"
)
_FILLER = r"(?:[\s:,]+(?:il|l'|del|giorno|the|on|date|data|is|è|alle?)\b)*[\s:,]*"
_WEEKDAY = (
    r"(?:(?:luned[iì]|marted[iì]|mercoled[iì]|gioved[iì]|venerd[iì]|sabato|domenica"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|lun|mar|mer|gio|ven|sab|dom"
    r"|mon|tue|wed|thu|fri|sat|sun)\.?,?\s+)?"
)
_NUMERIC = r"(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?!\d)"
_ISO = r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?!\d)"
_DAY_MONTH = (
    rf"(?P<dd>\d{{1,2}})(?:st|nd|rd|th|°|º)?\s+(?:of\s+)?(?P<dm>{_MONTH})\.?(?:\s+(?P<dy>\d{{4}}))?"
)
_MONTH_DAY = rf"(?P<mm>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<my>\d{{4}}))?"
_DATE = rf"(?:{_ISO}|{_NUMERIC}|{_DAY_MONTH}|{_MONTH_DAY})(?![^\W\d_])"

_DEADLINE_RE = re.compile(rf"(?<![^\W\d_]){_CUE}{_FILLER}{_WEEKDAY}{_DATE}", re.IGNORECASE)
# "ritirabile dal 10/12 al 20/12": the end of the span (the start's groups renamed).
_SPAN_START = _DATE.replace("?P<", "?P<s_").replace("?P=", "?P=s_")
_SPAN_RE = re.compile(
    rf"(?<![^\W\d_])(?:dal|from)\s+{_SPAN_START}\s+(?:al|to|until)\s+{_DATE}", re.IGNORECASE
)

# A deadline is after the event that gives it, and not absurdly far: a carrier keeps a parcel
# days or weeks, not years.
MAX_AHEAD = timedelta(days=120)


def pickup_deadline(text: str, reference: date | None = None) -> date | None:
    """The collection deadline the text gives, or None when it gives none.

    `reference` is the day of the event (a date without a year is the next such day from
    it; without a reference, a date needs its year). Dates are day first, the European way,
    unless only month first makes sense ("until 12/25/2026").
    """
    for pattern in (_SPAN_RE, _DEADLINE_RE):
        for match in pattern.finditer(text):
            found = _date_of(match.groupdict(), reference)
            if found is not None and _plausible(found, reference):
                return found
    return None


def first_deadline(texts: Iterable[str], reference: date | None = None) -> date | None:
    """The deadline of the first text that gives one (newest event first)."""
    for text in texts:
        found = pickup_deadline(text, reference)
        if found is not None:
            return found
    return None


def _plausible(found: date, reference: date | None) -> bool:
    if reference is None:
        return True
    return reference <= found <= reference + MAX_AHEAD


def _date_of(groups: dict[str, str | None], reference: date | None) -> date | None:
    if groups.get("iy"):
        return _make(_int(groups["iy"]), _int(groups["im"]), _int(groups["id"]))
    if groups.get("a"):
        day, month = _int(groups["a"]), _int(groups["b"])
        year = _year(groups.get("y"))
        if year is None and groups.get("sep") != "/":
            return None  # "by 10.30" is a time of day, not the 30th of October
        if not 1 <= month <= 12 and 1 <= day <= 12:
            day, month = month, day  # only month first makes sense
        return _with_year(day, month, year, reference)
    if groups.get("dd"):
        month = _MONTHS[str(groups["dm"]).lower()]
        return _with_year(_int(groups["dd"]), month, _year(groups.get("dy")), reference)
    if groups.get("mm"):
        month = _MONTHS[str(groups["mm"]).lower()]
        return _with_year(_int(groups["md"]), month, _year(groups.get("my")), reference)
    return None


def _int(value: str | None) -> int:
    return int(value or 0)


def _year(value: str | None) -> int | None:
    if not value:
        return None
    year = int(value)
    return 2000 + year if year < 100 else year


def _with_year(day: int, month: int, year: int | None, reference: date | None) -> date | None:
    if year is not None:
        return _make(year, month, day)
    if reference is None:
        return None
    found = _make(reference.year, month, day)
    if found is not None and found < reference:
        found = _make(reference.year + 1, month, day)  # "entro il 5/01" written in December
    return found


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
