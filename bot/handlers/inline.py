"""Inline mode: `@bot` in any chat lists what the user tracks (their private chat's shipments
and those they added in groups), newest change first; `@bot TEXT` keeps those whose code or
name contains TEXT, as /find matches. Picking one posts its state for the chat to read.

Nothing here reaches the carrier: a code the user does not track is only offered to follow
(in the bot, where following it is the usual path). The access gate has answered strangers
already, with nothing. Answers are personal and cached briefly: a move shows soon."""

from __future__ import annotations

from telegram import InlineQuery, Update

from bot.core.codes import CodeKind, classify, normalize
from bot.core.search import clean_query
from bot.handlers.common import private_translator
from bot.handlers.context import Context
from bot.storage import Event, Followed
from bot.texts import inline

CACHE_SECONDS = 15
MAX_OFFSET = 100_000  # an offset beyond any list: read as the start


async def inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    assert query is not None
    t = await private_translator(context, query.from_user)
    text = clean_query(query.query)
    rows = await context.services.storage.follows.followed_by_user(query.from_user.id, text)
    built = inline.answer(
        t, rows, query=text, offset=_offset(query), offer_code=_untracked_code(text, rows)
    )
    await query.answer(
        built.results,
        cache_time=CACHE_SECONDS,
        is_personal=True,
        next_offset=built.next_offset,
        button=built.button,
    )


def _offset(query: InlineQuery) -> int:
    """Where the page starts: the `next_offset` of the previous answer, or the start."""
    offset = query.offset or ""
    if not (offset.isascii() and offset.isdigit()):
        return 0
    value = int(offset)
    return value if value < MAX_OFFSET else 0


def _untracked_code(text: str, rows: list[tuple[Followed, Event | None]]) -> str | None:
    """The query when it is a valid tracking code the user does not track, normalised."""
    if not isinstance(classify(text), CodeKind):
        return None
    code = normalize(text)
    if any(followed.shipment.code == code for followed, _ in rows):
        return None
    return code
