"""Forum topics' names, learned from what Telegram shows the bot: the service message that
creates or renames a topic, and the topic's first message, which every message in the topic
quotes. The names say, in General, which topic a message was meant for once its topic is gone.
And whether a topic is closed, from the service messages that close and reopen it: a closed
topic's news goes to General without being refused first.
"""

from __future__ import annotations

from typing import Any

from telegram import Message, Update
from telegram.ext import Application, MessageHandler, filters

from bot.handlers.context import Context

# Names already stored, per (chat, topic): a busy topic costs one write, not one per message.
_SEEN_KEY = "topic_names_seen"
_MAX_REMEMBERED = 10_000


def topic_name_in(message: Message) -> tuple[str | None, bool]:
    """The topic's name this message shows, if any, and whether it is the current one: the
    first message every post quotes keeps the name the topic was opened with."""
    if message.forum_topic_created is not None:
        return message.forum_topic_created.name, True
    if message.forum_topic_edited is not None and message.forum_topic_edited.name:
        return message.forum_topic_edited.name, True
    quoted = message.reply_to_message
    if quoted is not None and quoted.forum_topic_created is not None:
        return quoted.forum_topic_created.name, False
    return None, False


async def remember_topic(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or message.message_thread_id is None:
        return
    name, current = topic_name_in(message)
    if not name:
        return
    seen: dict[tuple[int, int], str] = context.bot_data.setdefault(_SEEN_KEY, {})
    key = (chat.id, message.message_thread_id)
    if key in seen and (not current or seen[key] == name):
        return
    storage = context.services.storage
    await storage.chats.touch_chat(chat.id, chat.type, chat.title, None)
    await storage.topics.remember(chat.id, message.message_thread_id, name, replace=current)
    if len(seen) >= _MAX_REMEMBERED:
        seen.clear()
    seen[key] = name


async def remember_closing(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or message.message_thread_id is None:
        return
    storage = context.services.storage
    await storage.chats.touch_chat(chat.id, chat.type, chat.title, None)
    closed = message.forum_topic_closed is not None
    await storage.topics.closed(chat.id, message.message_thread_id, closed=closed)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """In a handler group of its own: it runs beside whatever else answers the message."""
    in_topic = filters.ChatType.SUPERGROUP & (
        filters.IS_TOPIC_MESSAGE
        | filters.StatusUpdate.FORUM_TOPIC_CREATED
        | filters.StatusUpdate.FORUM_TOPIC_EDITED
    )
    application.add_handler(MessageHandler(in_topic, remember_topic), group=1)
    closing = filters.ChatType.SUPERGROUP & (
        filters.StatusUpdate.FORUM_TOPIC_CLOSED | filters.StatusUpdate.FORUM_TOPIC_REOPENED
    )
    application.add_handler(MessageHandler(closing, remember_closing), group=2)
