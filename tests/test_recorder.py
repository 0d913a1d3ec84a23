"""The change recorder: the one path from a snapshot to stored history, waking the sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.core.shipments import Checkpoint, Snapshot
from bot.storage import Storage
from bot.tracking.recorder import ChangeRecorder

POSTE, CODE, CHAT = "poste-italiane", "RR123456785IT", 5


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "postino.sqlite3")
    await opened.chats.touch_chat(CHAT, "private", None, "it")
    await opened.follows.follow(CHAT, POSTE, CODE, None, CHAT, "Ada")
    yield opened
    await opened.close()


def moved(status: str, description: str, hour: int) -> Snapshot:
    checkpoint = Checkpoint(description, "BOLOGNA", datetime(2026, 11, 30, hour, 0))
    return Snapshot(POSTE, CODE, status, carrier_id="tm-1", checkpoints=(checkpoint,))


async def test_a_stored_change_wakes_the_sender_once(storage: Storage) -> None:
    wakes: list[None] = []
    recorder = ChangeRecorder(storage, lambda: wakes.append(None))

    changes = await recorder.record([moved("transit", "Partita", 8)])

    assert [c.new_status for c in changes] == ["transit"]
    assert len(wakes) == 1
    assert await storage.outbox.outbox_backlog() == 1


async def test_nothing_new_wakes_nobody(storage: Storage) -> None:
    wakes: list[None] = []
    recorder = ChangeRecorder(storage, lambda: wakes.append(None))
    await recorder.record([moved("transit", "Partita", 8)])

    assert await recorder.record([moved("transit", "Partita", 8)]) == []
    assert len(wakes) == 1


async def test_a_baseline_stored_without_telling_wakes_nobody(storage: Storage) -> None:
    wakes: list[None] = []
    recorder = ChangeRecorder(storage, lambda: wakes.append(None))

    changes = await recorder.record([moved("transit", "Partita", 8)], notify=False)

    assert len(changes) == 1
    assert wakes == []
    assert await storage.outbox.outbox_backlog() == 0
