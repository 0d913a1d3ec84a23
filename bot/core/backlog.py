"""A backlog told as one message: the unsent notices about one shipment for one chat become
one notice — the newest status, the newest expected delivery date, and every event since the
last message, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.lifecycle import MAX_EVENTS_IN_NOTIFICATION, Notice, NoticeEvent


def merge_notices(notices: Sequence[Notice]) -> Notice:
    """`notices` oldest first (as they were queued) → one notice: the newest status and
    substatus, the status before the oldest, the events of all of them newest first (an
    event told twice is listed once), capped as a single notice is, the rest counted; the
    expected delivery date and who signed as the newest says, and "just the date" only when
    every notice was."""
    if not notices:
        raise ValueError("no notice to merge")
    if len(notices) == 1:
        return notices[0]
    newest = notices[-1]
    events: list[NoticeEvent] = []
    seen: set[NoticeEvent] = set()
    uncounted = 0
    for notice in reversed(notices):
        for event in notice.events:
            if event not in seen:
                seen.add(event)
                events.append(event)
        uncounted += notice.more_events
    shown = events[:MAX_EVENTS_IN_NOTIFICATION]
    return Notice(
        status=newest.status,
        old_status=notices[0].old_status,
        substatus=newest.substatus,
        events=tuple(shown),
        more_events=uncounted + len(events) - len(shown),
        expected_delivery=newest.expected_delivery,
        date_only=all(n.date_only for n in notices),
        signed_by=newest.signed_by,
    )
