"""Words a person in Italy trusts, end to end: a parcel waiting at the post office is "Da
ritirare" (not "In consegna"), says where and until when, and rings in quiet hours; a
substatus that says more is said in plain words; /start fits a phone screen; pop-ups show
names as written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

pytestmark = pytest.mark.e2e

CODE = "RR123456785IT"
ALICE, BOB = 1001, 1002
BOT = "postino_test_bot"
ROME = ZoneInfo("Europe/Rome")
LINK = f'<a href="https://t.me/{BOT}?start=track_{CODE}">{CODE}</a>'
WAITING = "In giacenza presso l'ufficio postale, ritirabile entro il 12/12/2026"
OFFICE = "UFFICIO POSTALE MILANO 12"


def send(fake_tg: FakeTelegram, chat: int, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send a text and return the bot's next sendMessage to that chat."""
    before = len(fake_tg.texts(chat))
    fake_tg.send_text(chat, text, **kwargs)
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def next_message(fake_tg: FakeTelegram, chat: int) -> dict[str, Any]:
    count = len(fake_tg.texts(chat))
    return fake_tg.wait_for_messages(chat, count + 1)[count]


def quiet_now() -> str:
    now = datetime.now(ROME)
    return f"{(now - timedelta(minutes=1)):%H:%M}-{(now + timedelta(minutes=90)):%H:%M}"


@pytest.mark.in_process
def test_a_parcel_at_the_post_office_is_to_collect_rings_and_needs_attention(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    it = {"language_code": "it"}
    send(fake_tg, ALICE, f"{CODE} Regalo mamma", **it)
    assert (
        "Ore di silenzio impostate" in send(fake_tg, ALICE, f"/quiet {quiet_now()}", **it)["text"]
    )

    # Out for delivery: in quiet hours it arrives silently.
    before = len(fake_tg.texts(ALICE))
    fake_tm.move(CODE, "pickup", "In consegna", "MILANO", "2026-11-24 08:00:00", "pickup001")
    out = fake_tg.wait_for_messages(ALICE, before + 1)[before]
    assert out["text"] == (
        f"🛵 <b>Regalo mamma</b> · {LINK}\n<b>In consegna</b>\n📍 MILANO · 🕒 24 nov, 08:00"
    )
    assert out["disable_notification"] is True

    # Waiting at the post office: its own status, where and until when; it rings.
    fake_tm.move(CODE, "pickup", WAITING, OFFICE, "2026-11-25 10:00:00", "pickup002")
    ready = fake_tg.wait_for_messages(ALICE, before + 2)[before + 1]
    assert ready["text"] == (
        f"🏤 <b>Regalo mamma</b> · {LINK}\n"
        "<b>Da ritirare</b>\n"
        f"{WAITING}\n"
        f"📍 Dove ritirarla: {OFFICE}\n"
        "⏳ Ritirala entro il 12 dicembre 2026\n"
        "🕒 25 nov, 10:00"
    )
    assert ready["disable_notification"] is False

    listing = send(fake_tg, ALICE, "/list", **it)["text"]
    assert "🏤 <b>Da ritirare</b> (1)" in listing and "In consegna" not in listing
    summary = send(fake_tg, ALICE, "/summary", **it)["text"]
    assert "🏤 Da ritirare: 1" in summary
    assert (
        f"🏤 <b>Regalo mamma</b> · {LINK}\n"
        f"    Da ritirare · 📍 {OFFICE} · entro il 12 dicembre 2026"
    ) in summary
    status = send(fake_tg, ALICE, f"/status {CODE}", **it)["text"]
    assert "Corriere: Poste Italiane\nStato: <b>Da ritirare</b>\n" in status
    assert f"📍 Dove ritirarla: {OFFICE}\n⏳ Ritirala entro il 12 dicembre 2026" in status

    # Back out for delivery without a new event: the shown status changed, so it is told.
    fake_tm.set_status(CODE, "pickup", "pickup003")
    again = next_message(fake_tg, ALICE)
    assert again["text"] == f"🛵 <b>Regalo mamma</b> · {LINK}\n<b>In consegna</b>"
    assert again["disable_notification"] is True


@pytest.mark.in_process
def test_important_only_hears_ready_for_pickup_and_substatuses_in_plain_words(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    en = {"language_code": "en"}
    send(fake_tg, BOB, CODE, **en)
    notify = send(fake_tg, BOB, "/notify important", **en)["text"]
    assert "only about the important updates: out for delivery, ready for pickup" in notify

    before = len(fake_tg.texts(BOB))
    fake_tm.move(CODE, "transit", "Arrived in Italy", "ROMA", "2026-11-23 08:00:00", "transit004")
    fake_tm.move(
        CODE,
        "pickup",
        "Ready for collection until 12/12/2026",
        "POINT MILANO",
        "2026-11-25 10:00:00",
        "pickup002",
    )
    ready = fake_tg.wait_for_messages(BOB, before + 1)[before]["text"]
    assert ready.splitlines()[1:] == [
        "<b>Ready for pickup</b>",
        "• 25 Nov, 10:00 — Ready for collection until 12/12/2026 (POINT MILANO)",
        "• 23 Nov, 08:00 — Arrived in Italy (ROMA)",
        "📍 Where to pick it up: POINT MILANO",
        "⏳ Pick it up by 12 December 2026",
    ]

    fake_tm.move(CODE, "delivered", "Delivered", "MILANO", "2026-11-26 12:00:00", "delivered002")
    delivered = fake_tg.wait_for_messages(BOB, before + 2)[before + 1]["text"]
    assert delivered == (
        f"✅ {LINK}\n<b>Delivered</b>\nℹ️ Picked up by the recipient\n📍 MILANO · 🕒 26 Nov, 12:00"
    )
    assert "TrackingMore" not in " ".join(fake_tg.texts(BOB))


@pytest.mark.in_process
@pytest.mark.parametrize(
    ("language", "hello"), [("it", "Ciao, sono postino!"), ("en", "Hi, I'm postino!")]
)
def test_start_fits_a_phone_screen_and_help_has_the_rest(
    bot_factory: BotFactory, fake_tg: FakeTelegram, language: str, hello: str
) -> None:
    bot_factory()
    start = send(fake_tg, ALICE, "/start", language_code=language)["text"]
    assert hello in start and "/help" in start and "/digest" not in start
    assert len(start.splitlines()) <= 15 and len(start) <= 650
    help_text = send(fake_tg, ALICE, "/help", language_code=language)["text"]
    assert hello in help_text and "/digest 08:30" in help_text and "/import" in help_text


@pytest.mark.in_process
def test_a_pop_up_shows_a_name_as_written(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    send(fake_tg, ALICE, f"{CODE} Tom & Jerry", language_code="en")
    status = send(fake_tg, ALICE, f"/status {CODE}", language_code="en")
    rows = status["reply_markup"]["inline_keyboard"]
    [mute] = [
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith("m:")
    ]
    callback = fake_tg.press_button(ALICE, status["message_id"], mute, language_code="en")
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what="the mute pop-up")
    text = fake_tg.callback_answers(callback)[0]["text"]
    assert text == "🔕 Tom & Jerry: no more messages here until you unmute it."
