"""Sending one message the bot decided to send on its own (a notification, a digest, an alert),
with Telegram's answer sorted into what the caller must do next. Telegram only: what a refusal
means for stored chats (pause, move) is the caller's to record.

A formatting error — impossible, since everything is escaped, but not worth losing a message
over — falls back to plain text here. A failure of Telegram itself (no answer, a timeout, a
5xx) is told apart from a refusal of the message (`SendOutcome.unreachable`): the first says
nothing about the message, so it must not use up the message's attempts.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.texts.message import html_to_plain

logger = logging.getLogger(__name__)


class Delivery(StrEnum):
    SENT = "sent"
    FLOODED = "flooded"  # Telegram said to wait `retry_after` seconds
    CHAT_GONE = "chat_gone"  # blocked, removed or deleted: the chat must be paused
    MOVED = "moved"  # the group became a supergroup: now at `new_chat_id`
    TOPIC_GONE = "topic_gone"  # the forum topic was deleted: write in General
    TOPIC_CLOSED = "topic_closed"  # the forum topic is closed: write in General this time
    FAILED = "failed"  # anything else: try again later (`unreachable`: Telegram's own failure)


@dataclass(frozen=True)
class SendOutcome:
    delivery: Delivery
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str = ""
    unreachable: bool = False  # FAILED because Telegram did not answer (network, timeout, 5xx)


def retry_after_seconds(error: RetryAfter) -> float:
    # PTB 22 warns that `retry_after` becomes a timedelta; both forms are handled here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def send_message(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    keyboard: InlineKeyboardMarkup | None = None,
    silent: bool = False,
    thread_id: int | None = None,
) -> SendOutcome:
    try:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=keyboard,
            disable_notification=silent,
            message_thread_id=thread_id,
        )
    except RetryAfter as exc:
        return SendOutcome(Delivery.FLOODED, retry_after=retry_after_seconds(exc), error=str(exc))
    except Forbidden as exc:
        return SendOutcome(Delivery.CHAT_GONE, error=str(exc))
    except ChatMigrated as exc:
        return SendOutcome(Delivery.MOVED, new_chat_id=exc.new_chat_id, error=str(exc))
    except BadRequest as exc:
        return await _after_bad_request(bot, chat_id, text, exc, thread_id)
    except NetworkError as exc:  # no answer, a timeout (TimedOut) or a 5xx: Telegram's own
        return SendOutcome(Delivery.FAILED, error=f"{type(exc).__name__}: {exc}", unreachable=True)
    except TelegramError as exc:
        return SendOutcome(Delivery.FAILED, error=f"{type(exc).__name__}: {exc}")
    return SendOutcome(Delivery.SENT)


async def _after_bad_request(
    bot: Bot, chat_id: int, text: str, exc: BadRequest, thread_id: int | None
) -> SendOutcome:
    message = exc.message.lower()
    if "chat not found" in message:
        return SendOutcome(Delivery.CHAT_GONE, error=str(exc))
    if "message thread not found" in message or "topic_deleted" in message:
        return SendOutcome(Delivery.TOPIC_GONE, error=str(exc))
    if "topic_closed" in message:
        return SendOutcome(Delivery.TOPIC_CLOSED, error=str(exc))
    if "can't parse entities" not in message:
        return SendOutcome(Delivery.FAILED, error=f"{type(exc).__name__}: {exc}")
    logger.error("formatting refused by Telegram (%s); sending as plain text", exc)
    try:
        await bot.send_message(
            chat_id, html_to_plain(text), parse_mode=None, message_thread_id=thread_id
        )
    except BadRequest as plain_exc:
        return SendOutcome(Delivery.FAILED, error=f"{type(plain_exc).__name__}: {plain_exc}")
    except NetworkError as plain_exc:
        error = f"{type(plain_exc).__name__}: {plain_exc}"
        return SendOutcome(Delivery.FAILED, error=error, unreachable=True)
    except TelegramError as plain_exc:
        return SendOutcome(Delivery.FAILED, error=f"{type(plain_exc).__name__}: {plain_exc}")
    return SendOutcome(Delivery.SENT)
