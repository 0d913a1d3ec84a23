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
    message = update.effective_message
    assert message is not None and message.migrate_to_chat_id is not None
    await context.services.storage.chats.migrate_chat(message.chat.id, message.migrate_to_chat_id)
    logger.info("chat %s became supergroup %s", message.chat.id, message.migrate_to_chat_id)
