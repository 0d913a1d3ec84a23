"""Telegram in webhook mode: register the webhook, and keep an eye on it.

Telegram posts updates to TELEGRAM_WEBHOOK_URL + an unguessable path, with the secret
token in `X-Telegram-Bot-Api-Secret-Token` (the web server checks both). Nothing else
talks to Telegram while nobody writes to the bot, so a job asks for the webhook's state
every minute: it keeps the health check's Telegram round-trip fresh, puts the webhook
back if it was removed or changed, and logs the delivery errors Telegram reports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot.config import TELEGRAM_WEBHOOK_PREFIX, Settings

logger = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 60.0


def masked_webhook_url(settings: Settings) -> str:
    return f"{settings.telegram_webhook_url}{TELEGRAM_WEBHOOK_PREFIX}…"


class TelegramWebhook:
    def __init__(self, bot: Bot, settings: Settings, allowed_updates: Sequence[str]) -> None:
        self._bot = bot
        self._settings = settings
        self._allowed_updates = list(allowed_updates)
        self._last_error_date: datetime | None = None

    @property
    def url(self) -> str:
        return self._settings.telegram_webhook_url + self._settings.telegram_webhook_path

    async def register(self) -> None:
        await self._bot.set_webhook(
            self.url,
            secret_token=self._settings.telegram_webhook_secret_token,
            allowed_updates=self._allowed_updates,
        )
        logger.info("Telegram webhook set to %s", masked_webhook_url(self._settings))

    async def watch_job(self, _context: Any) -> None:
        try:
            info = await self._bot.get_webhook_info()
            if info.url != self.url:
                logger.warning("Telegram webhook was changed or removed; setting it again")
                await self.register()
                return
        except TelegramError as exc:
            logger.warning("could not check the Telegram webhook: %s", exc)
            return
        if info.last_error_date and info.last_error_date != self._last_error_date:
            self._last_error_date = info.last_error_date
            logger.warning(
                "Telegram could not deliver updates to the webhook (%s, %d pending): %s",
                info.last_error_date.isoformat(timespec="seconds"),
                info.pending_update_count,
                info.last_error_message or "no detail",
            )
