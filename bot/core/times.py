"""Time in postino: Europe/Rome for people, UTC in the database.

Times of checkpoints are kept as naive local times of Italy (Europe/Rome): TrackingMore
sends them without an offset, in the courier's local time, which for Italian couriers
already is Italian time; a value that does carry an offset is converted to Europe/Rome.
Times of day that chats choose (quiet hours, the digest) are Rome times too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.core.shipments import normalize_space

ROME = ZoneInfo("Europe/Rome")

_CLOCK_RE = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def parse_clock(text: str) -> str | None:
    """`8:30`, `08.30` or `08:30` → `08:30`; None when it is not a time of day."""
    match = _CLOCK_RE.match(text.strip())
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"


def parse_window(text: str) -> tuple[str, str] | None:
    """`22:00-07:30` → ("22:00", "07:30"); the window may cross midnight."""
    start, sep, end = text.replace("–", "-").replace(" ", "").partition("-")
    if not sep:
        return None
    parsed = parse_clock(start), parse_clock(end)
    if parsed[0] is None or parsed[1] is None or parsed[0] == parsed[1]:
        return None
    return parsed[0], parsed[1]


def rome_now() -> datetime:
    return datetime.now(ROME)


def in_window(start: str | None, end: str | None, moment: datetime | None = None) -> bool:
    """Whether the Rome time of `moment` (default now) falls in [start, end)."""
    if not start or not end:
        return False
    now = (moment or rome_now()).astimezone(ROME).time().replace(second=0, microsecond=0)
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish


_NAIVE_FORMATS: Sequence[str] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y/%m/%d",
)


def parse_carrier_time(raw: object) -> datetime | None:
    """Parse a checkpoint time leniently into a naive Europe/Rome datetime, or None."""
    if not isinstance(raw, str):
        return None
    text = normalize_space(raw.replace("T", " ", 1))
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = _parse_with_formats(text)
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(ROME).replace(tzinfo=None)
    return parsed


def _parse_with_formats(text: str) -> datetime | None:
    for fmt in _NAIVE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> str:
    """The date in Italy, as the day of daily counters."""
    return datetime.now(ROME).date().isoformat()


def iso_utc(moment: datetime | None = None) -> str:
    """A sortable UTC timestamp for the database."""
    return (moment or utcnow()).astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def rome_clock(moment: datetime) -> tuple[str, str]:
    """('HH:MM', 'YYYY-MM-DD') of a moment in Italy."""
    local = moment.astimezone(ROME)
    return local.strftime("%H:%M"), local.date().isoformat()
