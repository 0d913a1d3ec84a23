"""Telegram refusing messages: flood control, blocked bots, migrated groups, bad formatting."""

from __future__ import annotations

import itertools
import time

import pytest
from conftest import BotFactory
from db_reads import rows
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import SEND_SETTLE_SECONDS

# No process needed: the bot runs in the test process (see tests/inprocess.py).
pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE = "RR123456785IT"
ALICE, BOB, GROUP = 1001, 1002, -2001


def follow(fake_tg: FakeTelegram, chat_id: int, *, chat_type: str = "private") -> None:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, f"/track {CODE}", chat_type=chat_type, language_code="en")
    fake_tg.wait_for_messages(chat_id, before + 1)


def move(fake_tm: FakeTrackingMore, status: str = "transit", detail: str = "In transito") -> None:
    fake_tm.move(CODE, status, detail, "BOLOGNA", time="2026-11-20 09:30:00")


def test_flood_control_delivers_later_exactly_once(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    follow(fake_tg, ALICE)
    fake_tg.fail_next("sendMessage", "retry_after:2", chat_id=ALICE)
    started = time.monotonic()
    move(fake_tm)
    [_, message] = fake_tg.wait_for_messages(ALICE, 2, timeout=15)
    assert "In transit" in message["text"]
    assert time.monotonic() - started >= 2  # it waited as told
    assert len(fake_tg.failed_calls("sendMessage")) == 1
    time.sleep(2.5)
    assert len(fake_tg.texts(ALICE)) == 2


def test_flood_control_holds_back_the_chats_other_messages_too(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    codes = [CODE, "EE123456785IT", "CP123456785IT"]
    for code in codes:
        fake_tm.script(code, status="pending")
    bot_factory()
    fake_tg.send_text(ALICE, "\n".join(codes), language_code="en")
    fake_tg.wait_for_messages(ALICE, 1)
    fake_tg.fail_next("sendMessage", "retry_after:2", chat_id=ALICE)
    for code in codes:
        fake_tm.move(code, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")

    messages = fake_tg.wait_for_messages(ALICE, 4, timeout=20)[1:]
    [refused] = fake_tg.failed_calls("sendMessage")
    # Nothing more went to the chat until the 2 s Telegram asked for had passed.
    assert all(m["time"] >= refused["time"] + 1.9 for m in messages)
    assert sorted(c for m in messages for c in codes if c in m["text"]) == sorted(codes)
    time.sleep(1.5)
    assert len(fake_tg.texts(ALICE)) == 4


@pytest.mark.parametrize("refusal", ["blocked", "kicked"])
def test_blocked_chat_is_paused_and_shipment_no_longer_polled(
    refusal: str, bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    follow(fake_tg, ALICE)
    fake_tg.block_chat(ALICE) if refusal == "blocked" else fake_tg.fail_next(
        "sendMessage", "kicked", chat_id=ALICE, times=100
    )
    move(fake_tm)
    fake_tg.wait_until(lambda f: f.failed_calls("sendMessage"), what="the refused send")
    refused_at = fake_tg.failed_calls("sendMessage")[0]["time"]
    bot.settle_after_poll_cycles(2)
    # Tried once, not retried forever; nobody else follows it, so it is not polled either.
    assert len(fake_tg.failed_calls("sendMessage")) == 1
    polls = fake_tm.count("get")
    move(fake_tm, "pickup", "In consegna")
    bot.settle_after_poll_cycles(2)
    assert fake_tm.count("get") == polls
    # Still not retried, past the 2 s back-off a first retry would have waited.
    time.sleep(max(0.0, refused_at + 2.5 - time.monotonic()))
    assert len(fake_tg.failed_calls("sendMessage")) == 1


def test_blocked_chat_does_not_stop_the_others(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    follow(fake_tg, ALICE)
    follow(fake_tg, BOB)
    fake_tg.block_chat(ALICE)
    move(fake_tm)
    assert "In transit" in fake_tg.wait_for_messages(BOB, 2)[1]["text"]
    move(fake_tm, "pickup", "In consegna")
    assert "Out for delivery" in fake_tg.wait_for_messages(BOB, 3)[2]["text"]
    assert len(fake_tg.failed_calls("sendMessage")) == 1

    # Alice unblocks the bot and writes again: she is followed again from now on.
    fake_tg.unblock_chat(ALICE)
    fake_tg.send_text(ALICE, "/list", language_code="en")
    fake_tg.wait_for_messages(ALICE, 2)
    move(fake_tm, "delivered", "Consegnato")
    assert "Delivered" in fake_tg.wait_for_messages(ALICE, 3)[2]["text"]


def test_group_migrated_to_supergroup_gets_the_message_there(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    follow(fake_tg, GROUP, chat_type="group")
    fake_tg.migrate_chat(GROUP, -1009876)
    move(fake_tm)
    [message] = fake_tg.wait_for_messages(-1009876, 1)
    assert "In transito" in message["text"]
    bot.stop()
    chats = [row[0] for row in rows(bot_env, "SELECT chat_id FROM subscriptions")]
    assert chats == [-1009876]


def test_formatting_refusal_falls_back_to_plain_text(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    follow(fake_tg, ALICE)
    fake_tg.fail_next("sendMessage", "parse_entities", chat_id=ALICE)
    move(fake_tm)
    message = fake_tg.wait_for_messages(ALICE, 2)[1]
    assert message["parse_mode"] is None
    assert message["text"].startswith(f"🚚 {CODE}\nIn transit\nIn transito")
    assert "<" not in message["text"]
    assert "can't parse entities" in bot.log_text().lower()


def test_failing_sends_are_retried_with_backoff_then_given_up(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory(OUTBOX_MAX_ATTEMPTS="3")
    follow(fake_tg, ALICE)
    # Telegram refuses the message itself (a 400 that is neither formatting nor a gone chat).
    fake_tg.fail_next("sendMessage", "not_modified", chat_id=ALICE, times=100)
    move(fake_tm)
    fake_tg.wait_until(
        lambda f: len(f.failed_calls("sendMessage")) >= 3, timeout=20, what="three attempts"
    )
    attempts = [call["time"] for call in fake_tg.failed_calls("sendMessage")]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 1.5 and gaps[1] >= 3.5  # 2 s then 4 s
    bot.wait_for_log("giving up notification")
    time.sleep(SEND_SETTLE_SECONDS)
    assert len(fake_tg.failed_calls("sendMessage")) == 3  # given up
    assert "giving up notification" in bot.log_text()


def test_telegram_failing_uses_up_no_attempt(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """5xx from Telegram are Telegram's failure, not the message's: more of them than
    OUTBOX_MAX_ATTEMPTS, and the message still arrives once Telegram answers, once."""
    fake_tm.script(CODE, status="pending")
    bot = bot_factory(OUTBOX_MAX_ATTEMPTS="1")
    follow(fake_tg, ALICE)
    fake_tg.fail_next("sendMessage", "server_error", chat_id=ALICE, times=2)
    move(fake_tm)
    [_, message] = fake_tg.wait_for_messages(ALICE, 2, timeout=20)
    assert "In transit" in message["text"]
    assert len(fake_tg.failed_calls("sendMessage")) == 2
    assert "giving up notification" not in bot.log_text()
    bot.settle_after_poll_cycles(1)
    assert len(fake_tg.texts(ALICE)) == 2
