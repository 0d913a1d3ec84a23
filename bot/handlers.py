"""Telegram handlers: turn updates into calls to the tracker and storage, and answer.

Every answer is in the chat's language and built by `bot.render` from `locales/`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import render
from bot.access import access_gate
from bot.codes import ParsedCodes, normalize, parse_message, parse_track_args
from bot.context import Context
from bot.i18n import LANGUAGES, Html, Translator, chat_language, translator
from bot.poller import CarrierHealth
from bot.service import Requester
from bot.tracking import today

logger = logging.getLogger(__name__)

STATUS_CALLBACK = "st"


async def chat_translator(update: Update, context: Context) -> Translator:
    """Record the chat (it talked to us, so it is not blocked) and pick its language."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    user_language = user.language_code if user and chat.type == ChatType.PRIVATE else None
    stored = await context.services.storage.touch_chat(
        chat.id, chat.type, chat.title or chat.full_name, user_language
    )
    language = chat_language(
        stored.language,
        stored.user_language,
        stored.type,
        context.services.settings.default_language,
    )
    return translator(language)


async def reply(update: Update, text: str, **kwargs: Any) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, do_quote=False, **kwargs)


def command_argument(context: Context) -> str:
    return " ".join(context.args or []).strip()


# --- /start and /help ---------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    await reply(update, t("help.text"))


# --- following -------------------------------------------------------------------------------


async def track_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    # Everything after the command word, keeping the user's lines (context.args would not).
    parts = message.text.split(maxsplit=1)
    text = parts[1] if len(parts) > 1 else ""
    settings = context.services.settings
    parsed = parse_track_args(text, max_codes=settings.max_codes_per_message)
    if not parsed.entries and not parsed.rejected:
        await reply(update, t("track.usage"))
        return
    await follow_parsed(update, context, t, parsed)


async def plain_text(update: Update, context: Context) -> None:
    """A message in a private chat: every line that starts with a code is followed."""
    t = await chat_translator(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    settings = context.services.settings
    parsed = parse_message(message.text, max_codes=settings.max_codes_per_message)
    if not parsed.entries and not parsed.rejected:
        await reply(update, t("track.no_code_found"))
        return
    await follow_parsed(update, context, t, parsed)


async def follow_parsed(
    update: Update, context: Context, t: Translator, parsed: ParsedCodes
) -> None:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    settings = context.services.settings
    results = []
    if parsed.entries:
        await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
        who = Requester(chat.id, user.id if user else None, user.full_name if user else None)
        results = await context.services.tracker.follow(who, parsed.entries)
        context.services.notifier.wake()
    text = render.follow_results(
        t,
        results,
        parsed.rejected,
        parsed.overflow,
        max_codes=settings.max_codes_per_message,
        max_shipments=settings.max_shipments_per_chat,
    )
    await reply(update, text)


async def remove_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    argument = command_argument(context)
    if not argument:
        await reply(update, t("remove.usage"))
        return
    code = normalize(argument.split()[0])
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    storage = context.services.storage
    followed = await storage.get_followed(chat.id, code)
    if followed is None:
        await reply(update, t("remove.not_followed", code=render.code_html(code)))
        return
    added_by_someone_else = followed.added_by is not None and (
        user is None or followed.added_by != user.id
    )
    if added_by_someone_else and not await may_manage_chat(update, context):
        await reply(update, t("remove.admins_only", name=followed.added_by_name or "?"))
        return
    await storage.unfollow(chat.id, code)
    await reply(update, t("remove.done", code=render.code_html(code)))


async def may_manage_chat(update: Update, context: Context) -> bool:
    """In a group: its administrators and the bot's admins. In a private chat: its user."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous administrator of this group
    if user is None:
        return False
    if context.services.access.is_admin(user.id):
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        logger.warning("could not check the role of user %s in chat %s", user.id, chat.id)
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


# --- looking -------------------------------------------------------------------------------


async def list_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    followed = await context.services.storage.list_followed(chat.id)
    keyboard = [
        [
            InlineKeyboardButton(
                f"{render.status_emoji(item.shipment.status)} {item.label or item.shipment.code}"[
                    :60
                ],
                callback_data=f"{STATUS_CALLBACK}:{item.shipment.id}",
            )
        ]
        for item in followed[:50]
    ]
    await reply(
        update,
        render.followed_list(t, followed),
        reply_markup=InlineKeyboardMarkup(keyboard) if keyboard else None,
    )


async def status_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    argument = command_argument(context)
    if not argument:
        await reply(update, t("status.usage"))
        return
    chat = update.effective_chat
    assert chat is not None
    code = normalize(argument.split()[0])
    await reply(update, await timeline_text(context, t, chat.id, code))


async def timeline_text(context: Context, t: Translator, chat_id: int, code: str) -> Html:
    storage = context.services.storage
    followed = await storage.get_followed(chat_id, code)
    if followed is None:
        return t("status.not_followed", code=render.code_html(code))
    events = await storage.events(followed.shipment.id, limit=render.MAX_TIMELINE_EVENTS + 1)
    return render.timeline(t, followed, events)


async def status_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    _, _, raw_id = (query.data or "").partition(":")
    followed = None
    if raw_id.isdigit():
        for item in await context.services.storage.list_followed(chat.id):
            if item.shipment.id == int(raw_id):
                followed = item
                break
    if followed is None:
        await query.answer(t("button.stale"), show_alert=False)
        return
    await query.answer()
    events = await context.services.storage.events(
        followed.shipment.id, limit=render.MAX_TIMELINE_EVENTS + 1
    )
    await reply(update, render.timeline(t, followed, events))


async def unknown_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    t = await chat_translator(update, context)
    await query.answer(t("button.stale"))


# --- settings ------------------------------------------------------------------------------


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
    await context.services.storage.set_chat_language(chat.id, argument)
    await reply(update, translator(argument)("lang.done"))


# --- membership and other updates ------------------------------------------------------------


async def membership_changed(update: Update, context: Context) -> None:
    """The bot was blocked, removed, or (re)added: pause or resume the chat at once."""
    change = update.my_chat_member
    assert change is not None
    chat = change.chat
    status = change.new_chat_member.status
    storage = context.services.storage
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        dropped = await storage.block_chat(chat.id, f"bot status: {status}")
        logger.info("bot %s in chat %s; chat paused (%d queued dropped)", status, chat.id, dropped)
    else:
        await storage.touch_chat(chat.id, chat.type, chat.title or chat.full_name, None)


async def group_migrated(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.migrate_to_chat_id is not None
    await context.services.storage.migrate_chat(message.chat.id, message.migrate_to_chat_id)
    logger.info("chat %s became supergroup %s", message.chat.id, message.migrate_to_chat_id)


async def not_text(update: Update, context: Context) -> None:
    """A sticker, photo, voice… in a private chat: say what the bot expects."""
    t = await chat_translator(update, context)
    await reply(update, t("track.no_code_found"))


# --- administrators ----------------------------------------------------------------------------


async def stats_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    user = update.effective_user
    services = context.services
    if user is None or not services.access.is_admin(user.id):
        await reply(update, t("stats.admins_only"))
        return
    totals = await services.storage.totals()
    usage = await services.storage.api_usage(today())
    usage.update({k: usage.get(k, 0) + n for k, n in services.carrier.stats.unsaved.items()})
    poll = services.poller.state
    last_good = (
        datetime.fromtimestamp(poll.last_success_wallclock, UTC)
        if poll.last_success_wallclock
        else None
    )
    text = render.stats(
        t,
        totals,
        usage,
        last_good_poll=last_good,
        carrier_problem=poll.last_error if poll.health != CarrierHealth.OK else "",
        sent=services.notifier.sent_count,
        given_up=services.notifier.failed_count,
    )
    await reply(update, text)


# --- errors --------------------------------------------------------------------------------


async def error_handler(update: object, context: Context) -> None:
    logger.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        t = await chat_translator(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer(t("error.generic"))
        else:
            await reply(update, t("error.generic"))
    except Exception:
        logger.debug("could not tell the chat about the error", exc_info=True)


# --- wiring --------------------------------------------------------------------------------

COMMANDS = ("track", "list", "status", "remove", "lang", "help")


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(TypeHandler(Update, access_gate), group=-1)
    # Edited messages are ignored on purpose: re-running an edited /track would surprise.
    new = filters.UpdateType.MESSAGE
    commands = {
        ("start", "help"): start,
        ("track",): track_command,
        ("list",): list_command,
        ("status",): status_command,
        ("remove",): remove_command,
        ("lang",): lang_command,
        ("stats",): stats_command,
    }
    for names, callback in commands.items():
        application.add_handler(CommandHandler(list(names), callback, filters=new))
    application.add_handler(CallbackQueryHandler(status_button, pattern=rf"^{STATUS_CALLBACK}:"))
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_handler(ChatMemberHandler(membership_changed))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated))
    private = filters.ChatType.PRIVATE & new
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, plain_text))
    application.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text)
    )
    application.add_error_handler(error_handler)  # type: ignore[arg-type]


async def set_command_menus(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu in Italian, in English, and (English) for every other language."""
    for language in (None, *LANGUAGES):
        t = translator(language or "en")
        commands = [BotCommand(name, str(t(f"command.{name}"))) for name in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=language)
