"""The tracking desk: buttons, names, paging, quiet hours, filters, lifecycle, deep links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import BotFactory
from db_reads import value, write
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10

pytestmark = pytest.mark.e2e

CODE, OTHER = "RR123456785IT", "EE123456785IT"
ALICE, BOB, SHOP = 1001, 1002, -2001
BOT = "postino_test_bot"
ROME = ZoneInfo("Europe/Rome")


def link(code: str) -> str:
    return f'<a href="https://t.me/{BOT}?start=track_{code}">{code}</a>'


def send(fake_tg: FakeTelegram, chat: int, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send a text and return the bot's next sendMessage to that chat."""
    kwargs.setdefault("language_code", "en")
    before = len(fake_tg.texts(chat))
    fake_tg.send_text(chat, text, **kwargs)
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def press(fake_tg: FakeTelegram, chat: int, message: dict[str, Any], data: str, **kw: Any) -> str:
    """Press a button and return the text of the callback answer."""
    kw.setdefault("language_code", "en")
    callback = fake_tg.press_button(chat, message["message_id"], data, **kw)
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what=f"answer to {data}")
    return str(fake_tg.callback_answers(callback)[0].get("text") or "")


def edited_text(fake_tg: FakeTelegram, chat: int, message: dict[str, Any], fragment: str) -> str:
    """Wait until the bot has edited one of its messages to contain `fragment`."""

    def current(f: FakeTelegram) -> str | None:
        text = f.stored_message(chat, message["message_id"]).get("text") or ""
        return text if fragment in text else None

    return str(fake_tg.wait_until(current, what=f"message edited to contain {fragment!r}"))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """callback_data → button text."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["callback_data"]: b["text"] for row in rows for b in row if "callback_data" in b}


def move(fake_tm: FakeTrackingMore, status: str, detail: str, when: str, code: str = CODE) -> None:
    fake_tm.move(code, status, detail, "ROMA", time=when)


@pytest.mark.in_process
def test_notification_buttons_mute_rename_and_remove(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    send(fake_tg, ALICE, CODE)
    send(fake_tg, BOB, CODE)
    move(fake_tm, "transit", "In transito", "2026-11-20 09:30:00")
    note = fake_tg.wait_for_messages(ALICE, 2)[1]
    assert buttons(note) == {
        "d:1": "📜 Details",
        "rf:1": "🔄 Refresh",
        "rn:1": "✏️ Rename",
        "m:1": "🔕 Mute",
        "rm:1": "🗑 Remove",
    }

    # Mute: Alice hears nothing more, Bob still does; the button turns into Unmute.
    assert "no more messages here" in press(fake_tg, ALICE, note, "m:1")
    fake_tg.wait_until(lambda f: f.calls("editMessageReplyMarkup"), what="keyboard edited")
    edited = fake_tg.calls("editMessageReplyMarkup")[-1]
    assert "🔔 Unmute" in str(edited)
    move(fake_tm, "pickup", "In consegna", "2026-11-21 08:05:00")
    fake_tg.wait_for_messages(BOB, 3)
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(ALICE)) == 2

    # Rename through the button: the bot asks, Alice replies with the name.
    press(fake_tg, ALICE, note, "rn:1")
    prompt = fake_tg.wait_for_messages(ALICE, 3)[2]
    assert prompt["reply_markup"]["force_reply"] is True
    done = send(fake_tg, ALICE, "Cliente <Bianchi>", reply_to_message_id=prompt["message_id"])
    assert done["text"] == f"✏️ Renamed: <b>Cliente &lt;Bianchi&gt;</b> · {link(CODE)}"

    # Remove asks first; "Keep it" keeps it, "Yes" removes it (the message is edited).
    press(fake_tg, ALICE, note, "rm:1")
    confirm = fake_tg.wait_for_messages(ALICE, 5)[4]
    assert (
        confirm["text"]
        == f"Stop tracking <b>Cliente &lt;Bianchi&gt;</b> · {link(CODE)} in this chat?"
    )
    assert set(buttons(confirm)) == {"rmy:1", "rmn:1"}
    press(fake_tg, ALICE, confirm, "rmn:1")
    edited_text(fake_tg, ALICE, confirm, "Still tracking")
    press(fake_tg, ALICE, confirm, "rmy:1")
    edited_text(fake_tg, ALICE, confirm, "Stopped tracking")
    assert "not tracking any shipments" in send(fake_tg, ALICE, "/list")["text"]
    # The old buttons are now stale, politely.
    assert "out of date" in press(fake_tg, ALICE, note, "d:1")


@pytest.mark.in_process
def test_name_by_replying_to_the_confirmation(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot_factory()
    confirmation = send(fake_tg, SHOP, f"/track {CODE}", chat_type="group")
    assert confirmation["text"].endswith(
        "Vuoi darle un nome (cliente, ordine…)? Rispondi a questo messaggio."
    )
    done = send(
        fake_tg,
        SHOP,
        "Ordine 42 — Rossi",
        chat_type="group",
        reply_to_message_id=confirmation["message_id"],
    )
    assert done["text"] == f"✏️ Rinominata: <b>Ordine 42 — Rossi</b> · {link(CODE)}"
    assert "Ordine 42 — Rossi" in send(fake_tg, SHOP, "/list", chat_type="group")["text"]


@pytest.mark.in_process
def test_refresh_asks_the_carrier_at_most_every_ten_minutes(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="transit")
    bot_factory(POLL_INTERVAL_SECONDS="3600")
    send(fake_tg, ALICE, CODE)
    status = send(fake_tg, ALICE, f"/status {CODE}")
    gets = fake_tm.count("get")
    move(fake_tm, "pickup", "In consegna", "2026-11-21 08:05:00")
    assert "There's news" in press(fake_tg, ALICE, status, "rf:1")
    assert fake_tm.count("get") == gets + 1
    assert "Out for delivery" in fake_tg.wait_for_messages(ALICE, 3)[2]["text"]
    answer = press(fake_tg, ALICE, status, "rf:1")
    assert "less than 10 minutes ago" in answer and "You can refresh again at" in answer
    assert fake_tm.count("get") == gets + 1


@pytest.mark.in_process
def test_list_is_paged_and_grouped_with_attention_first(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    codes = [s10(30_000_000 + i) for i in range(25)]
    fake_tm.script(codes[24], status="exception")
    bot_factory()
    send(fake_tg, ALICE, "\n".join(codes))
    page1 = send(fake_tg, ALICE, "/list")
    lines = page1["text"].splitlines()
    assert lines[:4] == [
        "📦 <b>25 shipments tracked here</b>",
        "Page 1 of 3",
        "",
        "🚨 <b>Delivery problem</b> (1)",
    ]
    assert codes[24] in lines[4]
    assert len([d for d in buttons(page1) if d.startswith("d:")]) == 10
    assert buttons(page1)["l:1"] == "2/3 ▶️"

    press(fake_tg, ALICE, page1, "l:2")
    edited_text(fake_tg, ALICE, page1, "Page 3 of 3")
    page3 = fake_tg.stored_message(ALICE, page1["message_id"])
    assert len([d for d in buttons(page3) if d.startswith("d:")]) == 5
    assert "l:1" in buttons(page3) and "l:3" not in buttons(page3)
    press(fake_tg, ALICE, page1, "l:0")
    edited_text(fake_tg, ALICE, page1, "Page 1 of 3")
    press(fake_tg, ALICE, page1, "l:99")  # a page that no longer exists: the last one
    edited_text(fake_tg, ALICE, page1, "Page 3 of 3")


@pytest.mark.in_process
def test_quiet_hours_silence_all_but_exceptions(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot_factory()
    send(fake_tg, ALICE, CODE)
    now = datetime.now(ROME)
    window = f"{(now - timedelta(minutes=1)):%H:%M}-{(now + timedelta(minutes=90)):%H:%M}"
    assert "Quiet hours set" in send(fake_tg, ALICE, f"/quiet {window}")["text"]
    assert "22:00-07:30" in send(fake_tg, ALICE, "/quiet 25:00-08:00")["text"]  # usage

    move(fake_tm, "transit", "In transito", "2026-11-20 09:30:00")
    assert fake_tg.wait_for_messages(ALICE, 4)[3]["disable_notification"] is True
    move(fake_tm, "exception", "Indirizzo errato", "2026-11-21 08:05:00")
    assert fake_tg.wait_for_messages(ALICE, 5)[4]["disable_notification"] is False

    assert "Quiet hours off" in send(fake_tg, ALICE, "/quiet off")["text"]
    move(fake_tm, "transit", "In transito", "2026-11-22 09:30:00")
    assert fake_tg.wait_for_messages(ALICE, 7)[6]["disable_notification"] is False


@pytest.mark.in_process
def test_notify_important_only(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="pending")
    bot = bot_factory()
    send(fake_tg, ALICE, CODE)
    assert "only about the important updates" in send(fake_tg, ALICE, "/notify important")["text"]
    assert "Right now you get only the important updates" in send(fake_tg, ALICE, "/notify")["text"]
    move(fake_tm, "transit", "In transito", "2026-11-20 09:30:00")
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(ALICE)) == 3
    move(fake_tm, "pickup", "In consegna", "2026-11-21 08:05:00")
    assert "Out for delivery" in fake_tg.wait_for_messages(ALICE, 4)[3]["text"]


@pytest.mark.in_process
def test_group_settings_are_for_admins_and_exceptions_mention_who_added(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="transit")
    bot_factory()
    fake_tg.set_chat_admins(SHOP, [900])
    group = {"chat_type": "group"}
    send(fake_tg, SHOP, f"/track {CODE} Ordine 7", user_id=501, **group)
    assert (
        "Solo gli amministratori"
        in send(fake_tg, SHOP, "/quiet 22:00-07:00", user_id=501, **group)["text"]
    )
    assert (
        "Solo gli amministratori"
        in send(fake_tg, SHOP, "/notify important", user_id=501, **group)["text"]
    )
    assert (
        "Ore di silenzio impostate"
        in send(fake_tg, SHOP, "/quiet 22:00-07:00", user_id=900, **group)["text"]
    )

    move(fake_tm, "exception", "Destinatario assente", "2026-11-21 08:05:00")
    note = fake_tg.wait_for_messages(SHOP, 5)[4]["text"]
    assert note.startswith(f"🚨 <b>Ordine 7</b> · {link(CODE)}\n<b>Anomalia</b>")
    assert note.endswith('👤 Aggiunta da <a href="tg://user?id=501">Ada</a>')


@pytest.mark.in_process
def test_deep_links_follow_in_one_tap(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    assert send(fake_tg, ALICE, f"/start track_{CODE}")["text"].startswith(
        f"✅ Now tracking {link(CODE)}"
    )
    other = send(fake_tg, ALICE, "/start track_3UW1CEG000511_italy-sda")["text"]
    assert "start=track_3UW1CEG000511_italy-sda" in other
    assert ("italy-sda", "3UW1CEG000511") in fake_tm.registered()
    assert "isn't a tracking code" in send(fake_tg, ALICE, "/start track_<script>")["text"]
    assert "Hi, I'm postino" in send(fake_tg, ALICE, "/start something")["text"]


@pytest.mark.in_process
def test_last_follower_leaving_deletes_at_trackingmore(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="transit")
    bot = bot_factory()
    send(fake_tg, ALICE, CODE)
    send(fake_tg, BOB, CODE)
    send(fake_tg, ALICE, f"/remove {CODE}")
    bot.settle_after_poll_cycles(2)  # housekeeping ran
    assert fake_tm.count("delete") == 0  # Bob still follows it
    send(fake_tg, BOB, f"/remove {CODE}")
    fake_tm.wait_for_requests("delete", 1)
    polls = fake_tm.count("get")
    bot.wait_poll_cycles(2)
    assert fake_tm.count("get") == polls and fake_tm.count("delete") == 1
    assert fake_tm.registered() == []


def test_delivered_is_archived_rechecked_and_a_return_notifies_again(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    fake_tm.script(CODE, status="pickup")
    bot = bot_factory()
    send(fake_tg, ALICE, f"{CODE} Scarpe")
    move(fake_tm, "delivered", "Consegnato", "2026-11-21 12:40:00")
    assert "Delivered" in fake_tg.wait_for_messages(ALICE, 2)[1]["text"]
    polls = fake_tm.count("get")
    bot.wait_poll_cycles(2)
    assert fake_tm.count("get") == polls  # terminal: no longer polled for now
    bot.stop()

    # Four days later (the clock moved by editing the database).
    past = (datetime.now(ROME) - timedelta(days=4)).astimezone().isoformat(timespec="milliseconds")
    write(bot_env, "UPDATE shipments SET delivered_at=?, next_recheck_at=?", (past, past))
    bot.start()
    bot.wait_ready(fake_tg)
    fake_tm.wait_for_requests("get", polls + 1)  # the re-check after delivery
    assert "not tracking any shipments" in send(fake_tg, ALICE, "/list")["text"]
    archived = send(fake_tg, ALICE, "/archived")
    assert "1 archived shipment" in archived["text"] and "Scarpe" in archived["text"]
    assert value(bot_env, "SELECT rechecks_left FROM shipments") == 2

    # "Delivered" turns into a return: told again, and back in /list.
    move(fake_tm, "transit", "In restituzione al mittente", "2026-11-25 10:00:00")
    send(fake_tg, ALICE, f"/status {CODE}")
    status = fake_tg.messages(ALICE)[-1]
    assert "Refresh" in str(status.get("reply_markup"))
    press(fake_tg, ALICE, status, "rf:1")
    note = fake_tg.wait_until(
        lambda f: [m for m in f.messages(ALICE) if "In restituzione" in (m.get("text") or "")],
        what="the return told",
    )
    assert "In transit" in note[0]["text"]
    assert "Scarpe" in send(fake_tg, ALICE, "/list")["text"]


def test_archived_can_be_restored(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    fake_tm.script(CODE, status="delivered")
    bot = bot_factory(ARCHIVE_AFTER_DAYS="0")
    send(fake_tg, ALICE, f"{CODE} Scarpe")
    bot.stop()
    # Delivered before we followed it: archive it right away.
    write(bot_env, "UPDATE shipments SET delivered_at='2026-01-01T00:00:00.000+00:00'")
    bot.start()
    bot.wait_ready(fake_tg)
    bot.wait_poll_cycles(1)  # a poll cycle archives it
    archived = send(fake_tg, ALICE, "/archived")
    assert buttons(archived) == {"ar:1": "♻️ Scarpe"}
    assert "is back in /list" in press(fake_tg, ALICE, archived, "ar:1")
    edited_text(fake_tg, ALICE, archived, "No archived shipments")
    assert "Scarpe" in send(fake_tg, ALICE, "/list")["text"]


@pytest.mark.in_process
def test_expired_can_be_tracked_again(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="transit")
    bot_factory()
    send(fake_tg, ALICE, CODE)
    fake_tm.set_status(CODE, "expired")
    note = fake_tg.wait_for_messages(ALICE, 2)[1]
    assert "Tracking expired" in note["text"]
    assert buttons(note)["rt:1"] == "♻️ Track again"
    press(fake_tg, ALICE, note, "rt:1")
    assert fake_tm.count("retrack") == 1
    again = fake_tg.wait_for_messages(ALICE, 3)[2]["text"]
    assert "Expired" not in again
