"""How one shipment is written: its status emoji, its title, local times, the notification of
a change (or of a new expected delivery date) and the /status timeline."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime

from bot.core.codes import DEFAULT_COURIER
from bot.core.deadlines import first_deadline
from bot.core.lifecycle import NoticeEvent
from bot.core.shipments import READY_FOR_PICKUP, Status, shown_status
from bot.storage import Event, Followed, Notification
from bot.texts.couriers import courier_name
from bot.texts.i18n import Html, Translator, escape
from bot.texts.links import carrier_page, code_html, mention
from bot.texts.message import fit, join_lines

MAX_TIMELINE_EVENTS = 30

# Shown status (see `bot.core.shipments.shown_status`) → emoji; also the order of the
# /summary counts.
STATUS_EMOJI = {
    "pending": "⏳",
    "notfound": "🔎",
    "inforeceived": "📝",
    "transit": "🚚",
    "pickup": "🛵",
    READY_FOR_PICKUP: "🏤",
    "delivered": "✅",
    "undelivered": "⚠️",
    "exception": "🚨",
    "expired": "⌛",
}
UNKNOWN_STATUS_EMOJI = "📦"


def status_emoji(status: str | None) -> str:
    """The emoji of a shown status."""
    return STATUS_EMOJI.get(status or "", UNKNOWN_STATUS_EMOJI)


def status_with_emoji(t: Translator, status: str | None, substatus: str | None = "") -> Html:
    """A stored delivery_status and substatus as the person reads it: "🏤 Da ritirare"."""
    shown = shown_status(status, substatus) or None
    return Html(f"{status_emoji(shown)} {t.status(shown)}")


def title(t: Translator, code: str, label: str | None, courier: str = DEFAULT_COURIER) -> Html:
    """`<b>label</b> · CODE`, or just the code."""
    if label:
        return t("shipment.title_with_label", label=label, code=code_html(code, courier))
    return code_html(code, courier)


def local_time(t: Translator, occurred_at: str | None, raw_time: str = "") -> str:
    """An event's time (stored as naive local ISO) in the chat's language; the carrier's own
    text when it could not be read."""
    moment = datetime.fromisoformat(occurred_at) if occurred_at else None
    return t.datetime(moment) if moment else raw_time


# --- the notification of a change ---------------------------------------------------------------


def notification(t: Translator, item: Notification) -> Html:
    """The message about one change: the status (once, even when the carrier's text starts
    with it), what the substatus adds, the new events, and for a parcel to collect where
    and until when."""
    notice = item.notice
    shown = notice.shown_status
    heading = title(t, item.code, item.label, item.courier)
    if notice.date_only:
        day = t.weekday(notice.expected_delivery)
        return fit(join_lines([f"📅 {heading}", t("notify.expected_changed", date=day)]), t)
    name = t.status(shown or None)
    events = notice.events
    lines: list[str | None] = [f"{status_emoji(shown)} {heading}"]
    merged = _merged_head(name, events[0].description) if len(events) == 1 else None
    lines.append(merged or t("notify.status", status=name))
    detail = t.substatus(notice.substatus)
    if detail:
        lines.append(t("notify.detail", detail=detail))
    ready = shown == READY_FOR_PICKUP
    if len(events) == 1:
        event = events[0]
        if merged is None:
            lines.append(escape(event.description))
        if ready:
            lines.extend(pickup_lines(t, events))
        lines.append(_where_when(t, event, with_place=not ready) or None)
    else:
        lines.extend(_event_bullet(t, event) for event in events)
    if notice.more_events:
        lines.append(t.plural("notify.more_events", notice.more_events))
    if ready and len(events) != 1:
        lines.extend(pickup_lines(t, events))
    lines.extend(delivery_lines(t, notice.status, notice.expected_delivery, notice.signed_by))
    if item.chat_type != "private" and notice.needs_person and item.added_by:
        lines.append(t("notify.mention", who=mention(item.added_by, item.added_by_name)))
    return fit(join_lines(lines), t)


def delivery_lines(
    t: Translator, status: str | None, expected: str | None, signed_by: str | None
) -> list[Html]:
    """Before delivery, the expected date when the carrier gives one; once delivered, who
    signed for it when the carrier says."""
    if status == Status.DELIVERED:
        return [t("notify.signed_by", name=signed_by)] if signed_by else []
    return [t("notify.expected", date=t.weekday(expected))] if expected else []


def _merged_head(name: str, description: str) -> Html | None:
    """The carrier's text with the status's name in bold ("<b>In transito</b> presso il
    Centro di Smistamento") when it starts with that name; None when it does not."""
    plain = html.unescape(str(name))
    text = description.strip()
    if not plain or not text.casefold().startswith(plain.casefold()):
        return None
    rest = text[len(plain) :]
    if rest[:1].isalnum():
        return None  # "In consegnata…" does not start with "In consegna"
    return Html(f"<b>{escape(text[: len(plain)])}</b>{escape(rest)}")


def repeats_status(name: str, description: str) -> bool:
    return _merged_head(name, description) is not None


def pickup_lines(t: Translator, events: Sequence[NoticeEvent | Event]) -> list[str]:
    """Where a parcel waits to be collected (the newest event's place) and, when the
    carrier's text says it, until when."""
    lines: list[str] = []
    place = next((e.location for e in events if e.location), "")
    if place:
        lines.append(t("pickup.where", place=place))
    reference = _event_day(events[0].occurred_at) if events else None
    deadline = first_deadline((e.description for e in events), reference)
    if deadline is not None:
        lines.append(t("pickup.until", date=t.date(deadline)))
    return lines


def _event_day(occurred_at: str | None) -> date | None:
    try:
        return datetime.fromisoformat(occurred_at).date() if occurred_at else None
    except ValueError:
        return None


def _where_when(t: Translator, event: NoticeEvent, *, with_place: bool = True) -> str:
    parts = []
    if event.location and with_place:
        parts.append(f"📍 {escape(event.location)}")
    when = local_time(t, event.occurred_at, event.raw_time)
    if when:
        parts.append(f"🕒 {escape(when)}")
    return " · ".join(parts)


def _event_bullet(t: Translator, event: NoticeEvent) -> str:
    """One of several new events, on one line."""
    when = local_time(t, event.occurred_at, event.raw_time)
    text = escape(event.description)
    where = f" ({escape(event.location)})" if event.location else ""
    return f"• {escape(when)} — {text}{where}" if when else f"• {text}{where}"


# --- /status ------------------------------------------------------------------------------------


def timeline(t: Translator, item: Followed, events: Sequence[Event]) -> Html:
    """The full history, newest first, up to MAX_TIMELINE_EVENTS events."""
    shipment = item.shipment
    shown = shown_status(shipment.status, shipment.substatus)
    lines = [
        f"{status_emoji(shown)} {title(t, shipment.code, item.label, shipment.courier)}",
        t("status.courier", courier=courier_name(shipment.courier)),
        t("status.current", status=t.status(shown or None)),
    ]
    detail = t.substatus(shipment.substatus)
    if detail:
        lines.append(t("notify.detail", detail=detail))
    if shown == READY_FOR_PICKUP:
        lines.extend(pickup_lines(t, events))
    lines.extend(delivery_lines(t, shipment.status, shipment.expected_delivery, shipment.signed_by))
    page = carrier_page(t, shipment.code, shipment.courier)
    if page:
        lines.append(page)
    if item.muted:
        lines.append(t("status.muted"))
    lines.append("")
    if not events:
        lines.append(t("status.no_events"))
    else:
        lines.append(t("status.history"))
        lines.extend(_timeline_line(t, event) for event in events[:MAX_TIMELINE_EVENTS])
        if len(events) > MAX_TIMELINE_EVENTS:
            lines.append(t.plural("notify.more_events", len(events) - MAX_TIMELINE_EVENTS))
    return fit(join_lines(lines), t)


def _timeline_line(t: Translator, event: Event) -> str:
    when = local_time(t, event.occurred_at, event.raw_time)
    name = t.status(shown_status(event.status, event.substatus)) if event.status else ""
    repeated = not name or repeats_status(name, event.description)
    status = "" if repeated else f" — {name}"
    where = f"\n    📍 {escape(event.location)}" if event.location else ""
    return f"🕒 <b>{escape(when)}</b>{status}\n    {escape(event.description)}{where}"
