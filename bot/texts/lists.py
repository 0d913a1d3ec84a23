"""The paged /list and /archived: grouped by status, what needs attention first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.core.shipments import Status, attention_rank, shown_status
from bot.storage import Followed, Shipment
from bot.texts.i18n import Html, Translator
from bot.texts.keyboards import list_keyboard
from bot.texts.message import fit, join_lines
from bot.texts.shipments import local_time, status_emoji, title
from bot.texts.topics import scope_note

LIST_PAGE_SIZE = 10


@dataclass(frozen=True)
class Page:
    text: Html
    keyboard: InlineKeyboardMarkup | None
    number: int  # 0-based, clamped to the pages that exist


def _shown(item: Followed) -> str:
    return shown_status(item.shipment.status, item.shipment.substatus)


def list_rank(item: Followed) -> tuple[int, str]:
    """Where /list puts it: by status, what needs attention first; then the oldest first."""
    return attention_rank(_shown(item)), item.added_at


def followed_page(
    t: Translator,
    followed: Sequence[Followed],
    page: int,
    *,
    archived: bool = False,
    in_topic: bool = False,
) -> Page:
    """One page of /list (or /archived): grouped by status, what needs attention first;
    `in_topic`: one forum topic's shipments, said under the header."""
    scope = [scope_note(t)] if in_topic else []
    if not followed:
        empty = t("archived.empty" if archived else "list.empty")
        return Page(join_lines([empty, *scope]), None, 0)
    ordered = sorted(followed, key=list_rank)
    pages = max(1, -(-len(ordered) // LIST_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = ordered[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE]
    header = t.plural("archived.header" if archived else "list.header", len(ordered))
    lines: list[str] = [header, *scope]
    if pages > 1:
        lines.append(t("list.page", page=page + 1, pages=pages))
    counts = Counter(_shown(item) for item in ordered)
    group = None
    for item in shown:
        status = _shown(item)
        if status != group:
            group = status
            lines += [
                "",
                f"{status_emoji(status)} <b>{t.status(status or None)}</b> ({counts[status]})",
            ]
        lines.append(f"• {title(t, item.shipment.code, item.label, item.shipment.courier)}")
        lines.append(f"    {_last_movement(t, item.shipment)}")
        if item.shipment.expected_delivery and status != Status.DELIVERED:
            day = t.weekday(item.shipment.expected_delivery)
            lines.append(f"    {t('list.expected', date=day)}")
    keyboard = list_keyboard(shown, page, pages, archived=archived)
    return Page(fit(join_lines(lines), t), keyboard, page)


def _last_movement(t: Translator, shipment: Shipment) -> Html:
    if shipment.refused:
        return t("status.refused")
    if shipment.latest_event_at:
        return t("list.moved", when=local_time(t, shipment.latest_event_at))
    return t("list.no_movement")
