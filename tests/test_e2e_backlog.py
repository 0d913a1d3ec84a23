"""A backlog is told as one message per shipment: Telegram unreachable while a parcel moved
three times, and each following chat gets exactly one message about it, with every event."""

from __future__ import annotations

import pytest
from conftest import BotFactory
from db_reads import rows
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE = "RR123456785IT"
OTHER = "EE123456785IT"
ALICE, GROUP = 1001, -2001
MOVES = [
    ("transit", "In transito", "BOLOGNA", "2026-11-20 09:30:00"),
    ("transit", "In lavorazione", "MILANO", "2026-11-20 12:00:00"),
    ("pickup", "In consegna", "ROMA", "2026-11-21 08:10:00"),
]


def about(fake_tg: FakeTelegram, chat_id: int, code: str, after: int) -> list[str]:
    return [text for text in fake_tg.texts(chat_id)[after:] if code in text]


def outbox(bot_env: dict[str, str]) -> list[tuple[int, str | None, int]]:
    return rows(bot_env, "SELECT chat_id, sent_at, attempts FROM outbox ORDER BY id")


@pytest.mark.full  # 10-15 s: an outage long enough for three poll cycles and the backoff
def test_three_moves_during_an_outage_are_one_message_per_chat(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    fake_tm.script(CODE, status="pending")
    fake_tm.script(OTHER, status="pending")
    bot = bot_factory(OUTBOX_MAX_ATTEMPTS="1")
    for chat_id, chat_type in ((ALICE, "private"), (GROUP, "group")):
        for code in (CODE, OTHER):
            before = len(fake_tg.texts(chat_id))
            fake_tg.send_text(chat_id, f"/track {code}", chat_type=chat_type, language_code="en")
            fake_tg.wait_for_messages(chat_id, before + 1)
    before = {chat: len(fake_tg.texts(chat)) for chat in (ALICE, GROUP)}

    fake_tg.go_offline()
    fake_tm.move(OTHER, "transit", "Partito", "NAPOLI", time="2026-11-20 10:00:00")
    for status, detail, place, when in MOVES:
        fake_tm.move(CODE, status, detail, place, time=when)
        bot.wait_poll_cycles(2)  # stored, each in a cycle of its own
    bot.wait_for_log("Telegram did not answer")
    fake_tg.go_online()

    for chat in (ALICE, GROUP):
        fake_tg.wait_for_messages(chat, before[chat] + 2, timeout=40)
    bot.settle_after_poll_cycles(2)
    for chat in (ALICE, GROUP):
        assert len(fake_tg.texts(chat)) == before[chat] + 2  # one per shipment
        [message] = about(fake_tg, chat, CODE, before[chat])
        assert message.count("\n•") == 3  # every event, as bullets
        newest_first = [message.index(place) for place in ("ROMA", "MILANO", "BOLOGNA")]
        assert newest_first == sorted(newest_first)
        [other] = about(fake_tg, chat, OTHER, before[chat])
        assert "Partito" in other and "BOLOGNA" not in other
    assert "Out for delivery" in about(fake_tg, ALICE, CODE, before[ALICE])[0]
    assert (
        "In consegna" in about(fake_tg, GROUP, CODE, before[GROUP])[0]
    )  # the group speaks Italian

    # Every row was marked sent, none given up although Telegram failed more often than
    # OUTBOX_MAX_ATTEMPTS allows: its failures spend no attempt.
    bot.stop()
    sent = outbox(bot_env)
    assert len(sent) == 2 * (len(MOVES) + 1)
    assert all(sent_at is not None and attempts == 1 for _, sent_at, attempts in sent)
    assert "giving up notification" not in bot.log_text()


def test_one_change_is_still_one_message(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    fake_tg.send_text(ALICE, f"/track {CODE}", language_code="en")
    fake_tg.wait_for_messages(ALICE, 1)
    for count, (status, detail, place, when) in enumerate(MOVES[:2], start=2):
        fake_tm.move(CODE, status, detail, place, time=when)
        [*_, message] = fake_tg.wait_for_messages(ALICE, count)
        assert detail in message["text"] and "•" not in message["text"]
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(ALICE)) == 3
