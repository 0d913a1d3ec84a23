"""Every text the bot sends, built from `locales/` keys in one language (Telegram HTML)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.codefile import RejectedRow, RowRefusal
from bot.core.codes import DEFAULT_COURIER, Refusal, Rejected
from bot.core.lifecycle import NoticeEvent
from bot.core.shipments import ATTENTION_STATUSES, Status
from bot.core.times import parse_iso_utc
from bot.storage import Event, Followed, Notification, Shipment, Totals
from bot.texts.i18n import Html, Translator, escape
from bot.tracking.tracker import FollowOutcome, FollowResult

MAX_MESSAGE_LENGTH = 4096
MAX_TIMELINE_EVENTS = 30
LIST_PAGE_SIZE = 10
START_TRACK_PREFIX = "track_"
# /list shows what needs attention first, delivered last.
LIST_ORDER = (
    "exception",
    "undelivered",
    "expired",
    "pickup",
    "transit",
    "inforeceived",
    "notfound",
    "pending",
    "",
    "delivered",
)

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


@dataclass
class _Links:
    bot_username: str | None = None


_links = _Links()
CARRIER_PAGES = {
    DEFAULT_COURIER: (
        "poste.it",
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{code}",
    )
}


def set_bot_username(username: str | None) -> None:
    """Known once the bot has introduced itself to Telegram (getMe)."""
    _links.bot_username = username


def deep_link(code: str, courier: str = DEFAULT_COURIER) -> str | None:
    """`t.me/<bot>?start=track_<CODE>[_<courier>]`: one tap to follow the code."""
    if not _links.bot_username:
        return None
    suffix = "" if courier == DEFAULT_COURIER else f"_{courier}"
    return f"https://t.me/{_links.bot_username}?start={START_TRACK_PREFIX}{code}{suffix}"


def parse_start_payload(payload: str) -> tuple[str, str] | None:
    """The (code, courier) of a deep link's start payload, or None."""
    if not payload.startswith(START_TRACK_PREFIX):
        return None
    code, _, courier = payload[len(START_TRACK_PREFIX) :].partition("_")
    return code, courier or DEFAULT_COURIER


def plain_code(text: str) -> Html:
    """Monospace, without a link: for what is not (or not yet) a followable code."""
    return Html(f"<code>{escape(text)}</code>")


def code_html(code: str, courier: str = DEFAULT_COURIER) -> Html:
    """The code, linked to following it in one tap when the bot's name is known."""
    link = deep_link(code, courier)
    if link is None:
        return plain_code(code)
    return Html(f'<a href="{html.escape(link)}">{escape(code)}</a>')


def carrier_page(t: Translator, code: str, courier: str) -> Html | None:
    page = CARRIER_PAGES.get(courier)
    if page is None:
        return None
    site, url = page
    link = Html(f'<a href="{html.escape(url.format(code=code))}">{escape(site)}</a>')
    return t("shipment.carrier_page", site=link)


def title(t: Translator, code: str, label: str | None, courier: str = DEFAULT_COURIER) -> Html:
    """`<b>label</b> · CODE`, or just the code."""
    if label:
        return t("shipment.title_with_label", label=label, code=code_html(code, courier))
    return code_html(code, courier)


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
    return fit(_join(lines), t)


def mention(user_id: int, name: str | None) -> Html:
    return Html(f'<a href="tg://user?id={int(user_id)}">{escape(name or str(user_id))}</a>')


def _event_block(t: Translator, event: NoticeEvent) -> list[str]:
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
    when = local_time(t, event.occurred_at, event.raw_time)
    text = escape(event.description)
    where = f" ({escape(event.location)})" if event.location else ""
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
    overflow_line = t("track.overflow", limit=max_codes, count=overflow) if overflow else None
    if len(results) + len(rejected) > BULK_SUMMARY_ABOVE:
        footer = [overflow_line] if overflow_line else []
        return bulk_summary(t, results, rejected, max_shipments=max_shipments, footer=footer)
    lines = [_follow_line(t, r, max_shipments) for r in results]
    lines.extend(_rejected_line(t, r) for r in rejected)
    if overflow_line:
        lines.append(overflow_line)
    return fit(_join(lines), t)


def _follow_line(t: Translator, result: FollowResult, max_shipments: int) -> str:
    entry = result.entry
    name = title(t, entry.code, entry.label, entry.courier)
    if result.outcome == FollowOutcome.OVER_LIMIT:
        return t("track.over_limit", code=code_html(entry.code, entry.courier), limit=max_shipments)
    if result.outcome == FollowOutcome.REFUSED_BY_CARRIER:
        return t("track.refused_by_carrier", code=plain_code(entry.code), courier=entry.courier)
    if result.pending_registration:
        return t("track.added_pending", title=name)
    shipment = result.shipment
    status = _status_with_emoji(t, shipment.status if shipment else None)
    key = "track.added" if result.outcome == FollowOutcome.ADDED else "track.already"
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
    return t(key, text=plain_code(rejected.text))


# --- many codes at once: pasted lines and imported files ------------------------------------

BULK_SUMMARY_ABOVE = 10  # more lines than this get counts instead of one answer per line
MAX_ADDED_LISTED = 10


def bulk_summary(
    t: Translator,
    results: Sequence[FollowResult],
    rejected: Sequence[Rejected | RejectedRow],
    *,
    max_shipments: int,
    more_rejected: int = 0,
    footer: Sequence[str] = (),
    rows: Mapping[tuple[str, str], int] | None = None,
) -> Html:
    """Counts of added / already followed / refused, every refusal with its reason, and the
    added shipments themselves when they are few. `rows` numbers a file's entries, so a
    refusal by TrackingMore names its row like the others."""
    added = [r for r in results if r.outcome == FollowOutcome.ADDED]
    by_carrier = [r for r in results if r.outcome == FollowOutcome.REFUSED_BY_CARRIER]
    over_limit = sum(r.outcome == FollowOutcome.OVER_LIMIT for r in results)
    refused = len(rejected) + more_rejected + len(by_carrier) + over_limit
    lines = [
        t.plural("bulk.header", len(results) + len(rejected) + more_rejected),
        t(
            "bulk.counts",
            added=len(added),
            already=sum(r.outcome == FollowOutcome.ALREADY for r in results),
            refused=refused,
        ),
    ]
    if refused:
        lines += ["", t("bulk.refused_header"), *(_refused_item(t, r) for r in rejected)]
        if more_rejected:
            lines.append(t.plural("bulk.more_refused", more_rejected))
        lines += [_refused_by_carrier_item(t, r, rows or {}) for r in by_carrier]
        if over_limit:
            lines.append(t.plural("bulk.over_limit", over_limit, limit=max_shipments))
    if 0 < len(added) <= MAX_ADDED_LISTED:
        lines += ["", t("bulk.added_header"), *(_added_item(t, r) for r in added)]
    notes = [*_bulk_notes(t, results), *footer]
    if notes:
        lines += ["", *notes]
    return fit(_join(lines), t)


def _refused_item(t: Translator, rejected: Rejected | RejectedRow) -> Html:
    if isinstance(rejected, RejectedRow) and rejected.reason == RowRefusal.DUPLICATE:
        reason = t("bulk.reason.duplicate", first=rejected.first_row)
    else:
        reason = t(f"bulk.reason.{rejected.reason.value}")
    text = plain_code(rejected.text)
    if isinstance(rejected, RejectedRow):
        return t("bulk.refused_row", row=rejected.row, text=text, reason=reason)
    return t("bulk.refused_text", text=text, reason=reason)


def _refused_by_carrier_item(
    t: Translator, result: FollowResult, rows: Mapping[tuple[str, str], int]
) -> Html:
    entry = result.entry
    reason = t("bulk.reason.refused_by_carrier", courier=entry.courier)
    text = plain_code(entry.code)
    row = rows.get((entry.courier, entry.code))
    if row is None:
        return t("bulk.refused_text", text=text, reason=reason)
    return t("bulk.refused_row", row=row, text=text, reason=reason)


def _added_item(t: Translator, result: FollowResult) -> str:
    entry = result.entry
    name = title(t, entry.code, entry.label, entry.courier)
    if result.pending_registration or result.shipment is None:
        return f"• {name}"
    return f"• {name} — {_status_with_emoji(t, result.shipment.status)}"


def _bulk_notes(t: Translator, results: Sequence[FollowResult]) -> list[str]:
    pending = sum(r.pending_registration for r in results)
    truncated = sum(
        r.entry.label_truncated
        for r in results
        if r.outcome in (FollowOutcome.ADDED, FollowOutcome.ALREADY)
    )
    notes = [t.plural("bulk.pending", pending)] if pending else []
    if truncated:
        notes.append(t.plural("bulk.labels_truncated", truncated))
    return notes


# --- /list and /status ----------------------------------------------------------------------


def _list_rank(item: Followed) -> tuple[int, str]:
    status = item.shipment.status or ""
    rank = LIST_ORDER.index(status) if status in LIST_ORDER else LIST_ORDER.index("")
    return rank, item.added_at


@dataclass(frozen=True)
class Page:
    text: Html
    keyboard: InlineKeyboardMarkup | None
    number: int  # 0-based, clamped to the pages that exist


def followed_page(
    t: Translator, followed: Sequence[Followed], page: int, *, archived: bool = False
) -> Page:
    """One page of /list (or /archived): grouped by status, what needs attention first."""
    if not followed:
        return Page(t("archived.empty" if archived else "list.empty"), None, 0)
    ordered = sorted(followed, key=_list_rank)
    pages = max(1, -(-len(ordered) // LIST_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = ordered[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE]
    header = t.plural("archived.header" if archived else "list.header", len(ordered))
    lines = [header]
    if pages > 1:
        lines.append(t("list.page", page=page + 1, pages=pages))
    counts: dict[str, int] = {}
    for item in ordered:
        counts[item.shipment.status or ""] = counts.get(item.shipment.status or "", 0) + 1
    group = None
    for item in shown:
        status = item.shipment.status or ""
        if status != group:
            group = status
            lines += [
                "",
                f"{status_emoji(status)} <b>{t.status(status or None)}</b> ({counts[status]})",
            ]
        lines.append(f"• {title(t, item.shipment.code, item.label, item.shipment.courier)}")
        lines.append(f"    {_moved(t, item.shipment)}")
    action = "ar" if archived else "d"
    rows = [
        [
            InlineKeyboardButton(
                _button_name(item, "♻️ " if archived else ""),
                callback_data=f"{action}:{item.shipment.id}",
            )
        ]
        for item in shown
    ]
    nav = []
    prefix = "la" if archived else "l"
    if page > 0:
        nav.append(InlineKeyboardButton(f"◀️ {page}/{pages}", callback_data=f"{prefix}:{page - 1}"))
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(f"{page + 2}/{pages} ▶️", callback_data=f"{prefix}:{page + 1}")
        )
    if nav:
        rows.append(nav)
    return Page(fit(_join(lines), t), InlineKeyboardMarkup(rows), page)


def _button_name(item: Followed, prefix: str) -> str:
    name = item.label or item.shipment.code
    return f"{prefix or status_emoji(item.shipment.status) + ' '}{name}"[:60]


def _moved(t: Translator, shipment: Shipment) -> Html:
    if shipment.refused:
        return t("status.refused")
    if shipment.latest_event_at:
        return t("list.moved", when=local_time(t, shipment.latest_event_at))
    return t("list.no_movement")


def shipment_keyboard(
    t: Translator, shipment_id: int, *, muted: bool, status: str | None
) -> InlineKeyboardMarkup:
    """The buttons under a notification or a /status answer."""
    sid = shipment_id
    rows = [
        [
            InlineKeyboardButton(t("button.details"), callback_data=f"d:{sid}"),
            InlineKeyboardButton(t("button.refresh"), callback_data=f"rf:{sid}"),
        ],
        [
            InlineKeyboardButton(t("button.rename"), callback_data=f"rn:{sid}"),
            InlineKeyboardButton(
                t("button.unmute" if muted else "button.mute"), callback_data=f"m:{sid}"
            ),
            InlineKeyboardButton(t("button.remove"), callback_data=f"rm:{sid}"),
        ],
    ]
    if status == Status.EXPIRED:
        rows.append([InlineKeyboardButton(t("button.retrack"), callback_data=f"rt:{sid}")])
    return InlineKeyboardMarkup(rows)


def remove_confirmation(t: Translator, shipment_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("button.remove_yes"), callback_data=f"rmy:{shipment_id}"),
                InlineKeyboardButton(t("button.remove_no"), callback_data=f"rmn:{shipment_id}"),
            ]
        ]
    )


def timeline(t: Translator, item: Followed, events: Sequence[Event]) -> Html:
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
