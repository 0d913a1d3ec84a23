"""The offer of codes read from a photo that do not look like a shipment's (a product's EAN, a
routing barcode): the codes one a line, a Follow button for each and one Ignore.

The offer keeps its state in the message itself: the buttons carry only the 0-based line
(`pf:<line>`, `pi:0`), the handler reads the codes back from the text of the message the
button hangs under (and the name from the message that offer replies to). Nothing to store or
expire, it survives restarts, and forged data can only pick a line of a real offer in the
chat it was pressed in — which the chat could follow by typing it anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts.callbacks import Action, pack
from bot.texts.i18n import Html, Translator

MAX_OFFERED = 5
# Telegram gives the text back without the markup; the tags are optional for either reading.
_OFFER_LINE_RE = re.compile(r"^([1-9])\. (?:<code>)?([A-Z0-9]{10,30})(?:</code>)?$", re.MULTILINE)


def offer(t: Translator, codes: Sequence[str]) -> tuple[Html, InlineKeyboardMarkup]:
    """The offer's text and buttons for at most MAX_OFFERED codes."""
    shown = list(codes)[:MAX_OFFERED]
    lines = "\n".join(f"{number}. <code>{code}</code>" for number, code in enumerate(shown, 1))
    rows = [
        [
            InlineKeyboardButton(
                t.plain("button.photo_follow", code=code),
                callback_data=pack(Action.PHOTO_FOLLOW, line),
            )
        ]
        for line, code in enumerate(shown)
    ]
    ignore = t.plain("button.photo_ignore")
    rows.append([InlineKeyboardButton(ignore, callback_data=pack(Action.PHOTO_IGNORE, 0))])
    return t.plural("photo.offer", len(shown), codes=Html(lines)), InlineKeyboardMarkup(rows)


def offered_codes(text: str) -> list[str]:
    """The codes an offer's text lists, by line (empty for any other message)."""
    codes: list[str] = []
    for match in _OFFER_LINE_RE.finditer(text):
        if int(match.group(1)) != len(codes) + 1:
            return []
        codes.append(match.group(2))
    return codes


def without_button(
    keyboard: InlineKeyboardMarkup | None, data: str | None
) -> InlineKeyboardMarkup | None:
    """The offer's buttons less the one pressed; None once only Ignore is left."""
    if keyboard is None:
        return None
    rows = [
        [button for button in row if button.callback_data != data]
        for row in keyboard.inline_keyboard
    ]
    kept = tuple(tuple(row) for row in rows if row)
    follow = f"{Action.PHOTO_FOLLOW.value}:"
    if not any(str(b.callback_data).startswith(follow) for row in kept for b in row):
        return None
    return InlineKeyboardMarkup(kept)
