"""Shipment domain types shared by the carrier client, storage, the engine and the texts.

Nothing here does I/O. Times of checkpoints are naive local times of Italy (see
`bot.core.times`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property

logger = logging.getLogger(__name__)


class Status(StrEnum):
    PENDING = "pending"
    NOTFOUND = "notfound"
    INFORECEIVED = "inforeceived"
    TRANSIT = "transit"
    PICKUP = "pickup"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"


KNOWN_STATUSES = frozenset(s.value for s in Status)
TERMINAL_STATUSES = frozenset({Status.DELIVERED.value, Status.EXPIRED.value})
ATTENTION_STATUSES = frozenset({Status.EXCEPTION.value, Status.UNDELIVERED.value})
NOT_STARTED_STATUSES = frozenset({Status.PENDING.value, Status.NOTFOUND.value})

# TrackingMore's `pickup` is "out for delivery" or, with substatus pickup002, "ready for
# collection" (waiting at a post office or a pick-up point): two things for the person, so
# two shown statuses. The shown status is what texts name, what /list groups by and what a
# change is about; stored data keeps TrackingMore's delivery_status and substatus.
READY_FOR_PICKUP = "ready_for_pickup"
READY_FOR_PICKUP_SUBSTATUS = "pickup002"
# What needs the person: rings in quiet hours, mentions who added it in a group, "needs
# attention" in the reports.
NEEDS_PERSON = ATTENTION_STATUSES | {READY_FOR_PICKUP}
# The order of every list of shipments (/list, the web desk): what needs a person first,
# delivered last; shown statuses, "" for none yet.
ATTENTION_ORDER = (
    Status.EXCEPTION.value,
    Status.UNDELIVERED.value,
    READY_FOR_PICKUP,
    Status.EXPIRED.value,
    Status.PICKUP.value,
    Status.TRANSIT.value,
    Status.INFORECEIVED.value,
    Status.NOTFOUND.value,
    Status.PENDING.value,
    "",
    Status.DELIVERED.value,
)


def attention_rank(status: str, order: Sequence[str] = ATTENTION_ORDER) -> int:
    """Where a shown status goes in `order` (one never heard of: with "")."""
    return order.index(status) if status in order else order.index("")


_logged_unknown: set[str] = set()


def shown_status(status: str | None, substatus: str | None = "") -> str:
    """The status a person is told: the delivery_status, except `ready_for_pickup` for a
    parcel waiting to be collected; "" when there is none yet."""
    if status == Status.PICKUP and substatus == READY_FOR_PICKUP_SUBSTATUS:
        return READY_FOR_PICKUP
    return status or ""


def needs_person(status: str | None, substatus: str | None = "") -> bool:
    """Exceptions, failed deliveries and parcels to collect: someone has to act."""
    return shown_status(status, substatus) in NEEDS_PERSON


def note_status(status: str) -> str:
    """Return the status unchanged; log an unknown value the first time it is seen."""
    if status and status not in KNOWN_STATUSES and status not in _logged_unknown:
        _logged_unknown.add(status)
        logger.warning("unknown delivery_status %r from the carrier; shown as is", status)
    return status


@dataclass(frozen=True)
class Checkpoint:
    description: str
    location: str = ""
    occurred_at: datetime | None = None  # naive, Europe/Rome
    raw_time: str = ""
    status: str = ""
    substatus: str = ""

    @cached_property
    def fingerprint(self) -> str:
        """Identity of a checkpoint across polls: what happened, where and when."""
        # The parsed time, not the raw text: carriers reformat dates between answers.
        when = (
            self.occurred_at.isoformat(timespec="minutes")
            if self.occurred_at
            else normalize_space(self.raw_time)
        )
        what = normalize_space(self.description).casefold()
        where = normalize_space(self.location).casefold()
        key = "\x1f".join((when, what, where))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def sort_key(self) -> tuple[int, datetime]:
        return (self.occurred_at is not None, self.occurred_at or datetime.min)


@dataclass(frozen=True)
class Snapshot:
    """What the carrier says about one shipment at one moment."""

    courier: str
    code: str
    status: str
    substatus: str = ""
    carrier_id: str = ""
    checkpoints: tuple[Checkpoint, ...] = field(default_factory=tuple)  # newest first
    signature: str = ""  # see carrier.tracking_signature
    expected_delivery: str = ""  # ISO date (scheduled_delivery_date), "" when not given
    signed_by: str = ""  # who signed for it, when the carrier says
    transit_days: int | None = None  # TrackingMore's transit_time

    def keyed(self, courier: str, code: str) -> Snapshot:
        """The same snapshot under our own (courier, code) spelling."""
        if (courier, code) == (self.courier, self.code):
            return self
        return replace(self, courier=courier, code=code)


@dataclass(frozen=True)
class Change:
    """What is new in a snapshot compared with what is stored."""

    shipment_id: int
    old_status: str | None
    new_status: str
    substatus: str
    new_checkpoints: tuple[Checkpoint, ...]  # newest first
    old_substatus: str = ""
    old_expected: str = ""  # the expected delivery date stored before (ISO date)
    new_expected: str = ""  # the one the carrier gives now
    signed_by: str = ""

    @property
    def old_shown(self) -> str | None:
        return (
            None if self.old_status is None else shown_status(self.old_status, self.old_substatus)
        )

    @property
    def new_shown(self) -> str:
        return shown_status(self.new_status, self.substatus)

    @property
    def status_changed(self) -> bool:
        """Whether the shown status changed (pickup001 → pickup002 is one such change)."""
        return self.old_shown != self.new_shown

    @property
    def expected_changed(self) -> bool:
        """The carrier gives a new expected delivery date (a date dropped is not news, nor is
        one given for a parcel already delivered)."""
        if self.new_status == Status.DELIVERED:
            return False
        return bool(self.new_expected) and self.new_expected != self.old_expected

    @property
    def date_only(self) -> bool:
        """Nothing new but the expected delivery date: told as just the date."""
        moved = self.new_checkpoints or self.status_changed or self.old_status != self.new_status
        return self.old_status is not None and not moved and self.expected_changed

    @property
    def worth_telling(self) -> bool:
        """Anything but a first sight of a shipment that has not started moving."""
        if self.old_status is None and not self.new_checkpoints:
            return self.new_status not in NOT_STARTED_STATUSES
        return True


def diff(
    shipment_id: int,
    old_status: str | None,
    known_fingerprints: set[str],
    snapshot: Snapshot,
    old_substatus: str | None = "",
    old_expected: str | None = "",
) -> Change | None:
    """What is new, or None when the snapshot says nothing the store does not know: no new
    checkpoint, the same shown status and no new expected delivery date (a new substatus
    alone that changes nothing shown is not a change)."""
    new = tuple(c for c in snapshot.checkpoints if c.fingerprint not in known_fingerprints)
    change = Change(
        shipment_id,
        old_status,
        snapshot.status,
        snapshot.substatus,
        new,
        old_substatus or "",
        old_expected or "",
        snapshot.expected_delivery,
        snapshot.signed_by,
    )
    if (
        old_status == snapshot.status
        and not new
        and not change.status_changed
        and not change.expected_changed
    ):
        return None
    return change


def merge_checkpoints(groups: Iterable[Iterable[Checkpoint]]) -> tuple[Checkpoint, ...]:
    """Merge origin and destination lists, drop duplicates, newest first (stable)."""
    seen: set[str] = set()
    merged: list[Checkpoint] = []
    for group in groups:
        for checkpoint in group:
            if checkpoint.fingerprint not in seen:
                seen.add(checkpoint.fingerprint)
                merged.append(checkpoint)
    # Python's sort is stable: checkpoints without a time keep their given order at the end.
    merged.sort(key=lambda c: c.sort_key, reverse=True)
    return tuple(merged)


def normalize_space(text: str) -> str:
    # str.split() splits on exactly what `\s` matches, and is four times faster.
    return " ".join(text.split())
