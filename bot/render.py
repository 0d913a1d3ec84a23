"""Every text the bot sends, built from `locales/` keys in one language (Telegram HTML)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.codes import Refusal, Rejected
from bot.i18n import Html, Translator, escape
from bot.service import FollowResult, Outcome
from bot.storage import Event, Followed, Notification, Shipment, Totals
from bot.tracking import parse_iso_utc

MAX_MESSAGE_LENGTH = 4096
MAX_TIMELINE_EVENTS = 30

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


def status_emoji(status: str | None) -> str:
    return STATUS_EMOJI.get(status or "", "📦")


def code_html(code: str) -> Html:
    return Html(f"<code>{escape(code)}</code>")


def title(t: Translator, code: str, label: str | None) -> Html:
    """`<b>label</b> · <code>CODE</code>`, or just the code."""
    if label:
        return t("shipment.title_with_label", label=label, code=code_html(code))
    return code_html(code)


def local_time(t: Translator, occurred_at: str | None, raw_time: str = "") -> str:
    moment = datetime.fromisoformat(occurred_at) if occurred_at else None
    return t.datetime(moment) if moment else raw_time


def _join(lines: Sequence[str]) -> Html:
    return Html("\n".join(line for line in lines if line is not None))


def fit(text: str, t: Translator) -> Html:
    """Cut a long text at a line boundary so it fits one Telegram message."""
    if len(text) <= MAX_MESSAGE_LENGTH:
        return Html(text)
    more = str(t("common.truncated"))
    cut = text[: MAX_MESSAGE_LENGTH - len(more) - 1].rsplit("\n", 1)[0]
    return Html(f"{cut}\n{more}")


# --- notifications ----------------------------------------------------------------------


def notification(t: Translator, item: Notification) -> Html:
    payload: Mapping[str, Any] = item.payload
    status = str(payload.get("status") or "")
    lines = [
        f"{status_emoji(status)} {title(t, item.code, item.label)}",
        t("notify.status", status=Html(t.status(status))),
    ]
    events = payload.get("events") or []
    if len(events) == 1:
        lines.extend(_event_block(t, events[0]))
    else:
        lines.extend(_event_bullet(t, event) for event in events)
    more = int(payload.get("more_events") or 0)
    if more:
        lines.append(t.plural("notify.more_events", more))
    return fit(_join(lines), t)


def _event_block(t: Translator, event: Mapping[str, Any]) -> list[str]:
    lines = [escape(event.get("description") or "")]
    where_when = _where_when(t, event)
    if where_when:
        lines.append(where_when)
    return lines


def _where_when(t: Translator, event: Mapping[str, Any]) -> str:
    parts = []
    if event.get("location"):
        parts.append(f"📍 {escape(event['location'])}")
    when = local_time(t, event.get("occurred_at"), event.get("raw_time") or "")
    if when:
        parts.append(f"🕒 {escape(when)}")
    return " · ".join(parts)


def _event_bullet(t: Translator, event: Mapping[str, Any]) -> str:
    when = local_time(t, event.get("occurred_at"), event.get("raw_time") or "")
    text = escape(event.get("description") or "")
    where = f" ({escape(event['location'])})" if event.get("location") else ""
    return f"• {escape(when)} — {text}{where}" if when else f"• {text}{where}"


# --- answers to /track and plain codes ------------------------------------------------------


def follow_results(
    t: Translator,
    results: Sequence[FollowResult],
    rejected: Sequence[Rejected],
    overflow: int,
    *,
    max_codes: int,
    max_shipments: int,
) -> Html:
    lines = [_follow_line(t, r, max_shipments) for r in results]
    lines.extend(_rejected_line(t, r) for r in rejected)
    if overflow:
        lines.append(t("track.overflow", limit=max_codes, count=overflow))
    return fit(_join(lines), t)


def _follow_line(t: Translator, result: FollowResult, max_shipments: int) -> str:
    entry = result.entry
    name = title(t, entry.code, entry.label)
    if result.outcome == Outcome.OVER_LIMIT:
        return t("track.over_limit", code=code_html(entry.code), limit=max_shipments)
    if result.outcome == Outcome.REFUSED_BY_CARRIER:
        return t("track.refused_by_carrier", code=code_html(entry.code), courier=entry.courier)
    if result.pending_registration:
        return t("track.added_pending", title=name)
    shipment = result.shipment
    status = _status_with_emoji(t, shipment.status if shipment else None)
    key = "track.added" if result.outcome == Outcome.ADDED else "track.already"
    line = t(key, title=name, status=status)
    if entry.label_truncated:
        line = Html(f"{line}\n{t('track.label_truncated')}")
    return line


def _status_with_emoji(t: Translator, status: str | None) -> Html:
    return Html(f"{status_emoji(status)} {t.status(status)}")


def _rejected_line(t: Translator, rejected: Rejected) -> str:
    key = {
        Refusal.BAD_CHECK_DIGIT: "track.bad_check_digit",
        Refusal.BAD_COURIER: "track.bad_courier",
    }.get(rejected.reason, "track.not_a_code")
    return t(key, text=code_html(rejected.text))


# --- /list and /status ----------------------------------------------------------------------


def followed_list(t: Translator, followed: Sequence[Followed]) -> Html:
    if not followed:
        return t("list.empty")
    lines = [t.plural("list.header", len(followed)), ""]
    for item in followed:
        lines.append(
            f"{status_emoji(item.shipment.status)} {title(t, item.shipment.code, item.label)}"
        )
        lines.append(f"    {_status_summary(t, item.shipment)}")
    return fit(_join(lines), t)


def _status_summary(t: Translator, shipment: Shipment) -> Html:
    status = t.status(shipment.status) if not shipment.refused else t("status.refused")
    if shipment.latest_event_at:
        moved = local_time(t, shipment.latest_event_at)
        return t("list.status_moved", status=Html(status), when=moved)
    return t("list.status_no_movement", status=Html(status))


def timeline(t: Translator, item: Followed, events: Sequence[Event]) -> Html:
    shipment = item.shipment
    lines = [
        f"{status_emoji(shipment.status)} {title(t, shipment.code, item.label)}",
        t("status.courier", courier=shipment.courier),
        t("status.current", status=Html(t.status(shipment.status))),
        "",
    ]
    if not events:
        lines.append(t("status.no_events"))
    else:
        lines.append(t("status.history"))
        lines.extend(_timeline_line(t, event) for event in events[:MAX_TIMELINE_EVENTS])
        if len(events) > MAX_TIMELINE_EVENTS:
            lines.append(t.plural("notify.more_events", len(events) - MAX_TIMELINE_EVENTS))
    return fit(_join(lines), t)


def _timeline_line(t: Translator, event: Event) -> str:
    when = local_time(t, event.occurred_at, event.raw_time)
    status = f" — {t.status(event.status)}" if event.status else ""
    where = f"\n    📍 {escape(event.location)}" if event.location else ""
    return f"🕒 <b>{escape(when)}</b>{status}\n    {escape(event.description)}{where}"


def last_seen(t: Translator, iso: str | None) -> str:
    moment = parse_iso_utc(iso)
    return t.datetime(moment) if moment else ""


# --- /stats ---------------------------------------------------------------------------------


def stats(
    t: Translator,
    totals: Totals,
    usage: Mapping[tuple[str, str], int],
    *,
    last_good_poll: datetime | None,
    carrier_problem: str,
    sent: int,
    given_up: int,
) -> Html:
    calls = sum(usage.values())
    errors = sum(n for (_, result), n in usage.items() if result != "ok")
    never = str(t("stats.never"))
    carrier = (
        t("stats.carrier_problem", error=carrier_problem)
        if carrier_problem
        else t("stats.carrier_ok")
    )
    return t(
        "stats.text",
        followed=totals.shipments_followed,
        active=totals.shipments_active,
        subscriptions=totals.subscriptions,
        chats=totals.chats,
        paused=totals.chats_paused,
        calls=calls,
        errors=errors,
        last_poll=t.datetime(last_good_poll) if last_good_poll else never,
        carrier=carrier,
        backlog=totals.outbox_backlog,
        oldest=last_seen(t, totals.oldest_pending_at) or "—",
        sent=sent,
        given_up=given_up,
    )
