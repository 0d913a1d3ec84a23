"""How one shipment is written: its status emoji, its title, local times, the notification of
a change and the /status timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.codes import DEFAULT_COURIER
from bot.core.lifecycle import NoticeEvent
from bot.core.shipments import ATTENTION_STATUSES
from bot.storage import Event, Followed, Notification
from bot.texts.i18n import Html, Translator, escape
from bot.texts.links import carrier_page, code_html, mention
from bot.texts.message import fit, join_lines

MAX_TIMELINE_EVENTS = 30

# TrackingMore delivery_status → emoji; also the order of the /summary counts.
STATUS_EMOJI = {
    "pending": "⏳",
    "notfound": "🔎",
    "inforeceived": "📝",
    "transit": "🚚",
    "pickup": "🛵",
    "delivered": "✅",
    "undelivered": "⚠️",
    "exception": "🚨",
    "expired": "⌛",
}
UNKNOWN_STATUS_EMOJI = "📦"


def status_emoji(status: str | None) -> str:
    return STATUS_EMOJI.get(status or "", UNKNOWN_STATUS_EMOJI)


def status_with_emoji(t: Translator, status: str | None) -> Html:
    return Html(f"{status_emoji(status)} {t.status(status)}")


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
    notice = item.notice
    status = notice.status
    lines = [
        f"{status_emoji(status)} {title(t, item.code, item.label, item.courier)}",
        t("notify.status", status=Html(t.status(status))),
    ]
    events = notice.events
    if len(events) == 1:
        lines.extend(_event_block(t, events[0]))
    else:
        lines.extend(_event_bullet(t, event) for event in events)
    more = notice.more_events
    if more:
        lines.append(t.plural("notify.more_events", more))
    if item.chat_type != "private" and status in ATTENTION_STATUSES and item.added_by:
        lines.append(t("notify.mention", who=mention(item.added_by, item.added_by_name)))
    return fit(join_lines(lines), t)


def _event_block(t: Translator, event: NoticeEvent) -> list[str]:
    """The one new event: its description, then where and when."""
    lines = [escape(event.description)]
    where_when = _where_when(t, event)
    if where_when:
        lines.append(where_when)
    return lines


def _where_when(t: Translator, event: NoticeEvent) -> str:
    parts = []
    if event.location:
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
    lines = [
        f"{status_emoji(shipment.status)} {title(t, shipment.code, item.label, shipment.courier)}",
        t("status.courier", courier=shipment.courier),
        t("status.current", status=Html(t.status(shipment.status))),
    ]
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
    status = f" — {t.status(event.status)}" if event.status else ""
    where = f"\n    📍 {escape(event.location)}" if event.location else ""
    return f"🕒 <b>{escape(when)}</b>{status}\n    {escape(event.description)}{where}"
