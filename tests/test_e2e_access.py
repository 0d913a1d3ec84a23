"""Access control: strangers cannot spend the owner's quota; groups have their admins."""

from __future__ import annotations

import pytest
from conftest import BotFactory
from db_reads import rows
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import settle_updates

# Handlers' answers: the bot runs in the test process (see tests/inprocess.py).
pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE = "RR123456785IT"
OWNER, STRANGER, ADMIN = 1001, 6666, 777
SHOP_GROUP, OTHER_GROUP = -2001, -2002


def ask(fake_tg: FakeTelegram, chat_id: int, text: str, **kwargs: object) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, text, **kwargs)  # type: ignore[arg-type]
    return fake_tg.wait_for_messages(chat_id, before + 1)[before]["text"]


def test_strangers_get_one_refusal_and_nothing_is_stored_or_spent(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    bot = bot_factory(ALLOWED_USER_IDS=str(OWNER), ALLOWED_CHAT_IDS=str(SHOP_GROUP))
    assert "this postino is private" in ask(fake_tg, STRANGER, CODE, language_code="en")
    fake_tg.send_text(STRANGER, f"/track {CODE}", language_code="en")
    fake_tg.send_text(STRANGER, "/list", language_code="en")
    fake_tg.send_text(OTHER_GROUP, f"/track {CODE}", chat_type="group", user_id=STRANGER)
    assert "private" in fake_tg.wait_for_messages(OTHER_GROUP, 1)[0]["text"]
    callback = fake_tg.press_button(STRANGER, 1, "st:1")
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what="refused callback")
    settle_updates(fake_tg)
    assert len(fake_tg.texts(STRANGER)) == 1  # one refusal, then silence
    assert fake_tm.parcel_requests == []

    # The owner and any member of the allowed group are served.
    assert "Now tracking" in ask(fake_tg, OWNER, CODE, language_code="en")
    assert "Ora seguo" in ask(
        fake_tg, SHOP_GROUP, "/track EE123456785IT", chat_type="group", user_id=STRANGER
    )
    bot.stop()
    chats = sorted(row[0] for row in rows(bot_env, "SELECT id FROM chats"))
    assert chats == [SHOP_GROUP, OWNER]


def test_admin_stats_and_non_admin_refusal(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(CODE, status="transit")
    bot_factory(ADMIN_USER_IDS=str(ADMIN), ALLOWED_USER_IDS=str(OWNER))
    ask(fake_tg, OWNER, CODE, language_code="en")
    assert "for the bot's administrators" in ask(fake_tg, OWNER, "/stats", language_code="en")
    fake_tm.wait_for_requests("get", 1)
    stats = ask(fake_tg, ADMIN, "/stats", language_code="en")
    assert "Shipments followed: 1 (1 being polled)" in stats
    assert "Subscriptions: 1 in 2 chats (0 paused)" in stats  # the admin's chat too
    assert "TrackingMore today: " in stats and "TrackingMore: working" in stats
    assert "Last 24 hours: 0 sent, 0 given up" in stats
    for secret in (fake_tg.token, fake_tg.token.partition(":")[2], fake_tm.api_key):
        assert secret not in stats


def test_group_admins_manage_what_others_added(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    member, other_member, group_admin = 501, 502, 503
    bot_factory()
    fake_tg.set_chat_admins(SHOP_GROUP, [group_admin])
    group = {"chat_type": "group", "language_code": "en"}
    ask(fake_tg, SHOP_GROUP, f"/track {CODE} order 1", user_id=member, **group)
    ask(fake_tg, SHOP_GROUP, "/track EE123456785IT order 2", user_id=member, **group)

    refused = ask(fake_tg, SHOP_GROUP, f"/remove {CODE}", user_id=other_member, **group)
    assert "Solo gli amministratori" in refused
    assert "rimossa" not in refused and "Non seguo più" not in refused
    assert "Non seguo più" in ask(fake_tg, SHOP_GROUP, f"/remove {CODE}", user_id=member, **group)
    assert "Non seguo più" in ask(
        fake_tg, SHOP_GROUP, "/remove EE123456785IT", user_id=group_admin, **group
    )
    assert "Solo gli amministratori" in ask(
        fake_tg, SHOP_GROUP, "/lang en", user_id=other_member, **group
    )
    assert "in English" in ask(fake_tg, SHOP_GROUP, "/lang en", user_id=group_admin, **group)


def test_bot_admin_can_manage_any_group(bot_factory: BotFactory, fake_tg: FakeTelegram) -> None:
    bot_factory(ADMIN_USER_IDS=str(ADMIN))
    group = {"chat_type": "group", "language_code": "en"}
    ask(fake_tg, SHOP_GROUP, f"/track {CODE}", user_id=501, **group)
    assert "Non seguo più" in ask(fake_tg, SHOP_GROUP, f"/remove {CODE}", user_id=ADMIN, **group)
