"""Storage on a real SQLite file: sharing, the diff-and-outbox transaction, chat moves."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.flood import USER_UPDATES_LIMIT
from bot.core.shipments import Checkpoint, Snapshot
from bot.core.times import iso_utc, utcnow
from bot.storage import SCHEMA_VERSION, Storage
from bot.storage.desk import DeskGrant

CODE = "RR123456785IT"
POSTE = "poste-italiane"


@pytest.fixture
async def storage(database: Path | str):  # type: ignore[no-untyped-def]
    opened = await Storage.open(database)
    yield opened
    await opened.close()


def snapshot(status: str, *events: tuple[str, str, datetime]) -> Snapshot:
    checkpoints = tuple(Checkpoint(d, loc, when, when.isoformat()) for d, loc, when in events)
    return Snapshot(POSTE, CODE, status, carrier_id="tm-1", checkpoints=checkpoints)


async def add_chats(storage: Storage, *chat_ids: int) -> None:
    for chat_id in chat_ids:
        await storage.chats.touch_chat(chat_id, "private" if chat_id > 0 else "group", None, "it")


async def test_open_sets_pragmas_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "postino.sqlite3"
    opened = await Storage.open(path)
    assert await opened.schema_version() == SCHEMA_VERSION
    await opened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_one_shipment_row_shared_by_many_chats(storage: Storage) -> None:
    await add_chats(storage, 1, 2, -3)
    first, new1 = await storage.follows.follow(1, POSTE, CODE, "mum", 1, "Ada")
    second, new2 = await storage.follows.follow(2, POSTE, CODE, None, 2, "Bo")
    again, new3 = await storage.follows.follow(1, POSTE, CODE, "gift", 1, "Ada")
    assert first.id == second.id == again.id
    assert (new1, new2, new3) == (True, True, False)
    followed = await storage.follows.get_followed(1, CODE)
    assert followed is not None and followed.label == "gift"


async def test_following_a_stored_shipment_again_takes_no_id(storage: Storage) -> None:
    """Ids come one after the other on both engines: PostgreSQL's sequence would move on for
    an INSERT that met the existing row (SQLite's rowid would not)."""
    await add_chats(storage, 1, 2)
    first, _ = await storage.follows.follow(1, POSTE, CODE, None, 1, "Ada")
    for chat_id in (2, 1):
        await storage.follows.follow(chat_id, POSTE, CODE, "again", chat_id, "Bo")
    other, is_new = await storage.follows.follow(1, POSTE, "EE123456785IT", None, 1, "Ada")
    assert is_new and other.id == first.id + 1


async def test_nul_characters_are_dropped_on_both_engines(storage: Storage) -> None:
    """PostgreSQL's text cannot hold NUL (the whole poll batch would be refused), SQLite's
    can: neither keeps it, so both store and show the same texts."""
    chat = await storage.chats.touch_chat(1, "group", "Neg\x00ozio", "it")
    assert chat.title == "Negozio"
    shipment, _ = await storage.follows.follow(1, POSTE, CODE, "sca\x00rpe", 1, "A\x00da")
    when = datetime(2026, 11, 20, 9, 30)
    await storage.changes.ingest([snapshot("transit", ("In tran\x00sito", "BO\x00LOGNA", when))])
    [event] = await storage.follows.events(shipment.id)
    assert (event.description, event.location) == ("In transito", "BOLOGNA")
    followed = await storage.follows.get_followed(1, CODE)
    assert followed is not None
    assert (followed.label, followed.added_by_name) == ("scarpe", "Ada")


async def test_ingest_writes_events_status_and_one_row_per_chat(storage: Storage) -> None:
    await add_chats(storage, 1, 2, -3)
    for chat in (1, 2, -3):
        await storage.follows.follow(chat, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snapshot("pending")], notify=False)
    assert await storage.outbox.outbox_backlog() == 0

    moved = snapshot("transit", ("In transito", "BOLOGNA", datetime(2026, 11, 20, 9, 30)))
    changes = await storage.changes.ingest([moved])
    assert len(changes) == 1 and changes[0].old_status == "pending"
    due = await storage.outbox.due_notifications()
    assert sorted(n.chat_id for n in due) == [-3, 1, 2]
    assert due[0].notice.status == "transit"
    assert due[0].notice.events[0].description == "In transito"

    # The same snapshot again is not a change and queues nothing.
    assert await storage.changes.ingest([moved]) == []
    assert await storage.outbox.outbox_backlog() == 3
    shipment = await storage.shipments.get_shipment(POSTE, CODE)
    assert shipment is not None
    assert shipment.status == "transit"
    assert shipment.latest_event_at == "2026-11-20T09:30:00"
    assert shipment.carrier_id == "tm-1"


async def test_stats_count_what_every_replica_sent_from_the_database(storage: Storage) -> None:
    """/stats reads the day's deliveries and the last poll from the database: the replica
    that answers it may not be the one that polls and sends."""
    await add_chats(storage, 1, 2, 3)
    for chat in (1, 2, 3):
        await storage.follows.follow(chat, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snapshot("pending")], notify=False)
    assert await storage.reports.last_poll() is not None
    await storage.changes.ingest([snapshot("transit")])
    due = await storage.outbox.due_notifications()
    await storage.outbox.mark_sent(due[0].id, due[1].id)
    await storage.outbox.mark_failed(due[2].id, "Forbidden")
    day_ago = iso_utc(utcnow() - timedelta(days=1))
    assert await storage.reports.deliveries_since(day_ago) == (2, 1)
    assert await storage.reports.deliveries_since(iso_utc(utcnow() + timedelta(hours=1))) == (
        0,
        0,
    )


async def test_sent_rows_are_not_due_again_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "postino.sqlite3"
    storage = await Storage.open(path)
    await add_chats(storage, 1)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snapshot("transit")])
    [item] = await storage.outbox.due_notifications()
    await storage.outbox.mark_sent(item.id)
    await storage.changes.ingest([snapshot("pickup")])
    await storage.close()

    reopened = await Storage.open(path)
    due = await reopened.outbox.due_notifications()
    assert [n.notice.status for n in due] == ["pickup"]
    await reopened.close()


async def test_blocked_chat_gets_nothing_and_is_not_polled(storage: Storage) -> None:
    await add_chats(storage, 1, 2)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.follows.follow(2, POSTE, CODE, None, None, None)
    await storage.shipments.mark_registered([(POSTE, CODE)])
    await storage.changes.ingest([snapshot("transit")])
    assert await storage.chats.block_chat(1, "Forbidden: bot was blocked by the user") == 1
    assert [n.chat_id for n in await storage.outbox.due_notifications()] == [2]
    assert len(await storage.shipments.shipments_to_poll()) == 1
    await storage.chats.block_chat(2, "blocked")
    assert await storage.shipments.shipments_to_poll() == []
    # Writing to the bot again un-pauses the chat.
    await storage.chats.touch_chat(1, "private", None, "it")
    assert len(await storage.shipments.shipments_to_poll()) == 1


async def test_terminal_shipments_are_not_polled(storage: Storage) -> None:
    await add_chats(storage, 1)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snapshot("transit")], notify=False)
    assert len(await storage.shipments.shipments_to_poll()) == 1
    await storage.changes.ingest([snapshot("delivered")])
    assert await storage.shipments.shipments_to_poll() == []
    assert await storage.outbox.outbox_backlog() == 1  # but the chat is still told


async def test_migrate_chat_moves_subscriptions_and_pending(storage: Storage) -> None:
    await add_chats(storage, -100)
    await storage.chats.set_chat_language(-100, "en")
    await storage.follows.follow(-100, POSTE, CODE, "box", None, None)
    await storage.changes.ingest([snapshot("transit")])
    await storage.desk.add_session("h1", DeskGrant(-100, 7, "Bo"))
    await storage.chats.migrate_chat(-100, -1001234)
    assert await storage.chats.get_chat(-100) is None
    session = await storage.desk.session("h1", utcnow() - timedelta(hours=1))
    assert session is not None and session.chat_id == -1001234  # the web desk follows
    moved = await storage.chats.get_chat(-1001234)
    assert moved is not None and moved.language == "en" and moved.type == "supergroup"
    assert (await storage.follows.get_followed(-1001234, CODE)).label == "box"  # type: ignore[union-attr]
    assert [n.chat_id for n in await storage.outbox.due_notifications()] == [-1001234]


async def test_migrate_into_existing_chat_merges(storage: Storage) -> None:
    await add_chats(storage, -100, -1009)
    await storage.follows.follow(-100, POSTE, CODE, "old", None, None)
    await storage.follows.follow(-1009, POSTE, CODE, "new", None, None)
    await storage.follows.follow(-100, POSTE, "EE123456785IT", None, None, None)
    await storage.chats.migrate_chat(-100, -1009)
    followed = {f.shipment.code: f.label for f in await storage.follows.list_followed(-1009)}
    assert followed == {CODE: "new", "EE123456785IT": None}
    assert await storage.chats.get_chat(-100) is None


async def test_unfollow_drops_pending_rows_of_that_chat_only(storage: Storage) -> None:
    await add_chats(storage, 1, 2)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.follows.follow(2, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snapshot("transit")])
    removed = await storage.follows.unfollow(1, CODE)
    assert removed is not None and removed.code == CODE
    assert await storage.follows.unfollow(1, CODE) is None
    assert [n.chat_id for n in await storage.outbox.due_notifications()] == [2]


async def test_events_newest_first(storage: Storage) -> None:
    await add_chats(storage, 1)
    shipment, _ = await storage.follows.follow(1, POSTE, CODE, None, None, None)
    await storage.changes.ingest(
        [
            snapshot(
                "transit",
                ("Partita", "BOLOGNA", datetime(2026, 11, 21, 8, 0)),
                ("Accettata", "MILANO", datetime(2026, 11, 20, 18, 0)),
            )
        ]
    )
    events = await storage.follows.events(shipment.id)
    assert [e.description for e in events] == ["Partita", "Accettata"]


async def test_searchable_rows_carry_the_newest_event_and_the_archived(storage: Storage) -> None:
    """What /find reads, the same on both engines: archived ones too, with the newest event."""
    await add_chats(storage, 1, 2)
    shipment, _ = await storage.follows.follow(1, POSTE, CODE, "Perché", None, None)
    await storage.follows.follow(1, POSTE, "EE123456785IT", None, None, None)
    await storage.follows.follow(2, POSTE, "CC123456785IT", None, None, None)
    await storage.changes.ingest(
        [
            snapshot(
                "transit",
                ("Accettata", "MILANO", datetime(2026, 11, 20, 18, 0)),
                ("Partita", "BOLOGNA", datetime(2026, 11, 21, 8, 0)),
            )
        ],
        notify=False,
    )
    await storage.follows.set_archived(1, shipment.id, archived=True)
    rows = {row.followed.shipment.code: row for row in await storage.follows.searchable(1)}
    assert set(rows) == {CODE, "EE123456785IT"}
    found = rows[CODE]
    assert (found.event_description, found.event_location) == ("Partita", "BOLOGNA")
    assert found.followed.label == "Perché" and found.followed.archived_at is not None
    assert (rows["EE123456785IT"].event_description, rows["EE123456785IT"].event_location) == (
        None,
        None,
    )


async def test_failed_transaction_leaves_nothing(storage: Storage, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await add_chats(storage, 1)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)

    import bot.storage.changes as module

    def explode(notice):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, "encode_notice", explode)
    moved = snapshot("transit", ("Partita", "BOLOGNA", datetime(2026, 11, 21, 8, 0)))
    with pytest.raises(RuntimeError):
        await storage.changes.ingest([moved])
    shipment = await storage.shipments.get_shipment(POSTE, CODE)
    assert shipment is not None and shipment.status is None
    assert await storage.follows.events(shipment.id) == []
    assert await storage.outbox.outbox_backlog() == 0


async def test_one_poll_batch_is_one_transaction_with_its_unchanged_shipments(
    tmp_path: Path,
) -> None:
    """A batch's changes and the shipments TrackingMore answered as before are written
    together: the unchanged ones get their poll time, and a delivered one its re-check."""
    path = tmp_path / "postino.sqlite3"
    storage = await Storage.open(path)
    other = "RR000000000IT"
    await add_chats(storage, 1)
    await storage.follows.follow(1, POSTE, CODE, None, None, None)
    delivered, _ = await storage.follows.follow(1, POSTE, other, None, None, None)
    await storage.changes.ingest(
        [Snapshot(POSTE, other, "delivered", carrier_id="tm-2")], notify=False
    )
    with sqlite3.connect(path) as db:  # its first re-check is due now
        db.execute(
            "UPDATE shipments SET next_recheck_at='2000-01-01T00:00:00Z', last_polled_at=NULL "
            "WHERE id=?",
            (delivered.id,),
        )
    changes = await storage.changes.ingest([snapshot("transit")], unchanged=[delivered.id])
    await storage.close()

    assert [c.new_status for c in changes] == ["transit"]
    with sqlite3.connect(path) as db:
        left, next_at, polled = db.execute(
            "SELECT rechecks_left, next_recheck_at, last_polled_at FROM shipments WHERE id=?",
            (delivered.id,),
        ).fetchone()
    assert left == 2 and next_at > "2026" and polled is not None


# --- the flood count ---------------------------------------------------------------------


async def test_a_count_that_reaches_the_database_late_sees_the_newer_second(
    storage: Storage,
) -> None:
    """Two updates read the clock either side of a second; the later one counts first."""
    later, earlier = 1_700_000_001, 1_700_000_000
    assert await storage.coordination.count_hit(1001, later, later - 10) == 1
    assert await storage.coordination.count_hit(1001, earlier, earlier - 10) == 2


async def test_concurrent_counts_across_seconds_answer_no_more_than_the_limit(
    storage: Storage,
) -> None:
    """The handlers of one flood count at once (on PostgreSQL on several connections): each
    count includes every one before it, so exactly the limit is answered."""
    flood, seconds = 50, 4

    async def one(user_id: int, n: int) -> int:
        await asyncio.sleep(n * 0.0005)  # in order, overlapping
        current = 1_700_000_000 + n * seconds // flood
        return await storage.coordination.count_hit(user_id, current, current - 10)

    for user_id in range(1, 11):
        totals = await asyncio.gather(*(one(user_id, n) for n in range(flood)))
        assert sorted(totals) == list(range(1, flood + 1))
        assert sum(total <= USER_UPDATES_LIMIT for total in totals) == USER_UPDATES_LIMIT
