"""A photo of the label is enough: the barcodes in a picture are followed as if typed.

In a private chat any photo or image sent as a file; in a group (where privacy mode shows the
bot only commands) one captioned `/track`, or `/track` replying to one. The caption's text
(after `/track`) names the shipments. Codes that are not clearly a shipment's are offered with
buttons (`bot.texts.photo_offer`) instead of followed.

Decoding is bounded: the file's size is checked before downloading, the picture's pixels
before decoding (`bot.imaging.barcodes`), and it runs on a pool of DECODE_THREADS threads with
a time limit, so pictures queue among themselves and never hold up the rest of the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from telegram import Document, Message, PhotoSize, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.core.codes import Refusal, clean_text, rejected
from bot.core.message_codes import ParsedCodes, parse_track_args
from bot.core.scanned import sort_codes
from bot.handlers import buttons
from bot.handlers.common import addressed_to_us, chat_translator, reply, topic_of
from bot.handlers.context import Context
from bot.handlers.follow import follow_parsed
from bot.imaging.barcodes import Problem, Reading, UnreadableImage, read_barcodes
from bot.texts.callbacks import parse
from bot.texts.i18n import Html, Translator
from bot.texts.photo_offer import offer, offered_codes, without_button

logger = logging.getLogger(__name__)

TRACK_CAPTION_RE = re.compile(r"^/track(?:@(\w+))?(?:\s|$)", re.IGNORECASE)
# Telegram's photo sizes go up to 2560 px; 1280 (the usual one under this) reads a label.
MAX_PHOTO_SIDE = 1600
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_SIZE_TEXT = "10 MB"
DECODE_SECONDS = 15.0
DECODE_THREADS = 2
MAX_SHOWN_READINGS = 3
# Module-wide, not per application: it only bounds CPU, and its threads start on first use.
_DECODER = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="barcodes")

Picture = PhotoSize | Document


class _RepliesToImage(filters.MessageFilter):
    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return replied is not None and picture_of(replied) is not None


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Call before the /track command and the desk's documents (private ones are imports)."""
    new = filters.UpdateType.MESSAGE
    image = filters.PHOTO | filters.Document.IMAGE
    group_track = filters.ChatType.GROUPS & image & filters.CaptionRegex(TRACK_CAPTION_RE)
    private = filters.ChatType.PRIVATE & image
    application.add_handler(MessageHandler((private | group_track) & new, photo_message))
    replying = new & _RepliesToImage(name="RepliesToImage")
    application.add_handler(CommandHandler("track", track_replying_to_photo, filters=replying))


def picture_of(message: Message) -> Picture | None:
    """The photo size to read (the largest up to MAX_PHOTO_SIDE), or the image document."""
    if message.photo:
        return pick_photo_size(message.photo)
    document = message.document
    if document is not None and (document.mime_type or "").lower().startswith("image/"):
        return document
    return None


def pick_photo_size(sizes: Sequence[PhotoSize]) -> PhotoSize:
    fitting = [size for size in sizes if max(size.width, size.height) <= MAX_PHOTO_SIDE]
    if fitting:
        return max(fitting, key=lambda size: size.width * size.height)
    return min(sizes, key=lambda size: size.width * size.height)


def name_in(request: Message) -> str:
    """The name a request gives its shipments: the text after `/track`, or the whole caption
    (in a private chat, where a photo needs no command)."""
    text = request.caption if request.caption is not None else (request.text or "")
    match = TRACK_CAPTION_RE.match(text)
    return clean_text(text[match.end() :] if match else text)


# --- reading a picture -----------------------------------------------------------------------


async def photo_message(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    caption = message.caption or ""
    if chat.type != ChatType.PRIVATE and not addressed_to_us(
        TRACK_CAPTION_RE, caption, context.bot.username
    ):
        return
    t = await chat_translator(update, context)
    await read_and_follow(update, context, t, message)


async def track_replying_to_photo(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None
    t = await chat_translator(update, context)
    await read_and_follow(update, context, t, message.reply_to_message)


async def read_and_follow(
    update: Update, context: Context, t: Translator, pictured: Message
) -> None:
    """Read the barcodes of the picture in `pictured`; follow, offer, or say what to try."""
    request, chat = update.effective_message, update.effective_chat
    picture = picture_of(pictured)
    assert request is not None and chat is not None and picture is not None
    if picture.file_size is not None and picture.file_size > MAX_FILE_BYTES:
        await reply(update, t("photo.too_large", limit=MAX_FILE_SIZE_TEXT))
        return
    await context.bot.send_chat_action(
        chat.id, ChatAction.TYPING, message_thread_id=topic_of(request)
    )
    user = update.effective_user
    # One picture at a time per person: a burst of photos waits behind itself, and the
    # decoding threads stay free for everyone else.
    async with _one_at_a_time.turn(user.id if user else chat.id):
        try:
            readings = await _read(pictured, picture)
        except _Refused as refused:
            await reply(update, refused.answer(t))
            return
    tracking, candidates = sort_codes([(reading.text, reading.product) for reading in readings])
    if not tracking and not candidates:
        await reply(update, _nothing_found(t, readings))
        return
    if tracking:
        await follow_parsed(update, context, t, parsed_codes(context, tracking, name_in(request)))
    if candidates:
        text, keyboard = offer(t, candidates)
        # A reply to the request: the Follow button reads the name back from it.
        await request.reply_text(text, do_quote=True, reply_markup=keyboard)


class _Refused(Exception):
    """A picture the bot cannot read: `answer` says why, in the chat's language."""

    def __init__(self, key: str, exc: UnreadableImage | None = None) -> None:
        super().__init__(key)
        self.key, self.exc = key, exc

    def answer(self, t: Translator) -> Html:
        if self.exc is not None:
            return _unreadable_answer(t, self.exc)
        return t(self.key, limit=MAX_FILE_SIZE_TEXT)


async def _read(pictured: Message, picture: Picture) -> list[Reading]:
    """The barcodes of the picture; a photo in which the usual size shows none is read once
    more at the largest size Telegram made (small codes on a big label need the pixels)."""
    readings = await _read_one(picture)
    larger = max(pictured.photo, key=lambda size: size.width * size.height, default=None)
    if readings or larger is None or larger.file_unique_id == picture.file_unique_id:
        return readings
    if larger.file_size is not None and larger.file_size > MAX_FILE_BYTES:
        return readings
    return await _read_one(larger)


async def _read_one(picture: Picture) -> list[Reading]:
    data, problem = await _download(picture)
    if problem is not None:
        raise _Refused(problem)
    try:
        return await decode(data)
    except UnreadableImage as exc:
        raise _Refused("photo.not_an_image", exc) from exc
    except TimeoutError as exc:
        raise _Refused("photo.timeout") from exc


class _Turns:
    """An asyncio lock per key, dropped once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()

    @contextlib.asynccontextmanager
    async def turn(self, key: int) -> AsyncIterator[None]:
        self._users[key] += 1
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


_one_at_a_time = _Turns()


async def _download(picture: Picture) -> tuple[bytes, str | None]:
    """The file's bytes, or the key of the answer saying why not."""
    try:
        file = await picture.get_file()
        data = bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            return b"", "photo.too_large"
        logger.warning("could not download picture %s: %s", picture.file_unique_id, exc)
        return b"", "photo.download_failed"
    except TelegramError as exc:
        logger.warning("could not download picture %s: %s", picture.file_unique_id, exc)
        return b"", "photo.download_failed"
    if len(data) > MAX_FILE_BYTES:
        return b"", "photo.too_large"
    return data, None


async def decode(data: bytes) -> list[Reading]:
    """`read_barcodes` on the decoding threads, within DECODE_SECONDS (TimeoutError)."""
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    readings = await asyncio.wait_for(
        loop.run_in_executor(_DECODER, read_barcodes, data), DECODE_SECONDS
    )
    elapsed = time.perf_counter() - started
    logger.info("read %d barcode(s) from %d bytes in %.3f s", len(readings), len(data), elapsed)
    return readings


def _unreadable_answer(t: Translator, exc: UnreadableImage) -> Html:
    if exc.problem is Problem.TOO_MANY_PIXELS:
        return t("photo.too_many_pixels", megapixels=round(exc.pixels / 1_000_000))
    return t("photo.not_an_image")


def _nothing_found(t: Translator, readings: Sequence[Reading]) -> Html:
    if not readings:
        return t("photo.no_code")
    shown = [rejected(reading.text, Refusal.NOT_A_CODE).text for reading in readings]
    values = ", ".join(f"“{value}”" for value in dict.fromkeys(shown[:MAX_SHOWN_READINGS]))
    return t.plural("photo.no_tracking_code", len(readings), values=values)


def parsed_codes(context: Context, codes: Sequence[str], name: str) -> ParsedCodes:
    """The codes as if typed one a line, each followed by the name (and its `courier=`)."""
    text = "\n".join(f"{code} {name}" for code in codes)
    return parse_track_args(text, max_codes=context.services.settings.max_codes_per_message)


# --- the offer's buttons ---------------------------------------------------------------------


async def follow_offered(update: Update, context: Context) -> None:
    """`pf:<line>`: follow that line's code of the offer, named like the request it answers."""
    query = update.callback_query
    pressed = parse(query.data) if query is not None else None
    message = query.message if query is not None and pressed is not None else None
    offered = offered_codes(message.text or "") if isinstance(message, Message) else []
    if query is None or pressed is None or pressed.number >= len(offered):
        await buttons.stale_button(update, context)
        return
    assert isinstance(message, Message)
    t = await chat_translator(update, context)
    await query.answer()
    keyboard = without_button(message.reply_markup, query.data)
    try:
        await query.edit_message_reply_markup(keyboard)
    except BadRequest as exc:
        logger.debug("could not edit the offer's buttons: %s", exc)
    request = message.reply_to_message
    name = name_in(request) if request is not None else ""
    codes = [offered[pressed.number]]
    await follow_parsed(update, context, t, parsed_codes(context, codes, name))


async def ignore_offered(update: Update, context: Context) -> None:
    """`pi:0`: the offer goes away (or, too old to delete, loses its buttons)."""
    query = update.callback_query
    pressed = parse(query.data) if query is not None else None
    message = query.message if query is not None and pressed is not None else None
    if query is None or not isinstance(message, Message) or not offered_codes(message.text or ""):
        await buttons.stale_button(update, context)
        return
    await query.answer()
    try:
        await message.delete()
    except BadRequest:
        t = await chat_translator(update, context)
        await query.edit_message_text(t("photo.offer_ignored"))
