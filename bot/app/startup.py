"""Start-up before the services exist: the PTB application, Telegram's first answer (getMe,
with patience), and the database (with patience too, when it is a PostgreSQL server that
does not answer yet). A refused token or password stops here, in one line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.config import Settings
from bot.handlers.context import Context
from bot.handlers.routes import register_handlers
from bot.ops.health import Heartbeat, RoundTripRecordingRequest
from bot.ops.telegram_updates import SkippingUnreadableUpdates
from bot.storage import Storage
from bot.storage.postgres import StorageUnreachableError

logger = logging.getLogger(__name__)

TELEGRAM_START_RETRY_MAX = 60.0
DATABASE_START_RETRY_MAX = 30.0
MESSAGES_PER_SECOND = 30
OVERALL_BURST = 3
MESSAGES_PER_MINUTE_PER_GROUP = 20

PTBApplication = Application[Any, Any, Any, Any, Any, Any]


class StartupError(RuntimeError):
    """Start-up cannot continue; the message is one line for the operator."""


def build_application(settings: Settings, heartbeat: Heartbeat) -> PTBApplication:
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .rate_limiter(telegram_rate_limiter())
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(16)
        .request(RoundTripRecordingRequest(heartbeat, connection_pool_size=64, pool_timeout=30))
        .get_updates_request(SkippingUnreadableUpdates(heartbeat, connection_pool_size=1))
        .build()
    )
    register_handlers(application)
    return application


def telegram_rate_limiter() -> AIORateLimiter:
    """Telegram's 30 messages/s with a burst of 3, instead of AIORateLimiter's default burst
    of 30: a burst of 30 that reaches Telegram a little late lands on the next second's share
    and is answered 429. The burst of 3 only makes up for sends that started late, so the
    rate stays at 30/s. Groups keep 20 per minute."""
    return AIORateLimiter(
        overall_max_rate=OVERALL_BURST,
        overall_time_period=OVERALL_BURST / MESSAGES_PER_SECOND,
        group_max_rate=MESSAGES_PER_MINUTE_PER_GROUP,
        group_time_period=60,
        max_retries=0,
    )


async def initialize_telegram(
    application: PTBApplication, heartbeat: Heartbeat, stop: asyncio.Event
) -> None:
    """getMe with patience: Telegram being unreachable at boot is not fatal, a bad token is."""
    delay = 1.0
    while True:
        try:
            await application.initialize()
            return
        except InvalidToken:
            raise StartupError(
                "TELEGRAM_BOT_TOKEN was refused by Telegram (getMe: Unauthorized)"
            ) from None
        except (NetworkError, TelegramError) as exc:
            logger.warning("Telegram not reachable at start (%s); retrying in %.0f s", exc, delay)
            await asyncio.to_thread(heartbeat.starting, f"Telegram not reachable: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), delay)
            raise StartupError("stopped before Telegram could be reached")
        except TimeoutError:
            delay = min(TELEGRAM_START_RETRY_MAX, delay * 2)


async def open_storage(settings: Settings, heartbeat: Heartbeat, stop: asyncio.Event) -> Storage:
    """The database, with patience for a PostgreSQL server that does not answer yet (it
    may be starting beside the bot); refused credentials stop at once."""
    delay = 1.0
    while True:
        try:
            return await Storage.open(settings.database)
        except StorageUnreachableError as exc:
            logger.warning("%s; retrying in %.0f s", exc, delay)
            await asyncio.to_thread(heartbeat.starting, str(exc))
        try:
            await asyncio.wait_for(stop.wait(), delay)
            raise StartupError("stopped before the database could be reached")
        except TimeoutError:
            delay = min(DATABASE_START_RETRY_MAX, delay * 2)
