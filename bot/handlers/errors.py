"""The last resort: an update whose handler failed is logged and the chat told, politely."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.common import chat_translator, reply
from bot.handlers.context import Context

logger = logging.getLogger(__name__)


async def error_handler(update: object, context: Context) -> None:
    logger.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        t = await chat_translator(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer(t.plain("error.generic"))
        else:
            await reply(update, t("error.generic"))
    except Exception:
        logger.debug("could not tell the chat about the error", exc_info=True)
