"""Telegram side of the tracking desk: importing files of codes, /export, /summary, /digest.

Files: in a private chat any document is taken as an import (a wrong type gets a hint); in a
group, where privacy mode shows the bot only commands, a document captioned `/import`, or
`/import` sent as a reply to a document.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram import Document, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.core.codefile import MAX_IMPORT_BYTES, parse_import, shown_text
from bot.core.textfile import UnreadableFile
from bot.core.times import parse_clock, rome_clock, utcnow
from bot.handlers.common import (
    addressed_to_us,
    chat_translator,
    command_argument,
    may_manage_chat,
    reply,
    topic_of,
)
from bot.handlers.context import Context
from bot.texts import reports
from bot.texts.answers import bulk_summary
from bot.texts.i18n import Html, Translator
from bot.texts.message import join_lines
from bot.texts.topics import scope_note
from bot.tracking.tracker import Requester

logger = logging.getLogger(__name__)

IMPORT_EXTENSIONS = (".csv", ".txt", ".tsv")
IMPORT_MIME_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "text/tab-separated-values",
        "text/comma-separated-values",
        "application/csv",
        "application/vnd.ms-excel",  # what Windows calls a .csv file
    }
)
IMPORT_CAPTION_RE = re.compile(r"^/import(?:@(\w+))?(?:\s|$)", re.IGNORECASE)
MAX_IMPORT_SIZE_TEXT = "1 MB"
DIGEST_OFF_WORDS = frozenset({"off", "no", "stop"})

COMMANDS = ("import", "export", "summary", "digest")


# --- importing a file ------------------------------------------------------------------------


def is_importable(document: Document) -> bool:
    name = (document.file_name or "").lower()
    if name:
        return name.endswith(IMPORT_EXTENSIONS)
    return (document.mime_type or "").lower() in IMPORT_MIME_TYPES


async def import_document(update: Update, context: Context) -> None:
    """A document in a private chat, or one captioned /import in a group."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and message.document is not None and chat is not None
    in_group = chat.type != ChatType.PRIVATE
    caption = message.caption or ""
    if in_group and not addressed_to_us(IMPORT_CAPTION_RE, caption, context.bot.username):
        return
    t = await chat_translator(update, context)
    await import_file(update, context, t, message.document)


async def import_command(update: Update, context: Context) -> None:
    """`/import` as text: as a reply to a document it imports that one; otherwise, how to."""
    t = await chat_translator(update, context)
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    if replied is not None and replied.document is not None:
        await import_file(update, context, t, replied.document)
        return
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    await reply(update, t("import.usage_private" if private else "import.usage_group"))


async def import_file(update: Update, context: Context, t: Translator, document: Document) -> None:
    if not is_importable(document):
        await reply(update, t("import.wrong_type"))
        return
    if document.file_size is not None and document.file_size > MAX_IMPORT_BYTES:
        await reply(update, t("import.too_large", limit=MAX_IMPORT_SIZE_TEXT))
        return
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
    data = await download(document)
    if data is None:
        await reply(update, t("import.download_failed"))
        return
    if len(data) > MAX_IMPORT_BYTES:
        await reply(update, t("import.too_large", limit=MAX_IMPORT_SIZE_TEXT))
        return
    await reply(update, await import_answer(update, context, t, data))


async def download(document: Document) -> bytes | None:
    try:
        file = await document.get_file()
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        logger.warning("could not download document %s: %s", document.file_unique_id, exc)
        return None


async def import_answer(update: Update, context: Context, t: Translator, data: bytes) -> Html:
    settings = context.services.settings
    limit = settings.max_codes_per_import
    try:
        # Up to a megabyte of parsing: off the event loop, so other chats are not kept waiting.
        parsed = await asyncio.to_thread(parse_import, data, max_codes=limit)
    except UnreadableFile as exc:
        return t(f"import.problem.{exc.problem.value}", line=exc.row)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    who = Requester(
        chat.id,
        user.id if user else None,
        user.full_name if user else None,
        thread_id=topic_of(update.effective_message),
    )
    results = await context.services.tracker.follow(who, parsed.entries)
    footer = [t("import.overflow", limit=limit, count=parsed.overflow)] if parsed.overflow else []
    return bulk_summary(
        t,
        results,
        parsed.rejected,
        max_shipments=settings.max_shipments_per_chat,
        more_rejected=parsed.more_rejected,
        footer=footer,
        rows=parsed.rows,
    )


# --- /export and /summary --------------------------------------------------------------------


async def export_command(update: Update, context: Context) -> None:
    """Every shipment the chat follows, archived ones included, as a CSV document."""
    t = await chat_translator(update, context)
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    thread_id = topic_of(message)
    rows = await context.services.storage.reports.desk_rows(
        chat.id, archived=True, thread_id=thread_id
    )
    scope = [scope_note(t)] if thread_id is not None else []
    if not rows:
        await reply(update, join_lines([t("export.empty"), *scope]))
        return
    await message.reply_document(
        document=reports.export_csv(t, rows),
        filename=reports.export_filename(chat.id, utcnow()),
        caption=join_lines([t.plural("export.caption", len(rows)), *scope]),
        do_quote=False,
    )


async def summary_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    services = context.services
    thread_id = topic_of(update.effective_message)
    rows = await services.storage.reports.desk_rows(chat.id, archived=False, thread_id=thread_id)
    text = reports.summary(t, rows, utcnow(), services.settings.stale_days)
    scope = [scope_note(t)] if thread_id is not None else []
    await reply(update, join_lines([text, *scope]))


# --- /digest -------------------------------------------------------------------------------


async def digest_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    storage = context.services.storage
    argument = command_argument(context)
    if not argument:
        clock, _ = await storage.chats.digest_schedule(chat.id)
        current = t("digest.current_on", time=clock) if clock else t("digest.current_off")
        await reply(update, t("digest.usage", current=current))
        return
    off = argument.lower() in DIGEST_OFF_WORDS
    clock = None if off else parse_clock(argument)
    if not off and clock is None:
        await reply(update, t("digest.bad_time", text=shown_text(argument)))
        return
    if not await may_manage_chat(update, context):
        await reply(update, t("digest.admins_only"))
        return
    if clock is None:
        await storage.chats.set_digest(chat.id, None, None)
        await reply(update, t("digest.off"))
        return
    await set_digest_time(update, context, t, message, clock)


async def set_digest_time(
    update: Update, context: Context, t: Translator, message: Message, clock: str
) -> None:
    """A time already past when the user wrote starts tomorrow; this very minute, now."""
    written_at, today = rome_clock(message.date)
    starts_today = clock >= written_at
    chat = update.effective_chat
    assert chat is not None
    await context.services.storage.chats.set_digest(chat.id, clock, None if starts_today else today)
    answer = "digest.set_today" if starts_today else "digest.set_tomorrow"
    await reply(update, t(answer, time=clock))
    if clock == written_at:
        # A digest set for this very minute need not wait for the next check.
        context.application.create_task(context.services.digests.send_due())


# --- wiring --------------------------------------------------------------------------------


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Call before the handlers that answer any other private message (documents included)."""
    new = filters.UpdateType.MESSAGE
    commands = {
        "import": import_command,
        "export": export_command,
        "summary": summary_command,
        "digest": digest_command,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=new))
    private_document = filters.ChatType.PRIVATE & filters.Document.ALL & new
    group_import = (
        filters.ChatType.GROUPS
        & filters.Document.ALL
        & filters.CaptionRegex(IMPORT_CAPTION_RE)
        & new
    )
    application.add_handler(MessageHandler(private_document | group_import, import_document))
