"""Updates about the chat itself: the bot blocked, removed or added; a group that became a
supergroup."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot.handlers.context import Context

logger = logging.getLogger(__name__)


async def membership_changed(update: Update, context: Context) -> None:
    """The bot was blocked, removed, or (re)added: pause or resume the chat at once."""
    change = update.my_chat_member
    assert change is not None
    chat = change.chat
    status = change.new_chat_member.status
    storage = context.services.storage
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        dropped = await storage.chats.block_chat(chat.id, f"bot status: {status}")
        logger.info("bot %s in chat %s; chat paused (%d queued dropped)", status, chat.id, dropped)
    else:
        await storage.chats.touch_chat(chat.id, chat.type, chat.title or chat.full_name, None)


async def group_migrated(update: Update, context: Context) -> None:
    """A group became a supergroup. Telegram says it twice: the old group gets
    `migrate_to_chat_id`, the new supergroup `migrate_from_chat_id`, in either order. Either
    moves the chat (the second finds it moved already); neither is answered."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        old_id, new_id = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id is not None:
        old_id, new_id = message.migrate_from_chat_id, message.chat.id
    else:
        return
    await context.services.storage.chats.migrate_chat(old_id, new_id)
    logger.info("chat %s became supergroup %s", old_id, new_id)
