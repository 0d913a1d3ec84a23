"""Sending one message the bot decided to send on its own (not an answer), as the notifier does.

Telegram's refusals are handled per kind, like `bot.notifier`: a blocked bot or a vanished
chat pauses the chat, a migrated group moves, a formatting error falls back to plain text,
flood control and anything else are left for the caller to retry later.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.notifier import html_to_plain, retry_after_seconds
from bot.storage import Storage

logger = logging.getLogger(__name__)


class Delivery(StrEnum):
    SENT = "sent"
    RETRY_LATER = "retry_later"  # flood control or a transient error
    CHAT_GONE = "chat_gone"  # blocked, removed, or moved to a new id: paused or moved


async def send_to_chat(bot: Bot, storage: Storage, chat_id: int, text: str) -> Delivery:
    try:
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
    except RetryAfter as exc:
        logger.info("flood control for chat %s: %.0f s", chat_id, retry_after_seconds(exc))
        return Delivery.RETRY_LATER
    except Forbidden as exc:
        dropped = await storage.block_chat(chat_id, str(exc))
        logger.info("chat %s blocked the bot (%s); paused, %d dropped", chat_id, exc, dropped)
        return Delivery.CHAT_GONE
    except ChatMigrated as exc:
        logger.info("chat %s migrated to %s; moving it", chat_id, exc.new_chat_id)
        await storage.migrate_chat(chat_id, exc.new_chat_id)
        return Delivery.CHAT_GONE
    except BadRequest as exc:
        return await _after_bad_request(bot, storage, chat_id, text, exc)
    except TelegramError as exc:
        logger.warning("message to chat %s failed: %s", chat_id, exc)
        return Delivery.RETRY_LATER
    return Delivery.SENT


async def _after_bad_request(
    bot: Bot, storage: Storage, chat_id: int, text: str, exc: BadRequest
) -> Delivery:
    message = exc.message.lower()
    if "chat not found" in message:
        await storage.block_chat(chat_id, str(exc))
        return Delivery.CHAT_GONE
    if "can't parse entities" not in message:
        logger.warning("message to chat %s refused: %s", chat_id, exc)
        return Delivery.RETRY_LATER
    logger.error("formatting refused by Telegram (%s); sending as plain text", exc)
    try:
        await bot.send_message(chat_id, html_to_plain(text), parse_mode=None)
    except TelegramError as plain_exc:
        logger.warning("plain text message to chat %s failed: %s", chat_id, plain_exc)
        return Delivery.RETRY_LATER
    return Delivery.SENT
