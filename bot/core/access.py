"""Who may use this bot: ALLOWED_USER_IDS / ALLOWED_CHAT_IDS, and the bot's ADMIN_USER_IDS.

Runs before every other handler. A stranger gets one polite refusal per chat and nothing
else: no row is stored and no request reaches TrackingMore on their behalf.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.config import Settings
from bot.texts.i18n import normalize_language, translator

if TYPE_CHECKING:
    from bot.handlers.context import Context

logger = logging.getLogger(__name__)

MAX_REMEMBERED_REFUSALS = 10_000


class AccessPolicy:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._refused: OrderedDict[int, None] = OrderedDict()

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._settings.admin_user_ids

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        settings = self._settings
        if settings.access_is_open or self.is_admin(user_id):
            return True
        return (user_id is not None and user_id in settings.allowed_user_ids) or (
            chat_id is not None and chat_id in settings.allowed_chat_ids
        )

    def first_refusal(self, chat_id: int) -> bool:
        """True the first time a chat is refused (remembered in a bounded LRU)."""
        if chat_id in self._refused:
            self._refused.move_to_end(chat_id)
            return False
        self._refused[chat_id] = None
        if len(self._refused) > MAX_REMEMBERED_REFUSALS:
            self._refused.popitem(last=False)
        return True


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
        await update.callback_query.answer(t("access.refused"), show_alert=True)
    elif chat is not None and update.message is not None and policy.first_refusal(chat.id):
        await update.message.reply_text(t("access.refused"), do_quote=False)
    raise ApplicationHandlerStop
