"""The tracking desk's reports: the /export CSV, the /summary text and the daily digest.

Pure functions over `storage.DeskRow`s and a given "now", no I/O. Texts are built from
`locales/` keys like the rest of `bot.texts`.

Two thresholds of days without movement: `attention_after_days` (the STALE_DAYS setting, 7 by
default) puts a shipment in "needs attention"; `LONG_IDLE_DAYS` (30) words it as stale (🕸)
rather than only without movement (💤).
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.deadlines import pickup_deadline
from bot.core.shipments import READY_FOR_PICKUP, Status, shown_status
from bot.core.times import ROME, parse_iso_utc
from bot.storage import DeskRow
from bot.texts.couriers import courier_name
from bot.texts.i18n import Html, Translator, escape
from bot.texts.message import fit
from bot.texts.shipments import STATUS_EMOJI, local_time, repeats_status, status_emoji, title

LONG_IDLE_DAYS = 30  # idle this long, a shipment is called stale ("summary.stale", 🕸)
DIGEST_WINDOW = timedelta(hours=24)
MAX_LISTED_PER_SECTION = 15  # shipments named per section of one message; the rest is counted
IDLE_EMOJI = "💤"
LONG_IDLE_EMOJI = "🕸"
REFUSED_EMOJI = "🚫"
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "code",
    "label",
    "courier",
    "courier_name",  # beside the code, which is what the import reads back
    "status",
    "substatus",
    "last_event",
    "last_event_time",
    "added_by",
    "added_at",
    "delivered_at",
    "archived",
    "expected_delivery",  # ISO date
    "signed_by",
    "transit_days",
)


# --- times ---------------------------------------------------------------------------------


def _aware_time(value: str | None) -> datetime | None:
    """A stored time as an aware datetime: UTC ones carry their offset, naive ones are Rome."""
    moment = parse_iso_utc(value)
    if moment is None:
        return None
    return moment.replace(tzinfo=ROME) if moment.tzinfo is None else moment


def spreadsheet_time(value: str | None) -> str:
    moment = _aware_time(value)
    return moment.astimezone(ROME).strftime("%Y-%m-%d %H:%M") if moment else ""


def last_movement(row: DeskRow) -> datetime | None:
    """The newest event's time, or when the chat added the shipment if it has none."""
    return _aware_time(row.latest_event_at) or _aware_time(row.added_at)


def idle_days(row: DeskRow, now: datetime) -> int:
    moved = last_movement(row)
    return max(0, (now - moved).days) if moved else 0


# --- what needs attention -------------------------------------------------------------------


class Reason(StrEnum):
    EXCEPTION = Status.EXCEPTION.value
    UNDELIVERED = Status.UNDELIVERED.value
    READY_FOR_PICKUP = READY_FOR_PICKUP  # waiting at a post office: someone has to go
    REFUSED = "refused"
    EXPIRED = Status.EXPIRED.value
    NO_MOVEMENT = "no_movement"


_REASON_ORDER = tuple(Reason)


@dataclass(frozen=True)
class AttentionItem:
    row: DeskRow
    reason: Reason
    idle_days: int
    long_idle: bool  # no movement for LONG_IDLE_DAYS or more: "stale"


def _shown(row: DeskRow) -> str:
    return shown_status(row.status, row.substatus)


def _reason(row: DeskRow, idle: int, attention_after_days: int) -> Reason | None:
    if row.refused:
        return Reason.REFUSED
    shown = _shown(row)
    if shown in (Reason.EXCEPTION, Reason.UNDELIVERED, Reason.READY_FOR_PICKUP, Reason.EXPIRED):
        return Reason(shown)
    if row.status != Status.DELIVERED and idle >= attention_after_days:
        return Reason.NO_MOVEMENT
    return None


def needs_attention(
    rows: Iterable[DeskRow], now: datetime, attention_after_days: int
) -> list[AttentionItem]:
    """Exceptions, failed deliveries, parcels to collect, refused and expired numbers, and
    shipments with no movement for `attention_after_days`; the gravest first, then the
    longest idle."""
    items = []
    for row in rows:
        idle = idle_days(row, now)
        reason = _reason(row, idle, attention_after_days)
        if reason is not None:
            long_idle = idle >= LONG_IDLE_DAYS and row.status != Status.DELIVERED
            items.append(AttentionItem(row, reason, idle, long_idle))
    items.sort(key=lambda item: (_REASON_ORDER.index(item.reason), -item.idle_days))
    return items


# --- /summary ------------------------------------------------------------------------------


def _status_or_refused(row: DeskRow) -> str:
    return Reason.REFUSED.value if row.refused else _shown(row)


def _status_name(t: Translator, key: str) -> Html:
    return t("status.refused") if key == Reason.REFUSED else t.status(key or None)


def _status_rank(key: str) -> tuple[int, str]:
    order = list(STATUS_EMOJI)
    return (order.index(key), "") if key in order else (len(order), key)


def status_counts(t: Translator, rows: Sequence[DeskRow]) -> list[Html]:
    counts = Counter(_status_or_refused(row) for row in rows)
    return [
        t(
            "summary.count_line",
            emoji=REFUSED_EMOJI if key == Reason.REFUSED else status_emoji(key),
            status=_status_name(t, key),
            count=count,
        )
        for key, count in sorted(counts.items(), key=lambda pair: _status_rank(pair[0]))
    ]


def _idle_text(t: Translator, days: int) -> Html:
    key = "summary.stale" if days >= LONG_IDLE_DAYS else "summary.no_movement"
    return t.plural(key, days)


def _attention_line(t: Translator, item: AttentionItem, attention_after_days: int) -> str:
    row = item.row
    if item.reason == Reason.NO_MOVEMENT:
        emoji = LONG_IDLE_EMOJI if item.long_idle else IDLE_EMOJI
        why = _idle_text(t, item.idle_days)
    else:
        emoji = REFUSED_EMOJI if item.reason == Reason.REFUSED else status_emoji(item.reason)
        why = _status_name(t, item.reason)
        if item.reason == Reason.READY_FOR_PICKUP:
            why = Html(" · ".join([why, *_pickup_notes(t, row)]))
        if item.idle_days >= attention_after_days:
            why = Html(f"{why} · {_idle_text(t, item.idle_days)}")
    return f"{emoji} {title(t, row.code, row.label, row.courier)}\n    {why}"


def _pickup_notes(t: Translator, row: DeskRow) -> list[str]:
    """Where a parcel waits (its newest event's place) and until when, if the carrier says."""
    notes = [f"📍 {escape(row.event_location)}"] if row.event_location else []
    occurred = _aware_time(row.event_occurred_at)
    deadline = pickup_deadline(row.event_description or "", occurred.date() if occurred else None)
    if deadline is not None:
        notes.append(t("summary.pickup_until", date=t.date(deadline)))
    return notes


def _capped(t: Translator, lines: Sequence[str]) -> list[str]:
    """The first MAX_LISTED_PER_SECTION lines, then "… and N more"."""
    shown = list(lines[:MAX_LISTED_PER_SECTION])
    if len(lines) > MAX_LISTED_PER_SECTION:
        shown.append(t.plural("reports.more", len(lines) - MAX_LISTED_PER_SECTION))
    return shown


def attention_block(
    t: Translator, items: Sequence[AttentionItem], attention_after_days: int
) -> list[str]:
    if not items:
        return []
    lines = [_attention_line(t, item, attention_after_days) for item in items]
    return [t("summary.attention_header", count=len(items)), *_capped(t, lines)]


def summary(
    t: Translator, rows: Sequence[DeskRow], now: datetime, attention_after_days: int
) -> Html:
    """Counts by status, then what needs attention (archived shipments already left out)."""
    if not rows:
        return t("summary.empty")
    items = needs_attention(rows, now, attention_after_days)
    lines: list[str] = [t.plural("summary.header", len(rows)), *status_counts(t, rows), ""]
    lines += attention_block(t, items, attention_after_days) or [t("summary.all_good")]
    return fit("\n".join(lines), t)


# --- the daily digest ------------------------------------------------------------------------


def moved_recently(rows: Iterable[DeskRow], now: datetime) -> list[DeskRow]:
    """Shipments that changed in the last 24 hours, newest change first; muted ones left out."""
    since = now - DIGEST_WINDOW
    moved = [
        row
        for row in rows
        if not row.muted and (changed := _aware_time(row.last_change_at)) and changed >= since
    ]
    return sorted(moved, key=lambda row: _aware_time(row.last_change_at) or now, reverse=True)


def _moved_line(t: Translator, row: DeskRow) -> str:
    shown = _shown(row)
    head = f"{status_emoji(shown)} {title(t, row.code, row.label, row.courier)}"
    name = t.status(shown or None)
    repeated = repeats_status(name, row.event_description or "")
    lines = [head if repeated else f"{head} — {name}"]
    if row.event_description:
        parts = [escape(row.event_description)]
        if row.event_location:
            parts.append(f"📍 {escape(row.event_location)}")
        when = local_time(t, row.event_occurred_at, row.event_raw_time or "")
        if when:
            parts.append(f"🕒 {escape(when)}")
        lines.append("    " + " · ".join(parts))
    return "\n".join(lines)


def digest(
    t: Translator, rows: Sequence[DeskRow], now: datetime, attention_after_days: int
) -> Html | None:
    """What moved in the last 24 hours and what needs attention; a one-line "all quiet" when
    there is neither; None when the chat follows nothing (no digest at all)."""
    if not rows:
        return None
    moved = moved_recently(rows, now)
    items = needs_attention(rows, now, attention_after_days)
    lines: list[str] = [t("digest.header")]
    if not moved and not items:
        lines.append(t.plural("digest.all_quiet", len(rows)))
        return Html("\n".join(lines))
    if moved:
        lines += ["", t("digest.moved_header", count=len(moved))]
        lines += _capped(t, [_moved_line(t, row) for row in moved])
    if items:
        lines += ["", *attention_block(t, items, attention_after_days)]
    return fit("\n".join(lines), t)


# --- /export -------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _plain_text(text: Html) -> str:
    """Telegram HTML without its escapes, for a spreadsheet cell."""
    return html.unescape(str(text))


def _last_event(row: DeskRow) -> str:
    description = row.event_description or ""
    return f"{description} — {row.event_location}" if row.event_location else description


def _export_cells(t: Translator, row: DeskRow) -> list[str]:
    event_time = spreadsheet_time(row.event_occurred_at) or (row.event_raw_time or "")
    return [
        row.code,
        row.label or "",
        row.courier,
        courier_name(row.courier),
        _plain_text(_status_name(t, _status_or_refused(row))),
        row.substatus or "",
        _last_event(row),
        event_time,
        row.added_by_name or "",
        spreadsheet_time(row.added_at),
        spreadsheet_time(row.delivered_at),
        spreadsheet_time(row.archived_at),
        row.expected_delivery or "",
        row.signed_by or "",
        "" if row.transit_days is None else str(row.transit_days),
    ]


def export_csv(t: Translator, rows: Sequence[DeskRow]) -> bytes:
    """UTF-8 with BOM (so Excel reads the accents right), quoted as needed, separated as a
    spreadsheet in the chat's language expects; the header in that language (the import
    understands it back)."""
    buffer = io.StringIO()
    # Excel set to Italian splits CSV files on ";" (the comma is the decimal separator).
    writer = csv.writer(buffer, delimiter=";" if t.language == "it" else ",")
    writer.writerow([_plain_text(t(f"export.column.{name}")) for name in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in _export_cells(t, row)])
    return buffer.getvalue().encode("utf-8-sig")


def export_filename(chat_id: int, now: datetime) -> str:
    return f"postino-{chat_id}-{now.astimezone(ROME):%Y%m%d}.csv"
