"""End to end, Telegram in webhook mode: an update Telegram sends again (it timed out
waiting for the answer, or a load balancer sent the retry to another replica) is answered
200 and handled once.

Passes once bot/app/assemble.py gives the WebServer
`first_update_sighting=storage.coordination.first_sighting_of_update` (and
`first_push_sighting=storage.coordination.first_sighting_of_push`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import _assert_no_secrets, _stop
from fakes.telegram import FakeTelegram
from harness import HANDLER_SETTLE_SECONDS, BotProcess, free_port, wait_for

pytestmark = pytest.mark.e2e

CHAT = 1001
TG_SECRET = "tg-webhook-secret-0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def webhook_bot(bot_env: dict[str, str], tmp_path: Path, fake_tg: FakeTelegram) -> Iterator[str]:
    """A bot in webhook mode; the URL Telegram would post its updates to."""
    port = free_port()
    env = {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
    }
    bot = BotProcess(env, tmp_path, "webhook-bot")
    bot.start()
    try:
        wait_for(lambda: fake_tg.calls("setWebhook") or not bot.alive, "setWebhook")
        assert bot.alive, bot.log_tail()
        [call] = fake_tg.calls("setWebhook")
        yield str(call["params"]["url"])
    finally:
        error = _stop(bot)
        _assert_no_secrets([bot])
        assert not error, error


def test_an_update_sent_twice_is_answered_once(webhook_bot: str, fake_tg: FakeTelegram) -> None:
    update = fake_tg.send_text(CHAT, "/start", language_code="en")
    headers = {SECRET_HEADER: TG_SECRET}
    first = httpx.post(webhook_bot, json=update, headers=headers, timeout=10)
    again = httpx.post(webhook_bot, json=update, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (200, 200)  # Telegram stops retrying
    fake_tg.wait_for_messages(CHAT, 1)
    later = fake_tg.send_text(CHAT, "/help", language_code="en")
    assert httpx.post(webhook_bot, json=later, headers=headers, timeout=10).status_code == 200
    fake_tg.wait_for_messages(CHAT, 2)
    time.sleep(HANDLER_SETTLE_SECONDS)
    texts = fake_tg.texts(CHAT)
    assert len(texts) == 2, texts  # /start once, then /help
    assert texts[0].startswith("👋 <b>Hi, I'm postino!</b>")
