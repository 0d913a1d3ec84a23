"""End to end, issue 14: a supergroup with topics. A shipment added in a topic is answered and
told there; /list, /summary and /export in a topic are about that topic's, in General about the
whole group's; added again in another topic it moves there; a closed or deleted topic's news
goes to General saying which topic it was for, and a deleted topic's shipments stay there."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import settle_updates

from bot.core.times import ROME

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

SHOP = -1001234567890
CLERK = 2001
ORDERS_CODE, RETURNS_CODE, GENERAL_CODE = "RR123456785IT", "EE123456785IT", "CA123456785IT"


def sent(fake_tg: FakeTelegram) -> int:
    return len(fake_tg.texts(SHOP))


def say(fake_tg: FakeTelegram, text: str, thread_id: int | None = None) -> None:
    fake_tg.send_text(
        SHOP, text, chat_type="supergroup", user_id=CLERK, language_code="en", thread_id=thread_id
    )


def ask(fake_tg: FakeTelegram, text: str, thread_id: int | None = None) -> dict[str, Any]:
    """A clerk writes in the shop's group (in a topic, or General); the bot's next message."""
    before = sent(fake_tg)
    say(fake_tg, text, thread_id)
    return next_sent(fake_tg, before)


def thread_of(sent: dict[str, Any]) -> int | None:
    value = sent["params"].get("message_thread_id")
    return int(value) if value not in (None, "") else None


def next_sent(fake_tg: FakeTelegram, seen: int) -> dict[str, Any]:
    return fake_tg.wait_for_messages(SHOP, seen + 1, timeout=30)[seen]


def refused_as_closed(fake_tg: FakeTelegram) -> int:
    """How many messages Telegram refused because their topic is closed."""
    return sum("TOPIC_CLOSED" in str(c) for c in fake_tg.failed_calls("sendMessage"))


def test_topics_scope_answers_lists_and_notifications(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    for code in (ORDERS_CODE, RETURNS_CODE, GENERAL_CODE):
        fake_tm.script(code, status="transit", events=[{"detail": "Accettata", "location": "MI"}])
    bot = bot_factory()
    fake_tg.set_chat_admins(SHOP, [], creator=CLERK)
    assert "English" in ask(fake_tg, "/lang en")["text"]
    orders = fake_tg.create_forum_topic(SHOP, "Ordini", user_id=CLERK)
    returns = fake_tg.create_forum_topic(SHOP, "Resi <B2B>", user_id=CLERK)

    added = ask(fake_tg, f"/track {ORDERS_CODE} Rossi", orders)
    assert thread_of(added) == orders and "Rossi" in added["text"]
    assert thread_of(ask(fake_tg, f"/track {RETURNS_CODE}", returns)) == returns
    assert thread_of(ask(fake_tg, f"/track {GENERAL_CODE}")) is None

    in_orders = ask(fake_tg, "/list", orders)
    assert thread_of(in_orders) == orders
    assert ORDERS_CODE in in_orders["text"]
    assert RETURNS_CODE not in in_orders["text"] and GENERAL_CODE not in in_orders["text"]
    assert "Only this topic's shipments" in in_orders["text"]
    everything = ask(fake_tg, "/list")
    assert all(c in everything["text"] for c in (ORDERS_CODE, RETURNS_CODE, GENERAL_CODE))
    assert "Only this topic" not in everything["text"]

    summary = ask(fake_tg, "/summary", returns)
    assert thread_of(summary) == returns and "1 shipment" in summary["text"]
    say(fake_tg, "/export", orders)
    [export] = fake_tg.wait_until(
        lambda f: [m for m in f.messages(SHOP) if m["method"] == "sendDocument"], what="export"
    )
    assert thread_of(export) == orders
    rows = list(csv.reader(io.StringIO(export["document"][1].decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [ORDERS_CODE]

    # News of a shipment goes to its topic.
    bot.settle_after_poll_cycles(2)
    seen = sent(fake_tg)
    fake_tm.move(ORDERS_CODE, "transit", "In transito", "BOLOGNA")
    told = next_sent(fake_tg, seen)
    assert ORDERS_CODE in told["text"] and thread_of(told) == orders

    # Added again in another topic: it moves there, and the answer says so.
    moved = ask(fake_tg, f"/track {ORDERS_CODE}", returns)
    assert thread_of(moved) == returns and "now belongs to this topic" in moved["text"]
    assert f"track_{ORDERS_CODE}" not in ask(fake_tg, "/list", orders)["text"]
    seen = sent(fake_tg)
    fake_tm.move(ORDERS_CODE, "pickup", "In consegna", "ROMA")
    assert thread_of(next_sent(fake_tg, seen)) == returns

    # A closed topic: this message goes to General, saying for which topic; reopened, back.
    # The bot saw it closed (the service message): the topic is not even tried.
    fake_tg.close_forum_topic(SHOP, returns)
    settle_updates(fake_tg)
    seen = sent(fake_tg)
    fake_tm.move(RETURNS_CODE, "transit", "In transito", "NAPOLI")
    in_general = next_sent(fake_tg, seen)
    assert thread_of(in_general) is None and RETURNS_CODE in in_general["text"]
    assert "For the topic «Resi &lt;B2B&gt;», which is closed" in in_general["text"]
    assert refused_as_closed(fake_tg) == 0
    fake_tg.close_forum_topic(SHOP, returns, closed=False)
    settle_updates(fake_tg)
    seen = sent(fake_tg)
    fake_tm.move(RETURNS_CODE, "transit", "In transito", "SALERNO")
    assert thread_of(next_sent(fake_tg, seen)) == returns

    # A deleted topic: to General with the note, and its shipments belong to General now.
    fake_tg.delete_forum_topic(SHOP, returns)
    seen = sent(fake_tg)
    fake_tm.move(RETURNS_CODE, "pickup", "In consegna", "SALERNO")
    in_general = next_sent(fake_tg, seen)
    assert thread_of(in_general) is None and "«Resi &lt;B2B&gt;»" in in_general["text"]
    refused = [c for c in fake_tg.failed_calls("sendMessage") if "thread" in str(c)]
    seen = sent(fake_tg)
    fake_tm.move(ORDERS_CODE, "delivered", "Consegnato", "ROMA")
    later = next_sent(fake_tg, seen)
    assert thread_of(later) is None and "For the topic" not in later["text"]
    # Not tried in the deleted topic again: it is no longer the shipments' topic.
    assert [c for c in fake_tg.failed_calls("sendMessage") if "thread" in str(c)] == refused


def test_topic_names_are_learned_from_the_messages_telegram_shows(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """A topic created before the bot was running is named by the message every post in it
    quotes; a rename is followed."""
    fake_tm.script(ORDERS_CODE, status="transit", events=[{"detail": "Accettata"}])
    topic = fake_tg.create_forum_topic(SHOP, "Vecchio nome", user_id=CLERK, announce=False)
    bot = bot_factory()
    fake_tg.set_chat_admins(SHOP, [], creator=CLERK)
    assert "English" in ask(fake_tg, "/lang en")["text"]
    ask(fake_tg, f"/track {ORDERS_CODE}", topic)
    fake_tg.rename_forum_topic(SHOP, topic, "Spedizioni Natale", user_id=CLERK)
    ask(fake_tg, "/list", topic)  # the rename is an update before this one
    bot.settle_after_poll_cycles(2)
    fake_tg.delete_forum_topic(SHOP, topic)
    seen = sent(fake_tg)
    fake_tm.move(ORDERS_CODE, "pickup", "In consegna", "ROMA")
    told = next_sent(fake_tg, seen)
    assert thread_of(told) is None and "«Spedizioni Natale»" in told["text"]


def test_the_digest_goes_to_general(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    recent = (datetime.now(ROME) - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    fake_tm.script(ORDERS_CODE, events=[{"detail": "In transito", "time": recent}])
    bot_factory()
    fake_tg.set_chat_admins(SHOP, [], creator=CLERK)
    ask(fake_tg, "/lang en")
    topic = fake_tg.create_forum_topic(SHOP, "Ordini", user_id=CLERK)
    ask(fake_tg, f"/track {ORDERS_CODE}", topic)
    while True:  # `/digest HH:MM` for the minute the message is written in
        clock = datetime.now(ROME).strftime("%H:%M")
        before = sent(fake_tg)
        update = fake_tg.send_text(
            SHOP, f"/digest {clock}", chat_type="supergroup", user_id=CLERK, thread_id=topic
        )
        assert thread_of(next_sent(fake_tg, before)) == topic  # the answer, in the topic
        written = datetime.fromtimestamp(update["message"]["date"], ROME).strftime("%H:%M")
        if written == clock:
            break

    def digest(f: FakeTelegram) -> list[dict[str, Any]]:
        return [m for m in f.messages(SHOP) if (m["text"] or "").startswith("🗞 <b>Daily")]

    [told] = fake_tg.wait_until(digest, timeout=20, what="the digest")
    assert thread_of(told) is None and ORDERS_CODE in told["text"]


def test_a_close_the_bot_missed_is_learned_from_telegrams_refusal(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """Closed while the bot did not see it: the first message is refused and goes to General,
    the next ones go to General without asking; reopened (seen), the topic again."""
    fake_tm.script(ORDERS_CODE, status="transit", events=[{"detail": "Accettata"}])
    bot = bot_factory()
    fake_tg.set_chat_admins(SHOP, [], creator=CLERK)
    ask(fake_tg, "/lang en")
    topic = fake_tg.create_forum_topic(SHOP, "Resi", user_id=CLERK)
    ask(fake_tg, f"/track {ORDERS_CODE}", topic)
    bot.settle_after_poll_cycles(2)
    fake_tg.close_forum_topic(SHOP, topic, announce=False)
    for n, (status, place) in enumerate([("transit", "BOLOGNA"), ("pickup", "ROMA")]):
        seen = sent(fake_tg)
        fake_tm.move(ORDERS_CODE, status, "Aggiornamento", place)
        told = next_sent(fake_tg, seen)
        assert thread_of(told) is None and "«Resi», which is closed" in told["text"]
        assert refused_as_closed(fake_tg) == 1, f"message {n + 1}"
    fake_tg.close_forum_topic(SHOP, topic, closed=False)
    settle_updates(fake_tg)
    seen = sent(fake_tg)
    fake_tm.move(ORDERS_CODE, "delivered", "Consegnato", "ROMA")
    told = next_sent(fake_tg, seen)
    assert thread_of(told) == topic and "which is closed" not in told["text"]
