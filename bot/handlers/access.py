"""The access gate: runs before every other handler. A stranger gets one polite refusal per
chat and nothing else: no row is stored and no request reaches TrackingMore on their behalf."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.handlers.context import Context
from bot.texts.i18n import normalize_language, translator

logger = logging.getLogger(__name__)


async def access_gate(update: object, context: Context) -> None:
    """Handler group -1: stop every update from someone the configuration does not allow."""
    if not isinstance(update, Update):
        return
    policy = context.services.access
    user, chat = update.effective_user, update.effective_chat
    if policy.allows(user.id if user else None, chat.id if chat else None):
        return
    logger.info(
        "refused update from user %s in chat %s",
        user.id if user else None,
        chat.id if chat else None,
    )
    t = translator(
        normalize_language(user.language_code if user else None)
        or context.services.settings.default_language
    )
    if update.callback_query is not None:
        await update.callback_query.answer(t.plain("access.refused"), show_alert=True)
    elif chat is not None and update.message is not None and policy.first_refusal(chat.id):
        await update.message.reply_text(t("access.refused"), do_quote=False)
    raise ApplicationHandlerStop
