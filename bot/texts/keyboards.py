"""The inline keyboards: under a notification or /status, the removal question, and the
shipments and pages of /list, /archived and /find. Their data is packed by `bot.texts.callbacks`."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.shipments import Status, shown_status
from bot.storage import Followed
from bot.texts.callbacks import Action, pack
from bot.texts.i18n import Translator
from bot.texts.shipments import status_emoji

MAX_BUTTON_TEXT = 60  # longer names are cut on the shipment buttons of the lists
RESTORE_MARK = "♻️ "
ARCHIVED_MARK = "🗄 "


def _button(text: str, action: Action, number: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=pack(action, number))


def shipment_keyboard(
    t: Translator, shipment_id: int, *, muted: bool, status: str | None
) -> InlineKeyboardMarkup:
    """The buttons under a notification or a /status answer."""
    sid = shipment_id
    rows = [
        [
            _button(t("button.details"), Action.DETAILS, sid),
            _button(t("button.refresh"), Action.REFRESH, sid),
        ],
        [
            _button(t("button.rename"), Action.RENAME, sid),
            _button(t("button.unmute" if muted else "button.mute"), Action.TOGGLE_MUTE, sid),
            _button(t("button.remove"), Action.ASK_TO_REMOVE, sid),
        ],
    ]
    if status == Status.EXPIRED:
        rows.append([_button(t("button.retrack"), Action.RETRACK, sid)])
    return InlineKeyboardMarkup(rows)


def remove_confirmation(t: Translator, shipment_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(t("button.remove_yes"), Action.CONFIRM_REMOVE, shipment_id),
                _button(t("button.remove_no"), Action.CANCEL_REMOVE, shipment_id),
            ]
        ]
    )


def list_keyboard(
    shown: Sequence[Followed], page: int, pages: int, *, archived: bool
) -> InlineKeyboardMarkup:
    """One button per shown shipment (details; in /archived: bring it back), then ◀️ ▶️ to
    the neighbouring pages. `page` is 0-based, the buttons count from 1."""
    open_action = Action.RESTORE if archived else Action.DETAILS
    rows = [
        [_button(_shipment_button_text(item, archived=archived), open_action, item.shipment.id)]
        for item in shown
    ]
    page_action = Action.ARCHIVED_PAGE if archived else Action.LIST_PAGE
    return InlineKeyboardMarkup([*rows, *_page_row(page_action, page, pages)])


def find_keyboard(shown: Sequence[Followed], page: int, pages: int) -> InlineKeyboardMarkup:
    """What /find found: one details button a shipment (🗄 on the archived ones), then the
    neighbouring pages."""
    rows = [
        [
            _button(
                _shipment_button_text(item, archived=False, found=True),
                Action.DETAILS,
                item.shipment.id,
            )
        ]
        for item in shown
    ]
    return InlineKeyboardMarkup([*rows, *_page_row(Action.FIND_PAGE, page, pages)])


def _page_row(action: Action, page: int, pages: int) -> list[list[InlineKeyboardButton]]:
    """◀️ ▶️ to the neighbouring pages, if any."""
    nav = []
    if page > 0:
        nav.append(_button(f"◀️ {page}/{pages}", action, page - 1))
    if page < pages - 1:
        nav.append(_button(f"{page + 2}/{pages} ▶️", action, page + 1))
    return [nav] if nav else []


def _shipment_button_text(item: Followed, *, archived: bool, found: bool = False) -> str:
    """♻️ or the status emoji (found by /find in the archive: 🗄), then the name or the code."""
    shown = shown_status(item.shipment.status, item.shipment.substatus)
    if archived:
        mark = RESTORE_MARK
    elif found and item.archived_at is not None:
        mark = ARCHIVED_MARK
    else:
        mark = status_emoji(shown) + " "
    return f"{mark}{item.label or item.shipment.code}"[:MAX_BUTTON_TEXT]
