"""Telegram handlers: turn updates into calls to the tracker and storage, and answer.

Every answer is in the chat's language and built by `bot.render` from `locales/`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from telegram import (
    BotCommand,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.access import access_gate
from bot.core.codes import ParsedCodes, normalize, parse_message, parse_track_args
from bot.core.times import today
from bot.handlers import desk
from bot.handlers.buttons import named_by_reply, on_button, send_timeline
from bot.handlers.common import chat_translator, command_argument, may_manage_chat, reply
from bot.handlers.context import Context
from bot.handlers.preferences import lang_command, notify_command, quiet_command
from bot.texts import render
from bot.texts.i18n import LANGUAGES, Html, Translator, translator
from bot.tracking.poller import CarrierHealth
from bot.tracking.tracker import FollowResult, Outcome, Requester

logger = logging.getLogger(__name__)

# --- /start and /help ---------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """Help; or, from a deep link `?start=track_<CODE>`, follow that code."""
    t = await chat_translator(update, context)
    payload = render.parse_start_payload(context.args[0]) if context.args else None
    if payload is None:
        await reply(update, t("help.text"))
        return
    code, courier = payload
    parsed = parse_track_args(
        f"{code} courier={courier}", max_codes=context.services.settings.max_codes_per_message
    )
    await follow_parsed(update, context, t, parsed)


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
    if _offers_a_name(results, parsed):
        text = Html(f"{text}\n{t('track.offer_name')}")
    await reply(update, text)


def _offers_a_name(results: Sequence[FollowResult], parsed: ParsedCodes) -> bool:
    """One new shipment without a name: replying to the confirmation names it."""
    return (
        len(results) == 1
        and not parsed.rejected
        and results[0].outcome == Outcome.ADDED
        and not results[0].entry.label
    )


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
    followed = await storage.follows.get_followed(chat.id, code)
    if followed is None:
        await reply(update, t("remove.not_followed", code=render.plain_code(code)))
        return
    added_by_someone_else = followed.added_by is not None and (
        user is None or followed.added_by != user.id
    )
    if added_by_someone_else and not await may_manage_chat(update, context):
        await reply(update, t("remove.admins_only", name=followed.added_by_name or "?"))
        return
    await storage.follows.unfollow(chat.id, code)
    code_link = render.code_html(code, followed.shipment.courier)
    await reply(update, t("remove.done", code=code_link))


# --- looking -------------------------------------------------------------------------------


async def list_command(update: Update, context: Context) -> None:
    await _send_list(update, context, archived=False)


async def archived_command(update: Update, context: Context) -> None:
    await _send_list(update, context, archived=True)


async def _send_list(update: Update, context: Context, *, archived: bool) -> None:
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    followed = await context.services.storage.follows.list_followed(chat.id, archived=archived)
    page = render.followed_page(t, followed, 0, archived=archived)
    await reply(update, page.text, reply_markup=page.keyboard)


async def status_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    argument = command_argument(context)
    if not argument:
        await reply(update, t("status.usage"))
        return
    chat = update.effective_chat
    assert chat is not None
    code = normalize(argument.split()[0])
    followed = await context.services.storage.follows.get_followed(chat.id, code)
    if followed is None:
        await reply(update, t("status.not_followed", code=render.plain_code(code)))
        return
    await send_timeline(update, context, t, followed)


# --- membership and other updates ------------------------------------------------------------


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
    totals = await services.storage.reports.totals()
    usage = await services.storage.reports.api_usage(today())
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

COMMANDS = (
    "track",
    "list",
    "status",
    "remove",
    "archived",
    "summary",
    "export",
    "import",
    "digest",
    "notify",
    "quiet",
    "lang",
    "help",
)


class RepliesToBot(filters.MessageFilter):
    """Messages that answer one of this bot's own messages."""

    def __init__(self, bot_id: int) -> None:
        super().__init__(name="RepliesToBot")
        self._bot_id = bot_id

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self._bot_id)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    bot_id = int(application.bot.token.partition(":")[0])
    application.add_handler(TypeHandler(Update, access_gate), group=-1)
    # Edited messages are ignored on purpose: re-running an edited /track would surprise.
    new = filters.UpdateType.MESSAGE
    commands = {
        ("start", "help"): start,
        ("track",): track_command,
        ("list",): list_command,
        ("status",): status_command,
        ("remove",): remove_command,
        ("archived",): archived_command,
        ("lang",): lang_command,
        ("quiet",): quiet_command,
        ("notify",): notify_command,
        ("stats",): stats_command,
    }
    for names, callback in commands.items():
        application.add_handler(CommandHandler(list(names), callback, filters=new))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(ChatMemberHandler(membership_changed))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated))
    reply_to_bot = filters.REPLY & filters.TEXT & ~filters.COMMAND & new & RepliesToBot(bot_id)
    application.add_handler(MessageHandler(reply_to_bot, named_by_reply))
    desk.register(application)  # before not_text: private documents are imports
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
