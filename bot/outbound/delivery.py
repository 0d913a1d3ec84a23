"""Sending one message the bot decided to send on its own (a notification, a digest, an alert
to a chat), with Telegram's refusals handled in one place.

A blocked bot or a vanished chat pauses the chat; a group that became a supergroup is moved
(the caller may send again to the new id); a formatting error — impossible, since everything
is escaped, but not worth losing a message over — falls back to plain text; flood control and
other failures are handed back for the caller to retry later.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.storage import Storage

logger = logging.getLogger(__name__)

_TAG_RE = re.compile(r"<[^>]+>")


class Delivery(StrEnum):
    SENT = "sent"
    FLOODED = "flooded"  # Telegram said to wait `retry_after` seconds
    CHAT_GONE = "chat_gone"  # blocked or removed: the chat is paused
    MOVED = "moved"  # the group became a supergroup: moved to `new_chat_id`
    FAILED = "failed"  # anything else: try again later


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str = ""


def retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def html_to_plain(text: str) -> str:
    return html.unescape(_TAG_RE.sub("", text))


async def send_to_chat(
    bot: Bot,
    storage: Storage,
    chat_id: int,
    text: str,
    *,
    keyboard: InlineKeyboardMarkup | None = None,
    silent: bool = False,
) -> Outcome:
    try:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=keyboard,
            disable_notification=silent,
        )
    except RetryAfter as exc:
        return Outcome(Delivery.FLOODED, retry_after=retry_after_seconds(exc), error=str(exc))
    except Forbidden as exc:
        return await _chat_gone(storage, chat_id, exc)
    except ChatMigrated as exc:
        logger.info("chat %s migrated to %s; moving it", chat_id, exc.new_chat_id)
        await storage.chats.migrate_chat(chat_id, exc.new_chat_id)
        return Outcome(Delivery.MOVED, new_chat_id=exc.new_chat_id)
    except BadRequest as exc:
        return await _after_bad_request(bot, storage, chat_id, text, exc)
    except TelegramError as exc:
        return Outcome(Delivery.FAILED, error=f"{type(exc).__name__}: {exc}")
    return Outcome(Delivery.SENT)


async def _chat_gone(storage: Storage, chat_id: int, exc: TelegramError) -> Outcome:
    dropped = await storage.chats.block_chat(chat_id, str(exc))
    logger.info("chat %s is gone (%s); paused, %d queued dropped", chat_id, exc, dropped)
    return Outcome(Delivery.CHAT_GONE, error=str(exc))


async def _after_bad_request(
    bot: Bot, storage: Storage, chat_id: int, text: str, exc: BadRequest
) -> Outcome:
    message = exc.message.lower()
    if "chat not found" in message:
        return await _chat_gone(storage, chat_id, exc)
    if "can't parse entities" not in message:
        return Outcome(Delivery.FAILED, error=f"{type(exc).__name__}: {exc}")
    logger.error("formatting refused by Telegram (%s); sending as plain text", exc)
    try:
        await bot.send_message(chat_id, html_to_plain(text), parse_mode=None)
    except TelegramError as plain_exc:
        return Outcome(Delivery.FAILED, error=f"{type(plain_exc).__name__}: {plain_exc}")
    return Outcome(Delivery.SENT)
