"""Inline buttons under notifications, /status, /list, /archived and /find, and naming by reply.

Each action has its own callback, routed by PTB (`CallbackQueryHandler(pattern=...)` in
`bot.handlers.routes`) on the data `bot.texts.callbacks` packs and parses. The data refers only
to database ids, so buttons keep working after a restart; a button whose shipment this chat no
longer follows — or forged, foreign or retired data — gets a polite "out of date" answer.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.carrier import CarrierError
from bot.core.codes import clean_label
from bot.core.shipments import Status
from bot.core.times import parse_iso_utc, utcnow
from bot.handlers import search
from bot.handlers.common import chat_translator, may_manage_chat, reply, topic_of
from bot.handlers.context import Context
from bot.storage import Followed
from bot.texts import callbacks, finds, keyboards, links, lists, shipments
from bot.texts.i18n import Translator

logger = logging.getLogger(__name__)

REFRESH_INTERVAL = timedelta(minutes=10)
_CANDIDATE_CODE_RE = re.compile(r"[A-Z0-9]{10,30}")
CLEAR_LABEL = "-"

ButtonCallback = Callable[[Update, Context], Coroutine[Any, Any, None]]
ShipmentAction = Callable[[Update, Context, Translator, Followed], Awaitable[None]]


def _query(update: Update) -> CallbackQuery:
    assert update.callback_query is not None
    return update.callback_query


def _pressed_number(update: Update) -> int | None:
    pressed = callbacks.parse(_query(update).data)
    return None if pressed is None else pressed.number


async def _stale(update: Update, t: Translator) -> None:
    await _query(update).answer(t.plain("button.stale"))


async def stale_button(update: Update, context: Context) -> None:
    """The catch-all, routed last: data no pattern matched (forged, foreign, retired)."""
    await _stale(update, await chat_translator(update, context))


def on_followed_shipment(action: ShipmentAction) -> ButtonCallback:
    """The callback of a button on one shipment (`<action>:<shipment id>`): the shipment is
    looked up once, among those this chat follows; if it is not there, the button is stale."""

    @functools.wraps(action)
    async def callback(update: Update, context: Context) -> None:
        t = await chat_translator(update, context)
        shipment_id = _pressed_number(update)
        followed = None if shipment_id is None else await _followed(update, context, shipment_id)
        if followed is None:
            await _stale(update, t)
            return
        await action(update, context, t, followed)

    return callback


async def _followed(update: Update, context: Context, shipment_id: int) -> Followed | None:
    chat = update.effective_chat
    assert chat is not None
    return await context.services.storage.follows.get_followed_by_id(chat.id, shipment_id)


# --- one shipment ---------------------------------------------------------------------------


@on_followed_shipment
async def show_details(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    await _query(update).answer()
    await send_timeline(update, context, t, followed)


async def send_timeline(
    update: Update, context: Context, t: Translator, followed: Followed
) -> None:
    events = await context.services.storage.follows.events(
        followed.shipment.id, limit=shipments.MAX_TIMELINE_EVENTS + 1
    )
    keyboard = keyboards.shipment_keyboard(
        t, followed.shipment.id, muted=followed.muted, status=followed.shipment.status
    )
    await reply(update, shipments.timeline(t, followed, events), reply_markup=keyboard)


@on_followed_shipment
async def ask_for_name(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    await _query(update).answer()
    shipment = followed.shipment
    await reply(
        update,
        t("rename.prompt", code=links.code_html(shipment.code, shipment.courier)),
        reply_markup=ForceReply(
            selective=True, input_field_placeholder=str(t("rename.placeholder"))
        ),
    )


@on_followed_shipment
async def toggle_mute(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    muted = not followed.muted
    chat = update.effective_chat
    assert chat is not None
    await context.services.storage.follows.set_muted(chat.id, followed.shipment.id, muted)
    name = followed.label or followed.shipment.code
    await _query(update).answer(t.plain("mute.on" if muted else "mute.off", name=name))
    keyboard = keyboards.shipment_keyboard(
        t, followed.shipment.id, muted=muted, status=followed.shipment.status
    )
    await _edit_markup(_query(update), keyboard)


@on_followed_shipment
async def ask_to_remove(
    update: Update, context: Context, t: Translator, followed: Followed
) -> None:
    await _query(update).answer()
    shipment = followed.shipment
    await reply(
        update,
        t(
            "remove.confirm",
            title=shipments.title(t, shipment.code, followed.label, shipment.courier),
        ),
        reply_markup=keyboards.remove_confirmation(t, followed.shipment.id),
    )


@on_followed_shipment
async def confirm_remove(
    update: Update, context: Context, t: Translator, followed: Followed
) -> None:
    user = update.effective_user
    added_by_someone_else = followed.added_by is not None and (
        user is None or followed.added_by != user.id
    )
    if added_by_someone_else and not await may_manage_chat(update, context):
        await _query(update).answer(
            t.plain("remove.admins_only", name=followed.added_by_name or "?"), show_alert=True
        )
        return
    chat = update.effective_chat
    assert chat is not None
    await context.services.storage.follows.unfollow_by_id(chat.id, followed.shipment.id)
    await _query(update).answer()
    code = links.code_html(followed.shipment.code, followed.shipment.courier)
    await _edit_text(_query(update), t("remove.done", code=code))


@on_followed_shipment
async def cancel_remove(
    update: Update, context: Context, t: Translator, followed: Followed
) -> None:
    await _query(update).answer()
    code = links.code_html(followed.shipment.code, followed.shipment.courier)
    await _edit_text(_query(update), t("remove.kept", code=code))


@on_followed_shipment
async def refresh(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    storage = context.services.storage
    blocked_by = await storage.follows.claim_refresh(
        followed.shipment.id, utcnow() - REFRESH_INTERVAL
    )
    if blocked_by is not None:
        last = parse_iso_utc(blocked_by) or utcnow()
        await _query(update).answer(
            t.plain("refresh.too_soon", when=t.time(last + REFRESH_INTERVAL)), show_alert=True
        )
        return
    await _ask_carrier(update, context, t, followed, retrack=False)


@on_followed_shipment
async def retrack(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    if followed.shipment.status != Status.EXPIRED:
        await _query(update).answer(t.plain("retrack.not_expired"))
        return
    await _ask_carrier(update, context, t, followed, retrack=True)


async def _ask_carrier(
    update: Update, context: Context, t: Translator, followed: Followed, *, retrack: bool
) -> None:
    tracker = context.services.tracker
    try:
        if retrack:
            changed = await tracker.retrack(followed.shipment)
        else:
            changed = await tracker.refresh(followed.shipment)
    except (CarrierError, TimeoutError) as exc:
        logger.warning(
            "manual %s of %s failed: %s",
            "retrack" if retrack else "refresh",
            followed.shipment.code,
            exc,
        )
        await _query(update).answer(t.plain("refresh.failed"), show_alert=True)
        return
    await _query(update).answer(t.plain("refresh.news" if changed else "refresh.no_news"))


# --- lists ----------------------------------------------------------------------------------


async def show_list_page(update: Update, context: Context) -> None:
    """`l:<page>`: another page of /list."""
    await _show_page(update, context, archived=False)


async def show_archived_page(update: Update, context: Context) -> None:
    """`la:<page>`: another page of /archived."""
    await _show_page(update, context, archived=True)


async def _show_page(update: Update, context: Context, *, archived: bool) -> None:
    t = await chat_translator(update, context)
    page = _pressed_number(update)
    if page is None:
        await _stale(update, t)
        return
    chat = update.effective_chat
    assert chat is not None
    asked_in = _query(update).message
    thread_id = topic_of(asked_in if isinstance(asked_in, Message) else None)
    followed = await context.services.storage.follows.list_followed(
        chat.id, archived=archived, thread_id=thread_id
    )
    in_topic = thread_id is not None
    shown = lists.followed_page(t, followed, page, archived=archived, in_topic=in_topic)
    await _query(update).answer()
    await _edit_text(_query(update), shown.text, shown.keyboard)


async def show_find_page(update: Update, context: Context) -> None:
    """`f:<page>`: another page of /find; the query is the message the answer replies to."""
    t = await chat_translator(update, context)
    page = _pressed_number(update)
    answer = _query(update).message if page is not None else None
    asked = answer.reply_to_message if isinstance(answer, Message) else None
    query = search.query_in(asked.text or "") if asked is not None else ""
    chat = update.effective_chat
    if page is None or chat is None or search.query_problem(query) is not None:
        await _stale(update, t)  # the question was deleted: nothing to page through
        return
    found = await search.found_for(context, chat.id, query)
    shown = finds.found_page(t, query, found, page)
    await _query(update).answer()
    await _edit_text(_query(update), shown.text, shown.keyboard)


@on_followed_shipment
async def restore(update: Update, context: Context, t: Translator, followed: Followed) -> None:
    if followed.archived_at is None:
        await _stale(update, t)
        return
    chat = update.effective_chat
    assert chat is not None
    await context.services.storage.follows.set_archived(
        chat.id, followed.shipment.id, archived=False
    )
    await _query(update).answer(
        t.plain("archived.restored", name=followed.label or followed.shipment.code)
    )
    remaining = await context.services.storage.follows.list_followed(chat.id, archived=True)
    shown = lists.followed_page(t, remaining, 0, archived=True)
    await _edit_text(_query(update), shown.text, shown.keyboard)


async def _edit_text(
    query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest as exc:
        # The same page again, or a message too old to edit: nothing to change.
        logger.debug("could not edit message: %s", exc)


async def _edit_markup(query: CallbackQuery, keyboard: InlineKeyboardMarkup) -> None:
    try:
        await query.edit_message_reply_markup(keyboard)
    except BadRequest as exc:
        logger.debug("could not edit buttons: %s", exc)


# --- naming by replying ------------------------------------------------------------------------


async def named_by_reply(update: Update, context: Context) -> None:
    """A reply to one of the bot's messages about one shipment names that shipment."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = await chat_translator(update, context)
    followed = await _shipment_in(message.reply_to_message, update, context)
    if followed is None:
        await reply(update, t("rename.which"))
        return
    chat = update.effective_chat
    assert chat is not None
    text = message.text.strip()
    label, truncated = (None, False) if text == CLEAR_LABEL else clean_label(text)
    await context.services.storage.follows.set_label(chat.id, followed.shipment.id, label)
    shipment = followed.shipment
    answer = t("rename.done", title=shipments.title(t, shipment.code, label, shipment.courier))
    if truncated:
        answer = t("rename.done_truncated", done=answer)
    await reply(update, answer)


async def _shipment_in(
    replied: Message | None, update: Update, context: Context
) -> Followed | None:
    """The one followed shipment whose code appears in the replied-to message."""
    chat = update.effective_chat
    if replied is None or chat is None:
        return None
    text = replied.text or replied.caption or ""
    found: dict[int, Followed] = {}
    for candidate in dict.fromkeys(_CANDIDATE_CODE_RE.findall(text.upper())):
        followed = await context.services.storage.follows.get_followed(chat.id, candidate)
        if followed is not None:
            found[followed.shipment.id] = followed
        if len(found) > 1:
            return None
    return next(iter(found.values()), None)
