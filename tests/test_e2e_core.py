"""End to end: the real bot (`python -m bot`) against the fake Telegram and TrackingMore.

An Italian chat, an English chat and a group follow the same Poste Italiane parcel; the
parcel moves pending → transit → pickup → delivered and each chat gets exactly one message
per change, in its language, while TrackingMore sees one registration and batched gets.
"""

from __future__ import annotations

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import BotProcess

pytestmark = pytest.mark.e2e

CODE = "RR123456785IT"
IT_CHAT, EN_CHAT, GROUP = 1001, 1002, -2001
BOT = "postino_test_bot"


def link(code: str, courier: str = "") -> str:
    """How every code appears: a deep link that follows it in one tap."""
    suffix = f"_{courier}" if courier else ""
    return f'<a href="https://t.me/{BOT}?start=track_{code}{suffix}">{code}</a>'


LINK = link(CODE)


def texts(fake_tg: FakeTelegram, chat_id: int) -> list[str]:
    return fake_tg.texts(chat_id)


def next_text(fake_tg: FakeTelegram, chat_id: int, seen: int, timeout: float = 15) -> str:
    """The (seen+1)-th message sent to the chat, waiting for it."""
    return fake_tg.wait_for_messages(chat_id, seen + 1, timeout)[seen]["text"]


def assert_quiet(
    bot: BotProcess, fake_tg: FakeTelegram, counts: dict[int, int], cycles: int = 2
) -> None:
    """No chat receives anything more during the next poll cycles."""
    bot.settle_after_poll_cycles(cycles)
    assert {chat: len(texts(fake_tg, chat)) for chat in counts} == counts


def test_three_chats_follow_one_parcel_through_delivery(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()

    fake_tg.send_text(IT_CHAT, "/start", language_code="it-IT")
    assert next_text(fake_tg, IT_CHAT, 0).startswith("👋 <b>Ciao, sono postino!</b>")
    fake_tg.send_text(EN_CHAT, "/start", language_code="en")
    assert next_text(fake_tg, EN_CHAT, 0).startswith("👋 <b>Hi, I'm postino!</b>")

    fake_tg.send_text(IT_CHAT, f"{CODE} Regalo mamma", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 1) == (
        f"✅ Ora seguo <b>Regalo mamma</b> · {LINK}\n⏳ In attesa"
    )
    fake_tg.send_text(EN_CHAT, "rr 123 456 785 it", language_code="en")
    assert next_text(fake_tg, EN_CHAT, 1) == (
        f"✅ Now tracking {LINK}\n⏳ Pending\n"
        "✏️ Want to give it a name (customer, order…)? Reply to this message."
    )
    fake_tg.send_text(
        GROUP,
        f"/track@{fake_tg.bot_username} {CODE} Cliente Rossi",
        chat_type="group",
        title="Negozio",
        language_code="en",
    )
    assert next_text(fake_tg, GROUP, 0) == (
        f"✅ Ora seguo <b>Cliente Rossi</b> · {LINK}\n⏳ In attesa"
    )
    assert fake_tm.count("create") == 1 and fake_tm.count("batch") == 0

    steps = [
        (
            "transit",
            "In transito",
            "BOLOGNA CMP",
            "2026-11-20 09:30:00",
            "🚚",
            "20 nov, 09:30",
            "20 Nov, 09:30",
            "In transito",
            "In transit",
        ),
        (
            "pickup",
            "In consegna",
            "ROMA",
            "2026-11-21 08:05:00",
            "🛵",
            "21 nov, 08:05",
            "21 Nov, 08:05",
            "In consegna",
            "Out for delivery",
        ),
        (
            "delivered",
            "Consegnato",
            "ROMA",
            "2026-11-21 12:40:00",
            "✅",
            "21 nov, 12:40",
            "21 Nov, 12:40",
            "Consegnata",
            "Delivered",
        ),
    ]
    seen = {IT_CHAT: 2, EN_CHAT: 2, GROUP: 1}
    for status, detail, place, when, emoji, it_when, en_when, it_status, en_status in steps:
        fake_tm.move(CODE, status, detail, place, time=when)
        # A carrier's text that is the status itself ("In transito") is said once, in bold.
        it_told = f"<b>{detail}</b>" if detail == it_status else f"<b>{it_status}</b>\n{detail}"
        expected = {
            IT_CHAT: f"{emoji} <b>Regalo mamma</b> · {LINK}\n{it_told}\n📍 {place} · 🕒 {it_when}",
            EN_CHAT: f"{emoji} {LINK}\n<b>{en_status}</b>\n{detail}\n📍 {place} · 🕒 {en_when}",
            GROUP: f"{emoji} <b>Cliente Rossi</b> · {LINK}\n{it_told}\n📍 {place} · 🕒 {it_when}",
        }
        for chat, text in expected.items():
            assert next_text(fake_tg, chat, seen[chat]) == text
            seen[chat] += 1
        assert_quiet(bot, fake_tg, seen)

    assert fake_tm.count("create") == 1
    gets = [r for r in fake_tm.requests if r["endpoint"] == "get"]
    assert gets and all(r["numbers"] == [CODE] for r in gets)  # one shared request per cycle
    # Delivered is terminal and everyone was told: polling stops.
    polls_after_delivery = fake_tm.count("get")
    assert_quiet(bot, fake_tg, seen, cycles=3)
    assert fake_tm.count("get") == polls_after_delivery


def test_restart_between_changes_repeats_nothing_and_loses_nothing(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    fake_tg.send_text(IT_CHAT, CODE, language_code="it")
    next_text(fake_tg, IT_CHAT, 0)
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    assert "In transito" in next_text(fake_tg, IT_CHAT, 1)

    returncode, seconds = bot.stop()
    assert returncode == 0 and seconds < 10
    fake_tm.move(CODE, "pickup", "In consegna", "ROMA", time="2026-11-21 08:05:00")
    bot.start()
    bot.wait_ready(fake_tg)

    assert "In consegna" in next_text(fake_tg, IT_CHAT, 2)
    assert_quiet(bot, fake_tg, {IT_CHAT: 3}, cycles=3)
    assert fake_tm.count("create") == 1


@pytest.mark.in_process
def test_several_codes_labels_refusals_and_courier_override(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    fake_tg.send_text(
        EN_CHAT,
        "RR123456785IT Mum's <b>gift</b>\nRR123456784IT\nhello there\n"
        "3UW1CEG000511 courier=italy-sda",
        language_code="en",
    )
    answer = next_text(fake_tg, EN_CHAT, 0)
    assert answer.splitlines() == [
        f"✅ Now tracking <b>Mum's &lt;b&gt;gift&lt;/b&gt;</b> · {LINK}",
        "⏳ Pending",
        f"✅ Now tracking {link('3UW1CEG000511', 'italy-sda')}",
        "⏳ Pending",
        "❌ <code>RR123456784IT</code>: looks like there's a typo. Check the code again.",
    ]
    # Two new numbers at once: one batch registration, each with its own courier.
    assert fake_tm.count("batch") == 1 and fake_tm.count("create") == 0
    assert sorted(fake_tm.registered()) == [
        ("italy-sda", "3UW1CEG000511"),
        ("poste-italiane", CODE),
    ]

    fake_tg.send_text(EN_CHAT, "just chatting", language_code="en")
    assert "couldn't find a tracking code" in next_text(fake_tg, EN_CHAT, 1)


@pytest.mark.in_process
def test_list_status_button_remove_and_language(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(
        CODE,
        events=[
            {
                "detail": "Accettata",
                "location": "MILANO",
                "time": "2026-11-19 18:00:00",
                "status": "inforeceived",
            },
            {
                "detail": "In transito",
                "location": "BOLOGNA",
                "time": "2026-11-20 09:30:00",
                "status": "transit",
            },
        ],
    )
    bot = bot_factory()
    fake_tg.send_text(IT_CHAT, f"{CODE} Scarpe", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 0).endswith("🚚 In transito")

    fake_tg.send_text(IT_CHAT, "/list", language_code="it")
    listing = fake_tg.wait_for_messages(IT_CHAT, 2)[1]
    assert listing["text"] == (
        "📦 <b>1 spedizione seguita qui</b>\n\n"
        "🚚 <b>In transito</b> (1)\n"
        f"• <b>Scarpe</b> · {LINK}\n"
        "    ultimo aggiornamento 20 nov, 09:30"
    )
    [[button]] = listing["reply_markup"]["inline_keyboard"]
    assert button["text"] == "🚚 Scarpe"

    fake_tg.press_button(
        IT_CHAT, listing["message_id"], button["callback_data"], language_code="it"
    )
    timeline = next_text(fake_tg, IT_CHAT, 2)
    assert timeline == (
        f"🚚 <b>Scarpe</b> · {LINK}\n"
        "Corriere: Poste Italiane\n"
        "Stato: <b>In transito</b>\n"
        '🔗 Apri su <a href="https://www.poste.it/cerca/index.html#/risultati-spedizioni/'
        f'{CODE}">poste.it</a>\n\n'
        "<b>Cronologia</b> (dal più recente)\n"
        # The event's text starts with its status: the status is not said twice.
        "🕒 <b>20 nov, 09:30</b>\n    In transito\n    📍 BOLOGNA\n"
        "🕒 <b>19 nov, 18:00</b> — Registrata dal mittente\n    Accettata\n    📍 MILANO"
    )
    fake_tg.send_text(IT_CHAT, f"/status {CODE.lower()}", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 3) == timeline

    fake_tg.send_text(IT_CHAT, "/lang en", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 4) == "🇬🇧 From now on I'll write in English in this chat."
    fake_tg.send_text(IT_CHAT, f"/remove {CODE}", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 5) == f"🗑 Stopped tracking {LINK}."
    fake_tg.send_text(IT_CHAT, f"/remove {CODE}", language_code="it")
    assert next_text(fake_tg, IT_CHAT, 6) == f"I'm not tracking <code>{CODE}</code> in this chat."

    # The old button now points at nothing this chat follows: a polite answer, no crash.
    callback = fake_tg.press_button(IT_CHAT, listing["message_id"], button["callback_data"])
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what="callback answered")
    assert "out of date" in fake_tg.callback_answers(callback)[0]["text"]

    # Nobody follows it any more: it is no longer polled.
    polls = fake_tm.count("get")
    bot.wait_poll_cycles(2)
    assert fake_tm.count("get") == polls


@pytest.mark.in_process
def test_usage_answers_for_commands_without_arguments(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot_factory()
    for command, fragment in [
        ("/track", "/track RR123456785IT"),
        ("/status", "/status RR123456785IT"),
        ("/remove", "/remove RR123456785IT"),
        ("/lang xx", "/lang it"),
        ("/list", "not tracking any shipments in this chat yet"),
    ]:
        fake_tg.send_text(EN_CHAT, command, language_code="en")
        count = len(texts(fake_tg, EN_CHAT))
        assert fragment in next_text(fake_tg, EN_CHAT, count)


@pytest.mark.in_process
def test_menus_are_set_in_both_languages(bot_factory: BotFactory, fake_tg: FakeTelegram) -> None:
    bot_factory()
    menus = {entry["language_code"]: entry["commands"] for entry in fake_tg.commands()}
    assert set(menus) >= {None, "it", "en"} or set(menus) >= {"", "it", "en"}
    it_names = [c["command"] for c in menus["it"]]
    assert it_names[:4] == ["track", "list", "status", "remove"]
    assert {"archived", "notify", "quiet", "lang", "help"} <= set(it_names)
    assert menus["it"][0]["description"].startswith("Aggiungi una spedizione")
    assert menus["en"][0]["description"].startswith("Track a shipment")
