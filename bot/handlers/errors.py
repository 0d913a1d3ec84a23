"""The last resort: an update whose handler failed is logged and the chat told, politely.

A write the database refused (disk full, read-only, I/O error) is no bug: one log line, no
stack trace, and the person is told the bot cannot save right now (nothing was kept)."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.common import chat_translator, reply
from bot.handlers.context import Context
from bot.storage.database import StorageWriteError
from bot.texts.i18n import Translator, chat_language, translator

logger = logging.getLogger(__name__)


async def error_handler(update: object, context: Context) -> None:
    key = "error.generic"
    if isinstance(context.error, StorageWriteError):
        logger.warning("update not handled: %s", context.error)
        key = "error.storage"
    else:
        logger.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        t = await (
            _stored_translator(update, context)
            if key == "error.storage"
            else chat_translator(update, context)
        )
        if update.callback_query is not None:
            await update.callback_query.answer(t.plain(key))
        else:
            await reply(update, t(key))
    except Exception:
        logger.debug("could not tell the chat about the error", exc_info=True)


async def _stored_translator(update: Update, context: Context) -> Translator:
    """The chat's language as stored, read only: writing (as `chat_translator` does) is what
    fails."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    stored = await context.services.storage.chats.get_chat(chat.id)
    user_language = user.language_code if user and chat.type == "private" else None
    return translator(
        chat_language(
            stored.language if stored else None,
            stored.user_language if stored else user_language,
            chat.type,
            context.services.settings.default_language,
        )
    )
