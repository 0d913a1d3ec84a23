"""The pure rules and storage pieces behind backlogs, crash marks, a full disk and floods."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.backlog import merge_notices
from bot.core.flood import Admission, SlowDownNotes, admission, window_slices
from bot.core.lifecycle import MAX_EVENTS_IN_NOTIFICATION, Notice, NoticeEvent
from bot.core.shipments import Checkpoint, Snapshot
from bot.core.times import utcnow
from bot.outbound.notifier import merged, telegram_down_wait
from bot.storage import Storage
from bot.storage.database import StorageWriteError, _UrgentFirstLock, write_failure

POSTE, CODE = "poste-italiane", "RR123456785IT"


def event(text: str, hour: int) -> NoticeEvent:
    return NoticeEvent(text, "ROMA", f"2026-11-20T{hour:02d}:00:00")


def test_merged_notices_keep_the_newest_status_and_every_event_newest_first() -> None:
    first = Notice("transit", "pending", "", (event("a", 9),))
    second = Notice("transit", "transit", "", (event("c", 11), event("b", 10)))
    third = Notice("pickup", "transit", "pickup001", (event("d", 12),))
    notice = merge_notices([first, second, third])
    assert (notice.status, notice.substatus, notice.old_status) == (
        "pickup",
        "pickup001",
        "pending",
    )
    shown = [e.description for e in notice.events]
    assert shown == ["d", "c", "b"][:MAX_EVENTS_IN_NOTIFICATION]
    assert notice.more_events == 4 - len(shown)


def test_merging_one_notice_is_that_notice_and_repeats_are_listed_once() -> None:
    only = Notice("transit", None, "", (event("a", 9),), more_events=2)
    assert merge_notices([only]) is only
    twice = merge_notices([only, Notice("transit", "transit", "", (event("a", 9),))])
    assert [e.description for e in twice.events] == ["a"] and twice.more_events == 2
    with pytest.raises(ValueError):
        merge_notices([])


def test_telegram_down_waits_double_up_to_a_minute() -> None:
    assert [telegram_down_wait(n) for n in (1, 2, 3, 7, 50)] == [1, 2, 4, 60, 60]


def test_the_user_window_is_this_second_and_the_ten_before() -> None:
    assert window_slices(1_700_000_005.9) == (1_700_000_005, 1_699_999_995)
    assert window_slices(12.0, window=3) == (12, 9)
    with pytest.raises(ValueError):
        window_slices(12.0, window=0)


def test_a_full_window_drops_with_one_note_an_episode() -> None:
    notes = SlowDownNotes()
    verdicts = [notes.admit(1, hits, limit=3) for hits in (1, 2, 3, 4, 5, 6)]
    assert verdicts == [Admission.ANSWER] * 3 + [Admission.WARN, Admission.DROP, Admission.DROP]
    assert notes.admit(2, 1, limit=3) == Admission.ANSWER  # another user is not held back
    assert notes.admit(1, 5, limit=3) == Admission.DROP  # still over, even as the window slides
    assert notes.admit(1, 3, limit=3) == Admission.ANSWER  # slowed down: the episode ends
    assert notes.admit(1, 4, limit=3) == Admission.WARN  # a new episode, a new note
    assert admission(21, warned=False) == Admission.WARN
    assert admission(20, warned=True) == Admission.ANSWER


def test_the_notes_remember_a_bounded_number_of_users() -> None:
    notes = SlowDownNotes(max_users=2)
    for user in range(5):
        assert notes.admit(user, 2, limit=1) == Admission.WARN
    assert len(notes) == 2
    assert notes.admit(0, 2, limit=1) == Admission.WARN  # forgotten: warned again
    assert notes.admit(4, 2, limit=1) == Admission.DROP


async def test_urgent_waiters_go_first() -> None:
    lock, order = _UrgentFirstLock(), []

    async def use(name: str, *, urgent: bool = False) -> None:
        async with lock.held(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)

    async with lock.held():
        tasks = [asyncio.create_task(use("read")), asyncio.create_task(use("read 2"))]
        tasks.append(asyncio.create_task(use("mark", urgent=True)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["mark", "read", "read 2"]


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    lock = _UrgentFirstLock()
    async with lock.held():
        waiter = asyncio.create_task(_hold(lock))
        await asyncio.sleep(0)
        waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(_hold(lock), 1)


async def _hold(lock: _UrgentFirstLock) -> None:
    async with lock.held():
        pass


def test_write_failures_are_told_apart_from_sql_errors() -> None:
    assert write_failure(_full()) == "database or disk is full"
    assert write_failure(sqlite3.OperationalError("no such table: x")) is None
    assert write_failure(ValueError("x")) is None


@pytest.fixture
async def storage(database: Path | str):  # type: ignore[no-untyped-def]
    opened = await Storage.open(database)
    yield opened
    await opened.close()


def moved(text: str, hour: int, status: str = "transit") -> Snapshot:
    when = datetime(2026, 11, 20, hour)
    checkpoint = Checkpoint(text, "ROMA", when, when.isoformat())
    return Snapshot(POSTE, CODE, status, checkpoints=(checkpoint,), carrier_id="tm-1")


async def test_a_due_row_brings_the_same_shipments_later_rows(storage: Storage) -> None:
    await storage.chats.touch_chat(1, "private", None, "en")
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.changes.ingest([Snapshot(POSTE, CODE, "pending")], notify=False)
    await storage.changes.ingest([moved("In transito", 9)])
    [first] = await storage.outbox.due_notifications()
    later = utcnow() + timedelta(hours=1)
    await storage.outbox.postpone_chat(first.ids, 1, later, "down", spend_attempt=False)
    assert await storage.outbox.due_notifications() == []
    await storage.changes.ingest([moved("In consegna", 11, "pickup")])

    due = await storage.outbox.due_notifications()
    assert [n.attempts for n in due] == [0, 0]  # Telegram's failure spent no attempt
    [message] = merged(due)
    assert message.ids == (due[0].id, due[1].id)
    assert message.notice.status == "pickup"
    assert [e.description for e in message.notice.events] == ["In consegna", "In transito"]
    await storage.outbox.mark_sent(*message.ids)
    assert await storage.outbox.outbox_backlog() == 0


async def test_a_refused_write_is_raised_as_such_and_keeps_nothing(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "postino.sqlite3")
    told: list[str | None] = []

    async def listener(error: str | None) -> None:
        told.append(error)

    storage.database.add_write_listener(listener)
    await storage.chats.touch_chat(1, "private", None, "en")
    for _ in range(2):
        with pytest.raises(StorageWriteError):
            async with storage.database.transaction() as db:
                await db.execute("UPDATE chats SET language='it'")
                raise _full()
    chat = await storage.chats.get_chat(1)
    assert chat is not None and chat.language is None  # rolled back whole
    await asyncio.sleep(0.01)
    assert told == ["database or disk is full"]  # once an episode
    await storage.close()


def _full() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL
    return error
