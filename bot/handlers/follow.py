"""Telegram handlers: turn updates into calls to the tracker and storage, and answer.

Every answer is in the chat's language and built by `bot.texts` from `locales/`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import (
    Update,
)
from telegram.constants import ChatAction

from bot.core.codes import normalize
from bot.core.message_codes import ParsedCodes, parse_message, parse_track_args
from bot.handlers.buttons import send_timeline
from bot.handlers.common import (
    chat_translator,
    command_argument,
    may_manage_chat,
    reply,
    topic_of,
)
from bot.handlers.context import Context
from bot.handlers.search import search_after_hint
from bot.texts import answers, links, lists
from bot.texts.i18n import Html, Translator
from bot.tracking.tracker import FollowOutcome, FollowResult, Requester

logger = logging.getLogger(__name__)

# --- /start and /help ---------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """A welcome that fits a phone screen; or, from a deep link `?start=track_<CODE>`,
    follow that code."""
    t = await chat_translator(update, context)
    payload = links.parse_start_payload(context.args[0]) if context.args else None
    if payload is None:
        await reply(update, t("start.text"))
        return
    code, courier = payload
    parsed = parse_track_args(
        f"{code} courier={courier}", max_codes=context.services.settings.max_codes_per_message
    )
    await follow_parsed(update, context, t, parsed)


async def help_command(update: Update, context: Context) -> None:
    """Every command, with examples."""
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
    """A message in a private chat: every line that starts with a code is followed. One with
    no code gets the hint, then (in a chat following more than a page) what its text finds."""
    t = await chat_translator(update, context)
    message = update.effective_message
    assert message is not None and message.text is not None
    settings = context.services.settings
    parsed = parse_message(message.text, max_codes=settings.max_codes_per_message)
    if not parsed.entries and not parsed.rejected:
        await reply(update, t("track.no_code_found"))
        await search_after_hint(update, context, t)
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
        await context.bot.send_chat_action(
            chat.id, ChatAction.TYPING, message_thread_id=topic_of(update.effective_message)
        )
        who = Requester(
            chat.id,
            user.id if user else None,
            user.full_name if user else None,
            thread_id=topic_of(update.effective_message),
        )
        results = await context.services.tracker.follow(who, parsed.entries)
    text = answers.follow_results(
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
        and results[0].outcome == FollowOutcome.ADDED
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
        await reply(update, t("remove.not_followed", code=links.plain_code(code)))
        return
    added_by_someone_else = followed.added_by is not None and (
        user is None or followed.added_by != user.id
    )
    if added_by_someone_else and not await may_manage_chat(update, context):
        await reply(update, t("remove.admins_only", name=followed.added_by_name or "?"))
        return
    await storage.follows.unfollow(chat.id, code)
    code_link = links.code_html(code, followed.shipment.courier)
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
    thread_id = topic_of(update.effective_message)
    followed = await context.services.storage.follows.list_followed(
        chat.id, archived=archived, thread_id=thread_id
    )
    page = lists.followed_page(t, followed, 0, archived=archived, in_topic=thread_id is not None)
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
        await reply(update, t("status.not_followed", code=links.plain_code(code)))
        return
    await send_timeline(update, context, t, followed)


async def not_text(update: Update, context: Context) -> None:
    """A sticker, photo, voice… in a private chat: say what the bot expects."""
    t = await chat_translator(update, context)
    await reply(update, t("track.no_code_found"))
