"""The one path for a message the bot sends on its own: Telegram's answer is sent for
(`delivery`), and what it means for the stored chat is recorded here — a chat that blocked
or removed the bot is paused (its queued messages dropped), a group that became a supergroup
is moved to its new id."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup

from bot.outbound.delivery import Delivery, SendOutcome, send_message
from bot.storage import Storage

logger = logging.getLogger(__name__)


class ChatSender:
    def __init__(self, bot: Bot, storage: Storage) -> None:
        self._bot = bot
        self._storage = storage

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: InlineKeyboardMarkup | None = None,
        silent: bool = False,
    ) -> SendOutcome:
        outcome = await send_message(self._bot, chat_id, text, keyboard=keyboard, silent=silent)
        if outcome.delivery == Delivery.CHAT_GONE:
            dropped = await self._storage.chats.block_chat(chat_id, outcome.error)
            logger.info(
                "chat %s is gone (%s); paused, %d queued dropped", chat_id, outcome.error, dropped
            )
        elif outcome.delivery == Delivery.MOVED:
            assert outcome.new_chat_id is not None
            logger.info("chat %s migrated to %s; moving it", chat_id, outcome.new_chat_id)
            await self._storage.chats.migrate_chat(chat_id, outcome.new_chat_id)
        return outcome
