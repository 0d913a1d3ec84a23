"""Times of day chosen by chats (quiet hours, digest), always in Europe/Rome."""

from __future__ import annotations

import re
from datetime import datetime, time

from bot.tracking import ROME

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
