"""The rows storage hands out: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.core.lifecycle import Notice, NoticeEvent


@dataclass(frozen=True)
class Chat:
    id: int
    type: str
    title: str | None
    language: str | None
    user_language: str | None
    blocked_at: str | None
    notify_mode: str = "all"
    quiet_start: str | None = None
    quiet_end: str | None = None


@dataclass(frozen=True)
class Shipment:
    id: int
    courier: str
    code: str
    carrier_id: str | None
    registered: bool
    status: str | None
    substatus: str | None
    latest_event_at: str | None
    last_change_at: str | None
    refused: bool = False  # TrackingMore refused the number as invalid
    delivered_at: str | None = None
    refreshed_at: str | None = None
    carrier_signature: str | None = None
    expected_delivery: str | None = None  # ISO date
    signed_by: str | None = None
    transit_days: int | None = None


@dataclass(frozen=True)
class Followed:
    """A shipment as one chat follows it."""

    shipment: Shipment
    label: str | None
    added_by: int | None
    added_by_name: str | None
    added_at: str
    muted: bool = False
    archived_at: str | None = None
    thread_id: int | None = None  # the forum topic it belongs to; None: General, or no topics


@dataclass(frozen=True)
class Searchable:
    """A shipment a chat follows (archived ones too) with its newest event: what /find reads."""

    followed: Followed
    event_description: str | None
    event_location: str | None


@dataclass(frozen=True)
class Event:
    occurred_at: str | None
    raw_time: str
    status: str
    substatus: str
    description: str
    location: str


@dataclass(frozen=True)
class Totals:
    shipments_followed: int
    shipments_active: int
    subscriptions: int
    chats: int
    chats_paused: int
    outbox_backlog: int
    oldest_pending_at: str | None


@dataclass(frozen=True)
class Notification:
    id: int
    chat_id: int
    chat_type: str
    chat_language: str | None
    chat_user_language: str | None
    shipment_id: int
    courier: str
    code: str
    label: str | None
    following: bool
    notice: Notice
    attempts: int
    created_at: str
    quiet_start: str | None = None
    quiet_end: str | None = None
    added_by: int | None = None
    added_by_name: str | None = None
    thread_id: int | None = None  # the forum topic to write in; None: General, or no topics
    topic_name: str | None = None
    topic_closed_at: str | None = None  # when Telegram last said the topic is closed
    merged_ids: tuple[int, ...] = ()  # the outbox rows told by this one message, when several

    @property
    def ids(self) -> tuple[int, ...]:
        """The outbox rows this message tells: marked together once Telegram accepted it."""
        return self.merged_ids or (self.id,)


@dataclass(frozen=True)
class Gauges:
    shipments_by_status: dict[str, int]
    chats_active: int
    chats_paused: int
    outbox_pending: int
    oldest_pending_created_at: str | None


@dataclass(frozen=True)
class DeskRow:
    """One shipment as a chat follows it, with its newest event: a line of the desk reports."""

    code: str
    courier: str
    label: str | None
    status: str | None
    substatus: str | None
    refused: bool
    latest_event_at: str | None  # naive Europe/Rome
    last_change_at: str | None  # UTC
    added_by_name: str | None
    added_at: str  # UTC
    delivered_at: str | None  # UTC
    archived_at: str | None  # UTC
    muted: bool
    event_description: str | None
    event_location: str | None
    event_occurred_at: str | None  # naive Europe/Rome
    event_raw_time: str | None
    expected_delivery: str | None = None  # ISO date
    signed_by: str | None = None
    transit_days: int | None = None


@dataclass(frozen=True)
class DigestChat:
    id: int
    type: str
    language: str | None
    user_language: str | None


CHAT_COLUMNS = (
    "id, type, title, language, user_language, blocked_at, notify_mode, quiet_start, quiet_end"
)


SHIPMENT_COLUMNS = (
    "sh.id, sh.courier, sh.code, sh.carrier_id, sh.registered, sh.status, sh.substatus, "
    "sh.latest_event_at, sh.last_change_at, sh.delivered_at, sh.refreshed_at, "
    "sh.carrier_signature, sh.expected_delivery, sh.signed_by, sh.transit_days"
)
SHIPMENT_WIDTH = 15
FOLLOWED_COLUMNS = (
    f"{SHIPMENT_COLUMNS}, s.label, s.added_by, s.added_by_name, s.added_at, s.muted, "
    "s.archived_at, s.thread_id"
)
FOLLOWED_WIDTH = SHIPMENT_WIDTH + 7


def shipment_of(row: Sequence[Any]) -> Shipment:
    return Shipment(
        id=row[0],
        courier=row[1],
        code=row[2],
        carrier_id=row[3],
        registered=row[4] == 1,
        status=row[5],
        substatus=row[6],
        latest_event_at=row[7],
        last_change_at=row[8],
        refused=row[4] == -1,
        delivered_at=row[9],
        refreshed_at=row[10],
        carrier_signature=row[11],
        expected_delivery=row[12],
        signed_by=row[13],
        transit_days=row[14],
    )


def followed_of(row: Sequence[Any]) -> Followed:
    label, added_by, added_by_name, added_at, muted, archived_at, thread_id = row[
        SHIPMENT_WIDTH:FOLLOWED_WIDTH
    ]
    return Followed(
        shipment_of(row),
        label,
        added_by,
        added_by_name,
        added_at,
        bool(muted),
        archived_at,
        thread_id,
    )


# Each shipment's newest event as `e` (the one /status lists first), for a query on `sh`.
NEWEST_EVENT_JOIN = (
    "LEFT JOIN events e ON e.id = (SELECT id FROM events WHERE shipment_id = sh.id "
    "ORDER BY occurred_at IS NULL, occurred_at DESC, id ASC LIMIT 1) "
)
# What `desk_row_of` reads, from subscriptions `s`, shipments `sh` and NEWEST_EVENT_JOIN.
DESK_ROW_COLUMNS = (
    "sh.code, sh.courier, s.label, sh.status, sh.substatus, sh.registered = -1, "
    "sh.latest_event_at, sh.last_change_at, s.added_by_name, s.added_at, "
    "sh.delivered_at, s.archived_at, s.muted, "
    "e.description, e.location, e.occurred_at, e.raw_time, "
    "sh.expected_delivery, sh.signed_by, sh.transit_days"
)


def desk_row_of(row: Sequence[Any]) -> DeskRow:
    values = list(row)
    values[5] = bool(values[5])
    values[12] = bool(values[12])
    return DeskRow(*values)


def encode_notice(notice: Notice) -> str:
    """The outbox's `payload` column: JSON with the keys of the first release, and since v6
    `expected_delivery`, `date_only` and `signed_by` only when they say something (rows
    queued before decode without them, and older replicas ignore them)."""
    data = asdict(notice)
    for key in _SINCE_V6:
        if not data[key]:
            del data[key]
    return json.dumps(data, ensure_ascii=False)


_SINCE_V6 = ("expected_delivery", "date_only", "signed_by")


def decode_notice(payload: str) -> Notice:
    data = json.loads(payload)
    events = tuple(
        NoticeEvent(
            description=str(e.get("description") or ""),
            location=str(e.get("location") or ""),
            occurred_at=e.get("occurred_at") or None,
            raw_time=str(e.get("raw_time") or ""),
            status=str(e.get("status") or ""),
        )
        for e in data.get("events") or []
    )
    return Notice(
        status=str(data.get("status") or ""),
        old_status=data.get("old_status"),
        substatus=str(data.get("substatus") or ""),
        events=events,
        more_events=int(data.get("more_events") or 0),
        expected_delivery=str(data.get("expected_delivery") or ""),
        date_only=bool(data.get("date_only")),
        signed_by=str(data.get("signed_by") or ""),
    )
