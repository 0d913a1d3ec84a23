"""What happens to a shipment over its life, as rules: who is told about a change, when a
delivered shipment is looked at again, what a notification says.

Pure functions and values; storage applies them when it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.shipments import READY_FOR_PICKUP, Change, Status, needs_person, shown_status

# After delivery a shipment is looked at again after 1, 2 and 3 more days: "delivered"
# sometimes turns into a return.
DELIVERED_RECHECK_DELAYS = (timedelta(days=1), timedelta(days=2), timedelta(days=3))
# What a chat in "important only" mode is told about (shown statuses, see `shown_status`).
IMPORTANT_STATUSES = frozenset(
    {
        Status.PICKUP.value,
        READY_FOR_PICKUP,
        Status.DELIVERED.value,
        Status.UNDELIVERED.value,
        Status.EXCEPTION.value,
        Status.EXPIRED.value,
    }
)
NOTIFY_MODES = ("all", "important")
# Events listed in one notification; the rest are counted ("and 4 more").
MAX_EVENTS_IN_NOTIFICATION = 3


def is_important(change: Change) -> bool:
    """A change to an important status, or a new expected delivery date (someone may wait
    at home for it)."""
    important_status = change.status_changed and change.new_shown in IMPORTANT_STATUSES
    return important_status or change.expected_changed


def is_told_to(change: Change, notify_mode: str) -> bool:
    """Whether a chat in this `/notify` mode hears about the change (muted ones hear nothing)."""
    return change.worth_telling and (notify_mode != "important" or is_important(change))


def first_recheck(delivered_at: datetime) -> tuple[int, datetime]:
    """A shipment just delivered: how many re-checks it gets, and when the first one is."""
    return len(DELIVERED_RECHECK_DELAYS), delivered_at + DELIVERED_RECHECK_DELAYS[0]


def after_recheck(rechecks_left: int, now: datetime) -> tuple[int, datetime | None]:
    """A delivered shipment was looked at again and had not changed: re-checks left, and
    when the next one is (None when it was the last)."""
    left = rechecks_left - 1
    if left <= 0:
        return 0, None
    return left, now + DELIVERED_RECHECK_DELAYS[len(DELIVERED_RECHECK_DELAYS) - left]


@dataclass(frozen=True)
class NoticeEvent:
    description: str
    location: str = ""
    occurred_at: str | None = None  # ISO, naive Europe/Rome
    raw_time: str = ""
    status: str = ""


@dataclass(frozen=True)
class Notice:
    """What a notification about one change says, rendered later in each chat's language."""

    status: str
    old_status: str | None = None
    substatus: str = ""
    events: tuple[NoticeEvent, ...] = ()  # newest first
    more_events: int = 0
    expected_delivery: str = ""  # ISO date, the newest the carrier gave
    date_only: bool = False  # nothing new but the expected delivery date
    signed_by: str = ""

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.substatus)

    @property
    def needs_person(self) -> bool:
        """Rings even in quiet hours; in a group, mentions who added the shipment."""
        return needs_person(self.status, self.substatus)

    @classmethod
    def of(cls, change: Change) -> Notice:
        shown = change.new_checkpoints[:MAX_EVENTS_IN_NOTIFICATION]
        return cls(
            status=change.new_status,
            old_status=change.old_status,
            substatus=change.substatus,
            events=tuple(
                NoticeEvent(
                    c.description,
                    c.location,
                    c.occurred_at.isoformat(timespec="seconds") if c.occurred_at else None,
                    c.raw_time,
                    c.status,
                )
                for c in shown
            ),
            more_events=max(0, len(change.new_checkpoints) - len(shown)),
            expected_delivery=change.new_expected,
            date_only=change.date_only,
            signed_by=change.signed_by,
        )
