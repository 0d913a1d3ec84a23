"""End to end, issue 14: the expected delivery date in the confirmation, /status, /list and the
notifications; a new date told once, as just the date; who signed on delivery; /export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE = "RR123456785IT"
IT_CHAT, EN_CHAT = 1001, 1002


def ask(fake_tg: FakeTelegram, chat_id: int, text: str, **kwargs: Any) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, text, **kwargs)
    return fake_tg.wait_for_messages(chat_id, before + 1, timeout=30)[before]["text"]


def next_text(fake_tg: FakeTelegram, chat_id: int, seen: int) -> str:
    return fake_tg.wait_for_messages(chat_id, seen + 1, timeout=30)[seen]["text"]


def test_expected_date_its_change_and_who_signed_in_both_languages(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(
        CODE,
        events=[{"detail": "In transito", "location": "BOLOGNA", "time": "2026-11-28 09:30:00"}],
    )
    fake_tm.set_fields(CODE, scheduled_delivery_date="2026-12-02")
    bot = bot_factory()

    it_confirmation = ask(fake_tg, IT_CHAT, CODE, language_code="it")
    assert "📅 Consegna prevista mercoledì 2 dicembre" in it_confirmation.splitlines()
    en_confirmation = ask(fake_tg, EN_CHAT, CODE, language_code="en")
    assert "📅 Expected Wednesday 2 December" in en_confirmation.splitlines()
    bot.settle_after_poll_cycles(2)
    seen = {chat: len(fake_tg.texts(chat)) for chat in (IT_CHAT, EN_CHAT)}

    # A new date alone: one message per chat, saying just the date.
    fake_tm.set_fields(CODE, scheduled_delivery_date="2026-12-03T18:00:00")
    it_told = next_text(fake_tg, IT_CHAT, seen[IT_CHAT]).splitlines()
    en_told = next_text(fake_tg, EN_CHAT, seen[EN_CHAT]).splitlines()
    assert it_told[0].startswith("📅 ") and CODE in it_told[0]
    assert it_told[1:] == ["Nuova data di consegna prevista: <b>giovedì 3 dicembre</b>"]
    assert en_told[1:] == ["New expected delivery date: <b>Thursday 3 December</b>"]
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(IT_CHAT)) == seen[IT_CHAT] + 1  # told once
    assert len(fake_tg.texts(EN_CHAT)) == seen[EN_CHAT] + 1

    status = ask(fake_tg, IT_CHAT, f"/status {CODE}", language_code="it")
    assert "📅 Consegna prevista giovedì 3 dicembre" in status.splitlines()
    listed = ask(fake_tg, EN_CHAT, "/list", language_code="en")
    assert "    📅 expected Thursday 3 December" in listed.splitlines()

    # Delivered: who signed, and no expected date any more.
    seen = {chat: len(fake_tg.texts(chat)) for chat in (IT_CHAT, EN_CHAT)}
    fake_tm.set_fields(CODE, signed_by="Mario Rossi")
    fake_tm.move(CODE, "delivered", "Consegnato", "ROMA", time="2026-12-03 12:00:00")
    it_delivered = next_text(fake_tg, IT_CHAT, seen[IT_CHAT])
    en_delivered = next_text(fake_tg, EN_CHAT, seen[EN_CHAT])
    assert it_delivered.startswith("✅") and "✍️ Firmata da Mario Rossi" in it_delivered
    assert "✍️ Signed for by Mario Rossi" in en_delivered and "📅" not in en_delivered

    fake_tg.send_text(EN_CHAT, "/export", language_code="en")
    [document] = fake_tg.wait_until(
        lambda f: [m for m in f.messages(EN_CHAT) if m["method"] == "sendDocument"],
        what="the export",
    )
    content = document["document"][1].decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(content)))
    assert header[-3:] == ["expected delivery", "signed by", "days in transit"]
    assert row[0] == CODE and row[-3:] == ["2026-12-03", "Mario Rossi", "5"]
