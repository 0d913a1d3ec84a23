"""The one path for a message the bot sends on its own: Telegram's answer is sent for
(`delivery`), and what it means for the stored chat is recorded here — a chat that blocked
or removed the bot is paused (its queued messages dropped), a group that became a supergroup
is moved to its new id, a message for a deleted or closed forum topic goes to General (with
a line saying which topic it was for), and a deleted topic's shipments move to General. A
topic known to be closed is not tried for an hour: its news goes to General at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup

from bot.core.times import utcnow
from bot.outbound.delivery import Delivery, SendOutcome, send_message
from bot.storage import Storage

logger = logging.getLogger(__name__)

# A closed topic may be reopened without the bot seeing it (the service message is missed
# while the bot is down): after this long it is tried again.
CLOSED_TOPIC_RECHECK = timedelta(hours=1)


@dataclass(frozen=True)
class InTopic:
    """Where in a forum a message goes, and what it says in General if the topic is gone."""

    thread_id: int
    text_for_general: str
    closed_since: datetime | None = None  # when Telegram last said the topic is closed

    def known_closed(self, now: datetime) -> bool:
        return self.closed_since is not None and now - self.closed_since < CLOSED_TOPIC_RECHECK


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
        topic: InTopic | None = None,
    ) -> SendOutcome:
        if topic is not None and topic.known_closed(utcnow()):
            general = topic.text_for_general
            return await self.send(chat_id, general, keyboard=keyboard, silent=silent)
        thread_id = topic.thread_id if topic else None
        outcome = await send_message(
            self._bot, chat_id, text, keyboard=keyboard, silent=silent, thread_id=thread_id
        )
        if topic is not None and outcome.delivery in (Delivery.TOPIC_GONE, Delivery.TOPIC_CLOSED):
            await self._topic_refused(chat_id, topic.thread_id, outcome)
            general = topic.text_for_general
            return await self.send(chat_id, general, keyboard=keyboard, silent=silent)
        if topic is not None and topic.closed_since and outcome.delivery == Delivery.SENT:
            logger.info("topic %s of chat %s is open again", topic.thread_id, chat_id)
            await self._storage.topics.closed(chat_id, topic.thread_id, closed=False)
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

    async def _topic_refused(self, chat_id: int, thread_id: int, outcome: SendOutcome) -> None:
        if outcome.delivery == Delivery.TOPIC_GONE:
            moved = await self._storage.topics.topic_gone(chat_id, thread_id)
            logger.info(
                "topic %s of chat %s is gone (%s); %d shipments now in General",
                thread_id,
                chat_id,
                outcome.error,
                moved,
            )
        else:
            logger.info("topic %s of chat %s is closed; writing in General", thread_id, chat_id)
            await self._storage.topics.closed(chat_id, thread_id)
