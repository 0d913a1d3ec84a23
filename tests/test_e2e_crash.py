"""Killed or stopped mid fan-out: nothing lost, duplicated at most what was in flight."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import BotFactory
from db_reads import database_of, on_postgresql, value
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

from bot.core.shipments import Snapshot
from bot.storage import Storage

pytestmark = pytest.mark.e2e

CODE = "RR123456785IT"
POSTE = "poste-italiane"
FOLLOWERS = 200
FIRST_CHAT = 10_000
ANSWER_SECONDS = 0.005  # Telegram answering one message at a time, quicker than 30/s


async def _seed(where: Path | str) -> None:
    """200 private chats following one registered shipment, as if added over time."""
    storage = await Storage.open(where)
    for chat_id in range(FIRST_CHAT, FIRST_CHAT + FOLLOWERS):
        await storage.chats.touch_chat(chat_id, "private", None, "en")
        await storage.follows.follow(chat_id, POSTE, CODE, None, chat_id, "user")
    await storage.changes.ingest([Snapshot(POSTE, CODE, "pending")], notify=False)
    await storage.close()


def seed(bot_env: dict[str, str]) -> None:
    asyncio.run(_seed(database_of(bot_env)))


def notified(fake_tg: FakeTelegram) -> Counter[int]:
    return Counter(
        m["chat_id"]
        for m in fake_tg.messages()
        if m["method"] == "sendMessage" and "In transit" in m["text"]
    )


def marked_sent(bot_env: dict[str, str]) -> int:
    return int(value(bot_env, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL"))


def settled_count(fake_tg: FakeTelegram, quiet: float = 0.3) -> int:
    """How many were told once the fake has taken no new message for ``quiet`` seconds."""
    count = sum(notified(fake_tg).values())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = sum(notified(fake_tg).values())
        if now == count:
            break
        count = now
    return count


def integrity(bot_env: dict[str, str]) -> str:
    """SQLite's check of the file. A PostgreSQL server keeps its files whole itself (its
    write-ahead log): nothing of postino's to check there."""
    if on_postgresql(bot_env):
        return "ok"
    with sqlite3.connect(Path(bot_env["DATABASE_PATH"])) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def start_fan_out(fake_tg: FakeTelegram, fake_tm: FakeTrackingMore, at_least: int) -> None:
    fake_tm.script(CODE, status="pending")
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_until(
        lambda f: sum(notified(f).values()) >= at_least, timeout=20, what="fan-out under way"
    )


# A 200-message fan-out killed twice over: the full run's (the everyday run keeps
# test_sigkill_repeats_only_what_telegram_had, the tighter bound).
@pytest.mark.full
def test_sigkill_mid_fan_out_loses_nothing(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    seed(bot_env)
    bot = bot_factory()
    start_fan_out(fake_tg, fake_tm, at_least=60)
    bot.kill()
    delivered_at_kill = sum(notified(fake_tg).values())
    in_flight = delivered_at_kill - marked_sent(bot_env)
    assert delivered_at_kill < FOLLOWERS, "the fan-out finished before the kill"

    bot.start()
    bot.wait_ready(fake_tg)
    fake_tg.wait_until(
        lambda f: len(notified(f)) == FOLLOWERS, timeout=30, what="every follower told"
    )
    counts = notified(fake_tg)
    duplicates = sum(n - 1 for n in counts.values())
    missing = FOLLOWERS - len(counts)
    print(
        f"\nSIGKILL after {delivered_at_kill}/{FOLLOWERS} delivered: "
        f"{in_flight} in flight (delivered, not yet marked), {duplicates} duplicates, "
        f"{missing} missing"
    )
    assert missing == 0
    assert duplicates <= in_flight
    assert integrity(bot_env) == "ok"


def test_sigkill_repeats_only_what_telegram_had(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    """Telegram answering one message at a time: a SIGKILL repeats only the messages it had
    accepted whose mark the bot had not yet written (each chat's send is marked before that
    chat's next is taken, so these are the few sends of different chats in flight together)."""
    seed(bot_env)
    fake_tg.answer_one_at_a_time(ANSWER_SECONDS)
    bot = bot_factory()
    start_fan_out(fake_tg, fake_tm, at_least=40)
    bot.kill()
    delivered_at_kill = sum(notified(fake_tg).values())
    assert delivered_at_kill < FOLLOWERS, "the fan-out finished before the kill"
    # Calls the dead bot had already sent may still be taken in turn after it died (the fake
    # notices a hung-up caller only when the kernel's FIN has been read): those were in
    # Telegram's hands too, never answered to the bot.
    in_telegrams_hands = settled_count(fake_tg) - marked_sent(bot_env)

    bot.start()
    bot.wait_ready(fake_tg)
    fake_tg.wait_until(
        lambda f: len(notified(f)) == FOLLOWERS, timeout=30, what="every follower told"
    )
    counts = notified(fake_tg)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nSIGKILL after {delivered_at_kill}/{FOLLOWERS} answered, "
        f"{in_telegrams_hands} accepted and not marked: {duplicates} repeated"
    )
    assert len(counts) == FOLLOWERS
    assert duplicates <= in_telegrams_hands


@pytest.mark.full
def test_sigterm_mid_fan_out_is_clean_and_quick(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    seed(bot_env)
    bot = bot_factory()
    start_fan_out(fake_tg, fake_tm, at_least=60)
    returncode, seconds = bot.stop()
    assert returncode == 0
    assert seconds < 10
    assert integrity(bot_env) == "ok"
    assert marked_sent(bot_env) == sum(notified(fake_tg).values())  # nothing half-done

    bot.start()
    bot.wait_ready(fake_tg)
    fake_tg.wait_until(
        lambda f: len(notified(f)) == FOLLOWERS, timeout=30, what="every follower told"
    )
    assert max(notified(fake_tg).values()) == 1
    print(f"\nSIGTERM mid fan-out: stopped in {seconds:.2f} s, no duplicates")
