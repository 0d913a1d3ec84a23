"""Callback data of the inline buttons: packed by `bot.texts.keyboards`, routed and read back
by `bot.handlers.buttons` — the one place that knows the format.

The data is `<action>:<number>`, the number a database id or a 0-based page, at most
`MAX_NUMBER_DIGITS` digits (far under Telegram's 64 bytes). Only ids go in it, so buttons keep
working after a restart; buttons already sent in chats keep their data forever, so the format
and the action codes below never change (new actions get new codes).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

MAX_NUMBER_DIGITS = 12
MAX_DATA_BYTES = 64  # Telegram's limit on callback_data


class Action(StrEnum):
    # On one shipment the chat follows: `<action>:<shipment id>`.
    DETAILS = "d"
    DETAILS_FIRST_RELEASE = "st"  # what the first release's Details buttons carry
    RENAME = "rn"
    TOGGLE_MUTE = "m"
    ASK_TO_REMOVE = "rm"
    CONFIRM_REMOVE = "rmy"
    CANCEL_REMOVE = "rmn"
    REFRESH = "rf"
    RETRACK = "rt"
    RESTORE = "ar"  # bring an archived shipment back to /list
    # Pages of the lists: `<action>:<0-based page>`.
    LIST_PAGE = "l"
    ARCHIVED_PAGE = "la"
    FIND_PAGE = "f"  # the query is the message the answer replies to
    # On the offer of codes read from a photo: `<action>:<0-based line of the offer>`.
    PHOTO_FOLLOW = "pf"
    PHOTO_IGNORE = "pi"


SHIPMENT_ACTIONS = frozenset(Action) - {
    Action.LIST_PAGE,
    Action.ARCHIVED_PAGE,
    Action.FIND_PAGE,
    Action.PHOTO_FOLLOW,
    Action.PHOTO_IGNORE,
}


class Pressed(NamedTuple):
    """A button's data read back."""

    action: Action
    number: int


def pack(action: Action, number: int) -> str:
    """The data of a button doing `action` on `number` (a shipment id or a page)."""
    if number < 0 or len(str(number)) > MAX_NUMBER_DIGITS:
        raise ValueError(f"callback number out of range: {number}")
    return f"{action.value}:{number}"


def pattern(*actions: Action) -> re.Pattern[str]:
    """What PTB's `CallbackQueryHandler(pattern=...)` matches for these actions (`re.match`,
    so anchored at the start; `\\Z` anchors the end, no trailing newline slips through)."""
    if not actions:
        raise ValueError("pattern() needs at least one action")
    codes = "|".join(re.escape(action.value) for action in actions)
    # No leading zeros: one number has one spelling, the one `data` writes.
    return re.compile(rf"(?:{codes}):(0|[1-9][0-9]{{0,{MAX_NUMBER_DIGITS - 1}}})\Z")


ANY_ACTION = pattern(*Action)


def parse(data: str | None) -> Pressed | None:
    """The action and number of well-formed data; None for anything else (forged, foreign)."""
    if data is None or not ANY_ACTION.match(data):
        return None
    code, _, number = data.partition(":")
    return Pressed(Action(code), int(number))
