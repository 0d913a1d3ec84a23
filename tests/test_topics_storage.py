"""Forum topics in storage, on both engines: a shipment's topic, moving it, one topic's lists,
names (the current one wins over the one posts quote) and a deleted topic's shipments moving
to General — with their pending notifications."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.shipments import Checkpoint, Snapshot
from bot.core.times import utcnow
from bot.storage import Storage

POSTE = "poste-italiane"
SHOP = -1009
ORDERS, RETURNS = 11, 12
A, B, C = "RR123456785IT", "EE123456785IT", "CA123456785IT"


@pytest.fixture
async def storage(database: Path | str):  # type: ignore[no-untyped-def]
    opened = await Storage.open(database)
    await opened.chats.touch_chat(SHOP, "supergroup", "Shop", None)
    yield opened
    await opened.close()


async def follow(storage: Storage, code: str, thread_id: int | None) -> bool:
    _, is_new = await storage.follows.follow(SHOP, POSTE, code, None, 7, "Bo", thread_id=thread_id)
    return is_new


async def codes(storage: Storage, thread_id: int | None) -> list[str]:
    followed = await storage.follows.list_followed(SHOP, thread_id=thread_id)
    return sorted(f.shipment.code for f in followed)


async def test_one_topics_shipments_and_a_move(storage: Storage) -> None:
    assert await follow(storage, A, ORDERS)
    assert await follow(storage, B, RETURNS)
    assert await follow(storage, C, None)
    assert await codes(storage, ORDERS) == [A]
    assert await codes(storage, None) == sorted([A, B, C])  # General: the whole group's
    assert sorted(r.code for r in await storage.reports.desk_rows(SHOP, archived=True)) == sorted(
        [A, B, C]
    )
    rows = await storage.reports.desk_rows(SHOP, archived=False, thread_id=RETURNS)
    assert [r.code for r in rows] == [B]

    assert not await follow(storage, A, RETURNS)  # added again elsewhere: moved, not doubled
    assert await codes(storage, ORDERS) == []
    assert await codes(storage, RETURNS) == sorted([A, B])
    followed = await storage.follows.get_followed(SHOP, A)
    assert followed is not None and followed.thread_id == RETURNS


async def test_the_current_name_wins_over_the_quoted_one(storage: Storage) -> None:
    await storage.topics.remember(SHOP, ORDERS, "Opened as", replace=False)
    await storage.topics.remember(SHOP, ORDERS, "Renamed", replace=True)
    await storage.topics.remember(SHOP, ORDERS, "Opened as", replace=False)  # a post quotes it
    assert await storage.topics.name(SHOP, ORDERS) == "Renamed"
    await storage.topics.remember(SHOP, RETURNS, "  " + "x" * 300, replace=True)
    assert await storage.topics.name(SHOP, RETURNS) == "x" * 128
    assert await storage.topics.name(SHOP, 99) is None


async def test_a_gone_topics_shipments_and_pending_news_go_to_general(storage: Storage) -> None:
    await follow(storage, A, ORDERS)
    await follow(storage, B, RETURNS)
    await storage.topics.remember(SHOP, ORDERS, "Ordini", replace=True)
    when = utcnow() - timedelta(hours=1)
    moved = Snapshot(POSTE, A, "transit", checkpoints=(Checkpoint("In transito", "MI", when, ""),))
    await storage.changes.ingest([moved])
    [pending] = await storage.outbox.due_notifications()
    assert (pending.thread_id, pending.topic_name) == (ORDERS, "Ordini")

    assert await storage.topics.topic_gone(SHOP, ORDERS) == 1
    assert await codes(storage, ORDERS) == []
    assert await codes(storage, None) == sorted([A, B])
    [pending] = await storage.outbox.due_notifications()
    assert pending.thread_id is None  # the queued message now goes to General
    followed = await storage.follows.get_followed(SHOP, B)
    assert followed is not None and followed.thread_id == RETURNS


async def test_a_closed_topic_is_remembered_until_reopened(storage: Storage) -> None:
    await follow(storage, A, ORDERS)
    when = utcnow() - timedelta(hours=1)
    moved = Snapshot(POSTE, A, "transit", checkpoints=(Checkpoint("In transito", "MI", when, ""),))
    await storage.changes.ingest([moved])
    [pending] = await storage.outbox.due_notifications()
    assert pending.topic_closed_at is None

    await storage.topics.closed(SHOP, ORDERS)  # before the bot ever saw its name
    [pending] = await storage.outbox.due_notifications()
    assert pending.topic_closed_at is not None and pending.topic_name is None
    assert await storage.topics.name(SHOP, ORDERS) is None
    await storage.topics.remember(SHOP, ORDERS, "Ordini", replace=False)  # a quoted name fills in
    [pending] = await storage.outbox.due_notifications()
    assert (pending.topic_name, pending.topic_closed_at is not None) == ("Ordini", True)

    await storage.topics.closed(SHOP, ORDERS, closed=False)
    [pending] = await storage.outbox.due_notifications()
    assert (pending.topic_name, pending.topic_closed_at) == ("Ordini", None)
