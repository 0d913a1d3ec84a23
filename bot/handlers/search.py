"""/find: the chat's shipments (archived ones too) by part of the code, the name, or the last
event's text or place; and the same search on a private chat's text that holds no code, when
the chat follows more than a page of shipments.

The answer replies to the message that asked: its ◀️ ▶️ buttons read the query back from
there (the buttons' data holds only the page), so nothing is stored and every replica answers
them alike. The matching is `bot.core.search`'s, in Python: the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

from telegram import ReplyParameters, Update

from bot.core.search import MAX_QUERY_LENGTH, MIN_QUERY_LENGTH, clean_query, matches
from bot.handlers.common import chat_translator, reply
from bot.handlers.context import Context
from bot.storage import Searchable
from bot.texts import finds
from bot.texts.i18n import Translator
from bot.texts.lists import LIST_PAGE_SIZE

_FIND_COMMAND_RE = re.compile(r"/find(?:@\w+)?(?:\s+|\Z)", re.IGNORECASE)


def query_in(text: str) -> str:
    """The query a message asks for: after the command word of a /find, else all its text."""
    command = _FIND_COMMAND_RE.match(text)
    return clean_query(text[command.end() :] if command else text)


def query_problem(query: str) -> str | None:
    """The key of the answer to a query that cannot be searched; None when it can."""
    if not query:
        return "find.usage"
    if len(query) < MIN_QUERY_LENGTH:
        return "find.too_short"
    if len(query) > MAX_QUERY_LENGTH:
        return "find.too_long"
    return None


async def found_for(context: Context, chat_id: int, query: str) -> list[Searchable]:
    """What the chat follows (archived too) that matches `query`."""
    rows = await context.services.storage.follows.searchable(chat_id)
    return [
        row
        for row in rows
        if matches(
            query,
            code=row.followed.shipment.code,
            fields=(row.followed.label, row.event_description, row.event_location),
        )
    ]


async def find_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    message = update.effective_message
    assert message is not None
    query = query_in(message.text or "")
    problem = query_problem(query)
    if problem is not None:
        await reply(update, t(problem, min=MIN_QUERY_LENGTH, max=MAX_QUERY_LENGTH))
        return
    await _send_found(update, context, t, query, await _found_here(update, context, query))


async def search_after_hint(update: Update, context: Context, t: Translator) -> None:
    """After the "no code found" hint in a private chat: what its text finds, when the chat
    follows more than a page of shipments and something matches (else nothing more)."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    query = clean_query(message.text or "")
    if query_problem(query) is not None:
        return
    if await context.services.storage.follows.count_followed(chat.id) <= LIST_PAGE_SIZE:
        return
    found = await _found_here(update, context, query)
    if found:
        await _send_found(update, context, t, query, found)


async def _found_here(update: Update, context: Context, query: str) -> list[Searchable]:
    chat = update.effective_chat
    assert chat is not None
    return await found_for(context, chat.id, query)


async def _send_found(
    update: Update, context: Context, t: Translator, query: str, found: list[Searchable]
) -> None:
    message = update.effective_message
    assert message is not None
    page = finds.found_page(t, query, found, 0)
    await message.reply_text(
        page.text,
        reply_markup=page.keyboard,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
    )
