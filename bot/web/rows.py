"""What the desk's page shows of a shipment: rows and timelines as plain JSON values, with
the localized texts ready (the page adds no words of its own)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from bot.core.shipments import ATTENTION_ORDER, Status, shown_status
from bot.core.shipments import attention_rank as rank_in
from bot.core.times import ROME, parse_iso_utc
from bot.storage import Event
from bot.storage.desk import DeskEntry
from bot.texts.couriers import courier_name
from bot.texts.i18n import Translator, translator
from bot.texts.links import CARRIER_PAGES, deep_link
from bot.texts.message import html_to_plain
from bot.texts.shipments import local_time

REFUSED = "refused"
# The default order of the page is /list's, what needs a person first; a code TrackingMore
# refused is one of the problems, before an expired one. Those up to expired stand out.
_ORDER = (*ATTENTION_ORDER[:3], REFUSED, *ATTENTION_ORDER[3:])
_ATTENTION = frozenset(_ORDER[: _ORDER.index(Status.EXPIRED.value) + 1])
# Formatting a time (Babel) is most of the cost of a row; the page asks every 2 s for rows
# whose times seldom change, so the texts of the last many times are kept.
_KEPT_TEXTS = 32_768

Row = dict[str, Any]


def row_status(entry: DeskEntry) -> str:
    row = entry.row
    return REFUSED if row.refused else (shown_status(row.status, row.substatus) or "pending")


def attention_rank(status: str) -> int:
    return rank_in(status, _ORDER)


def status_text(t: Translator, status: str) -> str:
    return _status_text(t.language, status)


@lru_cache(maxsize=256)
def _status_text(language: str, status: str) -> str:
    t = translator(language)
    return html_to_plain(t("status.refused") if status == REFUSED else t.status(status))


def _rome_iso(naive_local: str | None) -> str | None:
    moment = parse_iso_utc(naive_local)
    if moment is None:
        return None
    return (moment.replace(tzinfo=ROME) if moment.tzinfo is None else moment).isoformat()


@lru_cache(maxsize=_KEPT_TEXTS)
def _utc_text(language: str, value: str | None) -> str | None:
    moment = parse_iso_utc(value)
    if moment is None:
        return None
    return translator(language).datetime(moment.astimezone(ROME), with_year=True)


@lru_cache(maxsize=_KEPT_TEXTS)
def _event_text(language: str, occurred: str | None, raw: str) -> str | None:
    return local_time(translator(language), occurred, raw) or None


@lru_cache(maxsize=_KEPT_TEXTS)
def _expected_text(language: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return translator(language).date(date.fromisoformat(value))
    except ValueError:
        return value


def carrier_url(code: str, courier: str) -> str | None:
    page = CARRIER_PAGES.get(courier)
    return None if page is None else page[1].format(code=code)


def desk_row(t: Translator, entry: DeskEntry, *, user_id: int, can_manage: bool) -> Row:
    row = entry.row
    status = row_status(entry)
    occurred = row.event_occurred_at
    return {
        "id": entry.shipment_id,
        "code": row.code,
        "courier": row.courier,
        "courier_name": courier_name(row.courier),
        "carrier_url": carrier_url(row.code, row.courier),
        "follow_url": deep_link(row.code, row.courier) or "",
        "label": row.label,
        "status": status,
        "status_text": status_text(t, status),
        "attention": status in _ATTENTION,
        "attention_rank": attention_rank(status),
        "last_event": row.event_description,
        "place": row.event_location or None,
        "time": _rome_iso(occurred),
        "time_text": _event_text(t.language, occurred, row.event_raw_time or ""),
        "expected_delivery": row.expected_delivery,
        "expected_text": _expected_text(t.language, row.expected_delivery),
        "signed_by": row.signed_by,
        "added_by": row.added_by_name,
        "added_at": row.added_at,
        "added_text": _utc_text(t.language, row.added_at) or row.added_at,
        "muted": row.muted,
        "archived": row.archived_at is not None,
        "can_remove": may_remove(entry.added_by, user_id, can_manage),
    }


def may_remove(added_by: int | None, user_id: int, can_manage: bool) -> bool:
    """As in the chat: one's own shipments (or nobody's), or any for whoever manages the
    chat (its user in a private chat, a group's administrators, the bot's admins)."""
    return can_manage or added_by is None or added_by == user_id


def rows_of(
    t: Translator, entries: Sequence[DeskEntry], *, user_id: int, can_manage: bool
) -> list[Row]:
    return [desk_row(t, e, user_id=user_id, can_manage=can_manage) for e in entries]


def revision(
    fingerprint: Sequence[tuple[Any, ...]], *, language: str, user_id: int, can_manage: bool
) -> str:
    """The rows' ETag: what they are made of (`DeskAccess.fingerprint`) and what shapes them
    for this reader (the language of their words, who may remove what)."""
    digest = hashlib.sha256(f"{language}|{user_id}|{can_manage}".encode())
    for row in fingerprint:
        digest.update(repr(row).encode())
    return digest.hexdigest()[:32]


def timeline(t: Translator, events: Sequence[Event]) -> list[dict[str, str | None]]:
    return [
        {
            "time_text": local_time(t, e.occurred_at, e.raw_time) or None,
            "description": e.description,
            "place": e.location or None,
            "status_text": (
                status_text(t, shown_status(e.status, e.substatus)) if e.status else None
            ),
        }
        for e in events
    ]
