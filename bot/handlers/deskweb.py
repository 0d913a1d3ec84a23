"""/desk: the way into the web desk (bot.web), a page of the chat's shipments.

In a private chat with an https PUBLIC_BASE_URL: a Mini App button (Telegram signs who opens
it) and, for desktop browsers, a login link; otherwise only the login link. A login link
works once, for 10 minutes, for that chat and that user. In a group the link goes to the
asking user's private chat, never into the group. Telegram refuses buttons to some
addresses (LAN names, localhost): then the link goes as text, without a preview (a preview
would open it, and use it up).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    User,
    WebAppInfo,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, CommandHandler, filters

from bot.core.desk_tokens import (
    LINK_VALID_FOR,
    base_url_of,
    desk_url,
    login_url,
    new_token,
    token_hash,
)
from bot.core.times import utcnow
from bot.handlers.common import chat_translator, private_translator, reply
from bot.handlers.context import Context
from bot.storage.desk import DeskGrant
from bot.texts.i18n import Html, Translator
from bot.texts.links import mention

logger = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def desk_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    settings = context.services.settings
    if settings.webhook_listen is None:
        await reply(update, t("webdesk.off"))
        return
    base = base_url_of(
        settings.public_base_url, settings.telegram_webhook_url, settings.webhook_listen
    )
    if not base:
        await reply(update, t("webdesk.no_base_url"))
        return
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    if user is None or (message is not None and message.sender_chat is not None):
        await reply(update, t("webdesk.no_user"))
        return
    link = await new_login_link(context, base, chat.id, user)
    if chat.type == ChatType.PRIVATE:
        await _send_private(update, t, base, link)
    else:
        await _send_for_group(update, context, t, link, chat.title or "")


async def new_login_link(context: Context, base: str, chat_id: int, user: User) -> str:
    token = new_token()
    grant = DeskGrant(chat_id, user.id, user.full_name)
    await context.services.storage.desk.add_link(
        token_hash(token), grant, utcnow() + LINK_VALID_FOR
    )
    logger.info("a web desk login link was made (chat %s)", chat_id)
    return login_url(base, token)


def _keyboard(t: Translator, link: str, *, mini_app: str | None) -> InlineKeyboardMarkup:
    rows = []
    if mini_app is not None:
        rows.append(
            [InlineKeyboardButton(t.plain("webdesk.button_app"), web_app=WebAppInfo(mini_app))]
        )
    rows.append([InlineKeyboardButton(t.plain("webdesk.button_browser"), url=link)])
    return InlineKeyboardMarkup(rows)


def _refuses_the_url(exc: BadRequest) -> bool:
    """Telegram's "inline keyboard button URL '…' is invalid" (and the Web App one)."""
    text = exc.message.lower()
    return "button" in text and "url" in text


async def _send_private(update: Update, t: Translator, base: str, link: str) -> None:
    mini_app = desk_url(base) if base.startswith("https://") else None
    text = Html(f"{t('webdesk.open')}\n{t('webdesk.open_link_note')}")
    try:
        await reply(update, text, reply_markup=_keyboard(t, link, mini_app=mini_app))
    except BadRequest as exc:
        if not _refuses_the_url(exc):
            raise
        logger.info("Telegram refused the desk's button address; sending the link as text")
        await reply(update, t("webdesk.open_text", link=link), link_preview_options=NO_PREVIEW)


async def _send_for_group(
    update: Update, context: Context, t: Translator, link: str, title: str
) -> None:
    user = update.effective_user
    assert user is not None
    private_t = await private_translator(context, user)
    name = mention(user.id, user.full_name)
    try:
        await _send_to_user(context, private_t, user.id, link, title)
    except Forbidden:
        start = f"https://t.me/{context.bot.username}"
        await reply(
            update,
            t("webdesk.start_me_first", name=name, link=start),
            link_preview_options=NO_PREVIEW,
        )
        return
    await reply(update, t("webdesk.sent_privately", name=name))


async def _send_to_user(
    context: Context, t: Translator, user_id: int, link: str, title: str
) -> None:
    try:
        await context.bot.send_message(
            user_id,
            t("webdesk.group_link", title=title),
            reply_markup=_keyboard(t, link, mini_app=None),
        )
    except BadRequest as exc:
        if not _refuses_the_url(exc):
            raise
        logger.info("Telegram refused the desk's button address; sending the link as text")
        await context.bot.send_message(
            user_id,
            t("webdesk.group_link_text", title=title, link=link),
            link_preview_options=NO_PREVIEW,
        )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(
        CommandHandler("desk", desk_command, filters=filters.UpdateType.MESSAGE)
    )
