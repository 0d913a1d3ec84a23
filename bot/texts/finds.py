"""The paged answer to /find: the chat's shipments (archived ones marked) that match."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.shipments import shown_status
from bot.storage import Searchable
from bot.texts.i18n import Translator, escape
from bot.texts.keyboards import find_keyboard
from bot.texts.lists import LIST_PAGE_SIZE, Page, list_rank
from bot.texts.message import fit, join_lines
from bot.texts.shipments import status_emoji, title

MAX_EVENT_TEXT = 120  # a longer last event is cut on its line


def _rank(item: Searchable) -> tuple[bool, tuple[int, str]]:
    """The current ones first, as /list orders them; then the archived ones."""
    return item.followed.archived_at is not None, list_rank(item.followed)


def found_page(t: Translator, query: str, found: Sequence[Searchable], page: int) -> Page:
    """One page of what matched `query` (as the user wrote it: escaped here)."""
    if not found:
        return Page(t("find.none", query=query), None, 0)
    ordered = sorted(found, key=_rank)
    pages = max(1, -(-len(ordered) // LIST_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = ordered[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE]
    lines: list[str] = [t.plural("find.header", len(ordered), query=query)]
    if pages > 1:
        lines.append(t("list.page", page=page + 1, pages=pages))
    for item in shown:
        lines += ["", *_item_lines(t, item)]
    keyboard = find_keyboard([item.followed for item in shown], page, pages)
    return Page(fit(join_lines(lines), t), keyboard, page)


def _item_lines(t: Translator, item: Searchable) -> list[str]:
    shipment = item.followed.shipment
    status = shown_status(shipment.status, shipment.substatus)
    head = (
        f"{status_emoji(status)} {title(t, shipment.code, item.followed.label, shipment.courier)}"
    )
    if item.followed.archived_at is not None:
        head = f"{head} {t('find.archived')}"
    state = t("status.refused") if shipment.refused else t.status(status or None)
    event = ", ".join(text for text in (item.event_description, item.event_location) if text)
    if len(event) > MAX_EVENT_TEXT:
        event = event[: MAX_EVENT_TEXT - 1] + "…"
    second = f"    {state} · {escape(event)}" if event else f"    {state}"
    return [head, second]
