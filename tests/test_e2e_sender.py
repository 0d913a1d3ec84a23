"""The sender serves every chat on its own: one chat's long queue holds no other chat back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import BotFactory
from db_reads import database_of
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

from bot.carrier import parse_tracking
from bot.storage import Storage

pytestmark = pytest.mark.e2e

POSTE = "poste-italiane"
BUSY_GROUP = -100_001
QUIET_GROUP = -100_002
BACKLOG = 30  # more than the 20 messages a minute Telegram lets a bot send to one group
QUIET_CODE = "CP000000999IT"


def backlog_codes() -> list[str]:
    return [f"CP{n:09d}IT" for n in range(BACKLOG)]


async def _seed(where: Path | str, fake_tm: FakeTrackingMore) -> None:
    """A shop group with 30 notifications due at once, another group with one quiet parcel;
    the database holds exactly what the fake carrier says, so polling finds nothing new."""
    storage = await Storage.open(where)
    await storage.chats.touch_chat(BUSY_GROUP, "supergroup", "Negozio", None)
    await storage.chats.touch_chat(QUIET_GROUP, "supergroup", "Magazzino", None)
    for code in backlog_codes():
        fake_tm.script(code, status="pending", registered=True)
        await storage.follows.follow(BUSY_GROUP, POSTE, code, None, 1, "Ada")
        snapshot = parse_tracking(fake_tm.tracking(code))
        assert snapshot is not None
        await storage.changes.ingest([snapshot.keyed(POSTE, code)], notify=False)
        fake_tm.move(code, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
        moved = parse_tracking(fake_tm.tracking(code))
        assert moved is not None
        await storage.changes.ingest([moved.keyed(POSTE, code)], notify=True)
    fake_tm.script(QUIET_CODE, status="pending", registered=True)
    await storage.follows.follow(QUIET_GROUP, POSTE, QUIET_CODE, "ordine 7", 2, "Bo")
    quiet = parse_tracking(fake_tm.tracking(QUIET_CODE))
    assert quiet is not None
    await storage.changes.ingest([quiet.keyed(POSTE, QUIET_CODE)], notify=False)
    assert await storage.outbox.outbox_backlog() == BACKLOG
    await storage.close()


def test_a_group_over_its_allowance_does_not_delay_another_group(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    asyncio.run(_seed(database_of(bot_env), fake_tm))
    fake_tg.enforce_limits(per_group_per_min=20)
    bot_factory(DEFAULT_LANGUAGE="en")

    # The busy group gets its minute's allowance, then its next messages wait a minute.
    fake_tg.wait_for_messages(BUSY_GROUP, 20, timeout=30)
    fake_tm.move(QUIET_CODE, "exception", "Indirizzo errato", "MILANO", substatus="exception010")
    moved_at = time.monotonic()
    [message] = fake_tg.wait_for_messages(QUIET_GROUP, 1, timeout=20)

    assert "ordine 7" in message["text"] and "Delivery problem" in message["text"]
    assert time.monotonic() - moved_at < 15
    # Told while the busy group's backlog was still waiting for its next minute.
    assert len(fake_tg.texts(BUSY_GROUP)) < BACKLOG
    assert fake_tg.rate_limited_count == 0
