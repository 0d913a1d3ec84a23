"""What every handler needs about the chat it answers: language, replies, permissions."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Message, Update, User
from telegram.constants import ChatType

from bot.handlers.context import Context
from bot.texts.i18n import Translator, chat_language, translator

logger = logging.getLogger(__name__)


async def chat_translator(update: Update, context: Context) -> Translator:
    """Record the chat (it talked to us, so it is not blocked) and pick its language."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    user_language = user.language_code if user and chat.type == ChatType.PRIVATE else None
    stored = await context.services.storage.chats.touch_chat(
        chat.id, chat.type, chat.title or chat.full_name, user_language
    )
    language = chat_language(
        stored.language,
        stored.user_language,
        stored.type,
        context.services.settings.default_language,
    )
    return translator(language)


async def private_translator(context: Context, user: User) -> Translator:
    """The language of the user's private chat with the bot, for what is said to the user
    outside it (inline results, a link sent from a group): its /lang choice, else the user's
    Telegram language, else the one stored; the default when none is known. Nothing is
    written: the user may never have written to the bot."""
    stored = await context.services.storage.chats.get_chat(user.id)
    return translator(
        chat_language(
            stored.language if stored else None,
            user.language_code or (stored.user_language if stored else None),
            "private",
            context.services.settings.default_language,
        )
    )


async def reply(update: Update, text: str, **kwargs: Any) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, do_quote=False, **kwargs)


def topic_of(message: Message | None) -> int | None:
    """The forum topic a message is in; None in General and in chats without topics (a
    reply in General carries a `message_thread_id` too, but is no topic message)."""
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


def addressed_to_us(command: re.Pattern[str], text: str, bot_username: str | None) -> bool:
    """`text` starts with the command `command` matches, bare or `@thisbot` (group 1 the
    name after `@`), not `@anotherbot`."""
    match = command.match(text)
    if match is None:
        return False
    named = match.group(1)
    return named is None or named.lower() == (bot_username or "").lower()


def command_argument(context: Context) -> str:
    return " ".join(context.args or []).strip()


async def may_manage_chat(update: Update, context: Context) -> bool:
    """In a group: its administrators and the bot's admins. In a private chat: its user."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous administrator of this group
    if user is None:
        return False
    # The web desk's check too: one answer of Telegram's per user and group a minute.
    return await context.services.roles.may_manage(chat.id, user.id)
