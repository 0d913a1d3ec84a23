"""Every published Telegram update of ../shared/realdata (tg_*.json) replayed through the real
bot: none stops the others, none makes an error, each is answered or ignored on purpose.

The samples come from Telegram's documentation and other libraries' test suites (see the
folder's SOURCES.md): group → supergroup migrations, anonymous admins, forum topics,
inaccessible callback messages, and updates python-telegram-bot cannot parse at all (a `from`
without `is_bot`), which used to wedge long polling on their offset.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BotFactory, _assert_no_secrets
from fakes.telegram import FakeTelegram
from harness import SEND_SETTLE_SECONDS
from inprocess import InProcessBot
from shared_data import require_shared

from bot.ops.telegram_updates import SkippingUnreadableUpdates, readable_update

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

REPLY, BUTTON, IGNORED, SKIPPED, FILTERED = "reply", "button", "ignored", "skipped", "filtered"
# What the bot does with each sample, and why. A new sample without a line here fails the
# test: every update is answered or ignored on purpose.
EXPECTED: dict[str, tuple[str, str]] = {
    "anonymous_admin_sender_chat_forward_origin_chat_teloxide": (IGNORED, "plain group text"),
    "audio_duplicate_chat_type_key_pytba": (REPLY, "not text: what to send"),
    "callback_query_inaccessible_message_date0_telegrambot": (BUTTON, "stale button"),
    "callback_query_inline_message_no_chat_instance_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "channel_post_claudia_pr112_FIXED": (IGNORED, "channel posts are not for the bot"),
    "chat_member_left_to_kicked_explicit_nulls_telegrambot": (FILTERED, "not asked for"),
    "document_pdf_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "edited_message_live_location_heading_rubenlagus": (IGNORED, "edits are ignored"),
    "edited_message_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "empty_message_no_content_teloxide": (REPLY, "not text: what to send"),
    "entities_unordered_bold_italic_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "forum_topic_created_teloxide": (IGNORED, "service message"),
    "forum_topic_message_reply_to_topic_root_teloxide": (IGNORED, "plain group text"),
    "forward_origin_channel_odd_chat_telegrambot": (REPLY, "no code found"),
    "forward_origin_hidden_user_telegrambot": (REPLY, "no code found"),
    "forwarded_channel_message_legacy_forward_from_chat_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "group_left_chat_member_bot_removed_rubenlagus": (IGNORED, "service message"),
    "group_migrate_to_chat_id_teloxide": (IGNORED, "the chat moves, quietly"),
    "group_new_chat_members_bot_added_rubenlagus": (IGNORED, "service message"),
    "inconsistent_private_chat_with_title_negative_id_pytba": (REPLY, "no code found"),
    "inline_query_numeric_id_tgdocs_webhooks": (SKIPPED, "no is_bot"),
    "legacy_forward_from_custom_emoji_utf16_pytba": (REPLY, "no code found"),
    "location_venue_zero_coords_no_from_teloxide": (REPLY, "not text: what to send"),
    "message_reaction_actor_chat_cyrillic_teloxide": (FILTERED, "not asked for"),
    "message_reaction_user_teloxide": (FILTERED, "not asked for"),
    "message_text_no_chat_type_tgdocs_webhooks": (SKIPPED, "no is_bot, no chat type"),
    "multi_kind_update_legacy_rubenlagus": (SKIPPED, "no is_bot"),
    "my_chat_member_private_bot_blocked_teloxide": (IGNORED, "the chat is paused, quietly"),
    "photo_sizes_caption_url_entity_teloxide": (REPLY, "a picture: no barcode in it"),
    "private_text_link_preview_teloxide": (REPLY, "no code found"),
    "reply_with_quote_many_entities_pytba": (REPLY, "no code found"),
    "sticker_animated_private_teloxide": (REPLY, "not text: what to send"),
    "supergroup_contact_vcard_newline_rubenlagus": (IGNORED, "plain group message"),
    "supergroup_migrate_from_chat_id_teloxide": (IGNORED, "the chat moves, quietly"),
    "supergroup_reply_to_story_command_with_thread_id_teloxide": (IGNORED, "not our command"),
    "text_cyrillic_emoji_teloxide": (REPLY, "no code found"),
    "text_link_bold_overlap_no_from_pytba": (REPLY, "no code found"),
    "text_literal_html_tags_no_entities_pytba": (REPLY, "no code found"),
    "unknown_update_kind_teloxide": (FILTERED, "not asked for"),
    "voice_tgdocs_webhooks": (SKIPPED, "no is_bot"),
}
NORMAL_CHAT = 5555
SKIP_LINE = "that the library cannot read"
WEBHOOK_SECRET = "tg-webhook-secret-realdata-0123"
# Unreadable too, but of kinds the bot does not ask Telegram for (allowed_updates): long
# polling never sees them, a webhook might.
UNREADABLE_UNASKED = frozenset(
    {
        "chat_member_left_to_kicked_explicit_nulls_telegrambot",
    }
)


def samples() -> list[tuple[str, dict[str, Any]]]:
    folder = require_shared("realdata")
    files = sorted(folder.glob("tg_*.json"))
    assert files, f"no tg_*.json in {folder}"
    return [(path.stem.removeprefix("tg_"), json.loads(path.read_text("utf-8"))) for path in files]


def chat_of(update: dict[str, Any]) -> int:
    body = next(value for key, value in update.items() if key != "update_id")
    chat = body.get("chat") or (body.get("message") or {}).get("chat")
    return int(chat["id"])


PERSONAL_KEYS = frozenset(
    {"text", "caption", "first_name", "last_name", "username", "title", "query", "data"}
)


def personal_strings(value: Any) -> Iterator[str]:
    """Texts and names of an update: what a log line about it must never hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PERSONAL_KEYS and isinstance(item, str) and len(item) >= 3:
                yield item
            else:
                yield from personal_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from personal_strings(item)


def replies(fake_tg: FakeTelegram) -> int:
    """Messages sent to the replayed updates' chats."""
    return sum(
        1
        for m in fake_tg.messages()
        if m["method"] == "sendMessage" and m["chat_id"] != NORMAL_CHAT
    )


def test_every_sample_has_an_expectation() -> None:
    names = {name for name, _ in samples()}
    assert names == set(EXPECTED), (
        f"without expectation: {sorted(names - set(EXPECTED))}; "
        f"gone: {sorted(set(EXPECTED) - names)}"
    )


def test_every_sample_is_readable_or_reduced_to_its_id() -> None:
    """The getUpdates reader never raises: an update is kept whole or becomes its bare id."""
    for name, update in samples():
        kept = readable_update(update)
        skipped = EXPECTED[name][0] == SKIPPED or name in UNREADABLE_UNASKED
        assert kept == ({"update_id": update["update_id"]} if skipped else update), name
    batch = {"ok": True, "result": [update for _, update in samples()] + [["no"], {"x": 1}]}
    answer = SkippingUnreadableUpdates.parse_json_payload(json.dumps(batch).encode())
    assert len(answer["result"]) == len(samples())  # no update_id: dropped


def test_replaying_every_sample_stops_nothing_and_errs_nowhere(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot = bot_factory()
    replayed = samples()
    for _name, update in replayed:
        fake_tg.replay_update(update)
    fake_tg.send_text(NORMAL_CHAT, "/start", language_code="en")

    # The bot still answers a normal message sent after them all...
    assert "postino" in fake_tg.wait_for_messages(NORMAL_CHAT, 1, timeout=20)[0]["text"]
    fake_tg.wait_for_updates_taken()
    expected_replies = Counter(
        chat_of(update) for name, update in replayed if EXPECTED[name][0] == REPLY
    )
    buttons = sum(EXPECTED[name][0] == BUTTON for name, _ in replayed)
    skipped = [update for name, update in replayed if EXPECTED[name][0] == SKIPPED]
    fake_tg.wait_until(
        lambda f: replies(f) >= expected_replies.total() and len(f.callback_answers()) >= buttons,
        what="the answers to the replayed updates",
    )
    bot.wait_for_log(SKIP_LINE, len(skipped))
    time.sleep(SEND_SETTLE_SECONDS)  # nothing more is coming (would be a wrong answer)

    # ...each answered once where expected, and nothing said where not...
    sent = Counter(m["chat_id"] for m in fake_tg.messages() if m["method"] == "sendMessage")
    assert sent == expected_replies + Counter({NORMAL_CHAT: 1})
    assert len(fake_tg.callback_answers()) == buttons
    assert not fake_tg.failed_calls(), fake_tg.failed_calls()
    # ...with no error, each unreadable update logged once, without its texts or names...
    log = bot.log_text()
    assert " ERROR " not in log and "Traceback" not in log, bot.log_tail()
    skip_lines = [line for line in log.splitlines() if SKIP_LINE in line]
    assert len(skip_lines) == len(skipped)
    for update in skipped:
        leaked = [s for s in personal_strings(update) if any(s in line for line in skip_lines)]
        assert not leaked, leaked
    # ...and long polling moved on at once (no loop on a stuck offset).
    assert len(fake_tg.calls("getUpdates")) < 20
    # Both halves of the migration were understood: the old group's id moved quietly.
    assert log.count("became supergroup -1001555296434") == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webhook_bot(bot_env: dict[str, str], tmp_path: Path, fake_tg: FakeTelegram) -> Iterator[Any]:
    port = _free_port()
    env = {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    bot = InProcessBot(env, tmp_path, "webhook-bot")
    bot.start()
    try:
        fake_tg.wait_until(lambda f: f.calls("setWebhook"), what="setWebhook")
        yield bot
    finally:
        bot.stop()
        _assert_no_secrets([bot])


def test_webhook_takes_an_unreadable_update_with_200_and_goes_on(
    webhook_bot: InProcessBot, fake_tg: FakeTelegram
) -> None:
    url = fake_tg.calls("setWebhook")[0]["params"]["url"]
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    statuses = {}
    for name, update in samples():
        # As Telegram would post it now: a fresh update_id, its button answerable.
        fresh = fake_tg.replay_update(update)
        statuses[name] = httpx.post(url, json=fresh, headers=headers, timeout=10).status_code
    assert set(statuses.values()) == {200}, statuses
    normal = fake_tg.send_text(NORMAL_CHAT, "/start", language_code="en")
    assert httpx.post(url, json=normal, headers=headers, timeout=10).status_code == 200
    assert "postino" in fake_tg.wait_for_messages(NORMAL_CHAT, 1)[0]["text"]
    # Every sample reaches the webhook (no allowed_updates filter in between): the
    # unreadable kind that long polling never asks for is skipped here too.
    unreadable = sum(EXPECTED[name][0] == SKIPPED for name in statuses) + len(UNREADABLE_UNASKED)
    webhook_bot.wait_for_log(SKIP_LINE, unreadable)
    log = webhook_bot.log_text()
    assert " ERROR " not in log and "Traceback" not in log, webhook_bot.log_tail()
