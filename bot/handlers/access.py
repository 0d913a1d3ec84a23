"""The access gate: runs before every other handler. A stranger gets one polite refusal per
chat and nothing else: no row is stored and no request reaches TrackingMore on their behalf.

It also keeps one user from slowing the others: beyond USER_UPDATES_LIMIT updates in
USER_WINDOW_SECONDS (in all chats together, counted in the database so that every replica
holds the same limit) a user's updates are dropped, with one polite "slow down" note an
episode."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.core.flood import Admission, SlowDownNotes, window_slices
from bot.handlers.context import Context
from bot.storage.database import StorageWriteError
from bot.texts.i18n import normalize_language, translator

logger = logging.getLogger(__name__)

_FLOOD_KEY = "postino.flood"
REFUSED_INLINE_CACHE_SECONDS = 5


async def access_gate(update: object, context: Context) -> None:
    """Handler group -1: stop every update from someone the configuration does not allow."""
    if not isinstance(update, Update):
        return
    policy = context.services.access
    user, chat = update.effective_user, update.effective_chat
    if policy.allows(user.id if user else None, chat.id if chat else None) or (
        await _inline_from_an_allowed_group(update, context)
    ):
        await _flood_gate(update, context)
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
    if update.inline_query is not None:
        # No chat to answer in: no results at all, for a short while (the policy may change).
        await update.inline_query.answer(
            [], cache_time=REFUSED_INLINE_CACHE_SECONDS, is_personal=True
        )
    elif update.callback_query is not None:
        await update.callback_query.answer(t.plain("access.refused"), show_alert=True)
    elif chat is not None and update.message is not None and policy.first_refusal(chat.id):
        await update.message.reply_text(t("access.refused"), do_quote=False)
    raise ApplicationHandlerStop


async def _inline_from_an_allowed_group(update: Update, context: Context) -> bool:
    """An inline query comes from no chat: a member of one of ALLOWED_CHAT_IDS (a shop's
    staff group) may use inline mode too, to tell a customer about the group's parcels."""
    user = update.effective_user
    if update.inline_query is None or user is None:
        return False
    allowed_chats = context.services.access.allowed_chat_ids
    return bool(allowed_chats) and await context.services.roles.in_any(allowed_chats, user.id)


async def _flood_gate(update: Update, context: Context) -> None:
    """Drop the update of a user over their allowance; the first one dropped gets a note.

    The count is every replica's (one upsert in `storage.coordination`); when the database
    cannot take it (a full disk) the update is answered: the gate fails open."""
    user = update.effective_user
    if user is None or (update.message is None and update.callback_query is None):
        return
    current, oldest = window_slices(time.time())
    try:
        hits = await context.services.storage.coordination.count_hit(user.id, current, oldest)
    except StorageWriteError:
        logger.debug("cannot count the update of user %s; answered unchecked", user.id)
        return
    notes = context.bot_data.setdefault(_FLOOD_KEY, SlowDownNotes())
    assert isinstance(notes, SlowDownNotes)
    admission = notes.admit(user.id, hits)
    if admission == Admission.ANSWER:
        return
    if admission == Admission.WARN:
        logger.info("user %s is over the update allowance; dropping for now", user.id)
        t = translator(
            normalize_language(user.language_code) or context.services.settings.default_language
        )
        if update.callback_query is not None:
            await update.callback_query.answer(t.plain("flood.slow_down"))
        elif update.message is not None:
            await update.message.reply_text(t("flood.slow_down"), do_quote=False)
    elif update.callback_query is not None:
        # Answered, silently: otherwise the button's spinner turns until Telegram gives up.
        await update.callback_query.answer()
    raise ApplicationHandlerStop
