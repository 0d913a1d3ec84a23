"""Inline mode (`@bot TEXT` in any chat): the results a user picks from, and the message each
one posts: a shipment's status, last event and expected delivery, for whoever reads it, with
a link to follow it in one tap. Or, for a code the user does not track, the offer to follow.

The posted message leaves out the name the user gave the shipment: it is theirs, not for the
chat it is told in (the result's title shows it, to the user alone)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
)
from telegram.constants import InlineQueryLimit, ParseMode

from bot.core.codes import DEFAULT_COURIER
from bot.core.shipments import shown_status
from bot.storage import Event, Followed
from bot.texts.couriers import courier_name
from bot.texts.i18n import Html, Translator, escape
from bot.texts.links import START_TRACK_PREFIX, carrier_page, deep_link, plain_code
from bot.texts.message import fit, html_to_plain, join_lines
from bot.texts.shipments import delivery_lines, local_time, status_emoji

MAX_RESULTS = int(InlineQueryLimit.RESULTS)  # Telegram's cap on one answer
MAX_DESCRIPTION = 120  # a longer result description is cut
OPEN_BOT_PARAMETER = "inline"  # /start with it: the welcome
OFFER_ID = "follow"


@dataclass(frozen=True)
class InlineAnswer:
    """What answerInlineQuery is given: one page of results, where the next one starts
    (None when none: not "", which PTB 22 with Defaults sends as "[]", its text-parse-mode
    default meeting an empty sequence), and the button above them."""

    results: list[InlineQueryResultArticle]
    next_offset: str | None
    button: InlineQueryResultsButton | None


def answer(
    t: Translator,
    rows: Sequence[tuple[Followed, Event | None]],
    *,
    query: str,
    offset: int,
    offer_code: str | None,
) -> InlineAnswer:
    """The page of results starting at shipment `offset`; on the first page, for a code the
    user does not track (`offer_code`), the offer to follow it first."""
    head = [follow_offer(t, offer_code)] if offer_code and offset == 0 else []
    offers = [result for result in head if result is not None]
    room = MAX_RESULTS - len(offers)
    shown = rows[offset : offset + room]
    more = offset + room < len(rows)
    results = offers + [shipment_result(t, followed, event) for followed, event in shown]
    return InlineAnswer(
        results, str(offset + room) if more else None, _button(t, rows, query, offer_code)
    )


def _button(
    t: Translator, rows: Sequence[object], query: str, offer_code: str | None
) -> InlineQueryResultsButton | None:
    """Above the results: follow the code in the bot; or, with nothing to show, open it."""
    if offer_code:
        return InlineQueryResultsButton(
            t.plain("inline.offer_button", code=offer_code),
            start_parameter=f"{START_TRACK_PREFIX}{offer_code}",
        )
    if rows:
        return None
    key = "inline.no_match_button" if query else "inline.empty_button"
    return InlineQueryResultsButton(t.plain(key), start_parameter=OPEN_BOT_PARAMETER)


def shipment_result(
    t: Translator, followed: Followed, event: Event | None
) -> InlineQueryResultArticle:
    """One shipment to pick: its name (or code) and state; picked, it posts `shipment_message`."""
    shipment = followed.shipment
    shown = shown_status(shipment.status, shipment.substatus)
    state = html_to_plain(_state(t, followed))
    described = " · ".join(
        part
        for part in (shipment.code if followed.label else "", state, _event_text(event))
        if part
    )
    return InlineQueryResultArticle(
        id=f"s{shipment.id}",
        title=f"{status_emoji(shown)} {followed.label or shipment.code}",
        description=_cut(described, MAX_DESCRIPTION),
        input_message_content=_content(shipment_message(t, followed, event)),
        reply_markup=_follow_keyboard(t, shipment.code, shipment.courier),
    )


def shipment_message(t: Translator, followed: Followed, event: Event | None) -> Html:
    """What the chat reads: the code, the carrier, the state, the last event with its place
    and time, the expected delivery, and the link that follows the shipment."""
    shipment = followed.shipment
    shown = shown_status(shipment.status, shipment.substatus)
    lines: list[str | None] = [
        f"{status_emoji(shown)} {t('inline.message_title', code=plain_code(shipment.code))}",
        t("status.courier", courier=courier_name(shipment.courier)),
        t("status.current", status=_state(t, followed)),
    ]
    detail = t.substatus(shipment.substatus)
    lines.append(t("notify.detail", detail=detail) if detail else None)
    lines.extend(_event_lines(t, event))
    lines.extend(delivery_lines(t, shipment.status, shipment.expected_delivery, shipment.signed_by))
    lines.append(carrier_page(t, shipment.code, shipment.courier))
    link = deep_link(shipment.code, shipment.courier)
    if link:
        lines.append(t("inline.follow_link", url=Html(html.escape(link))))
    return fit(join_lines(lines), t)


def follow_offer(t: Translator, code: str) -> InlineQueryResultArticle | None:
    """A code the user does not track, not looked up: the message offers whoever reads it
    (the user too) to follow it in the bot. None when the bot's name is not known yet."""
    keyboard = _follow_keyboard(t, code)
    if keyboard is None:
        return None
    return InlineQueryResultArticle(
        id=OFFER_ID,
        title=t.plain("inline.offer_title", code=code),
        description=t.plain("inline.offer_description"),
        input_message_content=_content(t("inline.offer_message", code=plain_code(code))),
        reply_markup=keyboard,
    )


def _follow_keyboard(
    t: Translator, code: str, courier: str = DEFAULT_COURIER
) -> InlineKeyboardMarkup | None:
    link = deep_link(code, courier)
    if link is None:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.plain("inline.follow_button"), url=link)]])


def _content(text: Html) -> InputTextMessageContent:
    return InputTextMessageContent(
        text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )


def _state(t: Translator, followed: Followed) -> Html:
    shipment = followed.shipment
    if shipment.refused:
        return t("status.refused")
    return t.status(shown_status(shipment.status, shipment.substatus) or None)


def _event_lines(t: Translator, event: Event | None) -> list[str]:
    if event is None:
        return [t("status.no_events")]
    lines: list[str] = [t("inline.last_event", event=event.description)]
    when = local_time(t, event.occurred_at, event.raw_time)
    where = [f"📍 {escape(event.location)}"] if event.location else []
    where += [f"🕒 {escape(when)}"] if when else []
    if where:
        lines.append(" · ".join(where))
    return lines


def _event_text(event: Event | None) -> str:
    if event is None:
        return ""
    return ", ".join(text for text in (event.description, event.location) if text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
