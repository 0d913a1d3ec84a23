"""Chat preferences: language, quiet hours and which changes to be told about."""

from __future__ import annotations

from telegram import Update

from bot.core.lifecycle import NOTIFY_MODES
from bot.core.times import parse_window
from bot.handlers.common import chat_translator, command_argument, may_manage_chat, reply
from bot.handlers.context import Context
from bot.texts.i18n import LANGUAGES, translator

OFF_WORDS = ("off", "no", "spento", "spenta")


async def lang_command(update: Update, context: Context) -> None:
    argument = command_argument(context).lower()
    chat = update.effective_chat
    assert chat is not None
    t = await chat_translator(update, context)
    if argument not in LANGUAGES:
        await reply(update, t("lang.usage"))
        return
    if not await may_manage_chat(update, context):
        await reply(update, t("lang.admins_only"))
        return
    await context.services.storage.chats.set_chat_language(chat.id, argument)
    await reply(update, translator(argument)("lang.done"))


async def quiet_command(update: Update, context: Context) -> None:
    """`/quiet 22:00-07:30`: messages in that window arrive silently (exceptions still ring)."""
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    argument = command_argument(context).lower()
    storage = context.services.storage
    if not argument:
        current = await storage.chats.get_chat(chat.id)
        if current and current.quiet_start and current.quiet_end:
            await reply(
                update, t("quiet.current", start=current.quiet_start, end=current.quiet_end)
            )
        else:
            await reply(update, t("quiet.usage"))
        return
    window = None if argument in OFF_WORDS else parse_window(argument)
    if argument not in OFF_WORDS and window is None:
        await reply(update, t("quiet.usage"))
        return
    if not await may_manage_chat(update, context):
        await reply(update, t("settings.admins_only"))
        return
    start, end = window or (None, None)
    await storage.chats.set_quiet_hours(chat.id, start, end)
    if window is None:
        await reply(update, t("quiet.off"))
    else:
        await reply(update, t("quiet.on", start=start, end=end))


async def notify_command(update: Update, context: Context) -> None:
    """`/notify all|important`: every change, or only the ones that matter."""
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    argument = command_argument(context).lower()
    if argument not in NOTIFY_MODES:
        current = await context.services.storage.chats.get_chat(chat.id)
        mode = current.notify_mode if current else "all"
        await reply(update, t("notify.usage", mode=t(f"notify.mode_{mode}")))
        return
    if not await may_manage_chat(update, context):
        await reply(update, t("settings.admins_only"))
        return
    await context.services.storage.chats.set_notify_mode(chat.id, argument)
    await reply(update, t(f"notify.set_{argument}"))
