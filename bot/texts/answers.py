"""The answers to /track, pasted codes and imported files: one line per code, or — for many
codes at once — counts of added / already followed / refused with every refusal's reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.codefile import RejectedRow, RowRefusal
from bot.core.codes import Refusal, Rejected
from bot.texts.couriers import courier_name
from bot.texts.i18n import Html, Translator
from bot.texts.links import code_html, plain_code
from bot.texts.message import fit, join_lines
from bot.texts.shipments import delivery_lines, status_with_emoji, title
from bot.tracking.registrar import PendingReason
from bot.tracking.tracker import FollowOutcome, FollowResult

BULK_SUMMARY_ABOVE = 10  # more lines than this get counts instead of one answer per line
MAX_ADDED_LISTED = 10  # a bulk summary names the added shipments only up to this many
# Why a code waits for its registration, as the chat is told: the service not answering
# (it sorts itself out), or refusing the bot's account (the owner must act; the quota renews).
_PENDING_LINE = {
    PendingReason.UNREACHABLE: "track.added_pending",
    PendingReason.ACCOUNT_REFUSED: "track.added_account_refused",
    PendingReason.QUOTA: "track.added_quota",
}
_PENDING_NOTE = {
    PendingReason.UNREACHABLE: "bulk.pending",
    PendingReason.ACCOUNT_REFUSED: "bulk.pending_account_refused",
    PendingReason.QUOTA: "bulk.pending_quota",
}


_FOLLOWED_BEFORE = (FollowOutcome.ALREADY, FollowOutcome.MOVED)


def follow_results(
    t: Translator,
    results: Sequence[FollowResult],
    rejected: Sequence[Rejected],
    overflow: int,
    *,
    max_codes: int,
    max_shipments: int,
) -> Html:
    """One line per code read from a message, or a bulk summary when they are many;
    `overflow` codes beyond `max_codes` were not read at all."""
    overflow_line = t("track.overflow", limit=max_codes, count=overflow) if overflow else None
    if len(results) + len(rejected) > BULK_SUMMARY_ABOVE:
        footer = [overflow_line] if overflow_line else []
        return bulk_summary(t, results, rejected, max_shipments=max_shipments, footer=footer)
    lines = [_follow_line(t, r, max_shipments) for r in results]
    lines.extend(_rejected_line(t, r) for r in rejected)
    if overflow_line:
        lines.append(overflow_line)
    return fit(join_lines(lines), t)


def _follow_line(t: Translator, result: FollowResult, max_shipments: int) -> str:
    entry = result.entry
    name = title(t, entry.code, entry.label, entry.courier)
    if result.outcome == FollowOutcome.OVER_LIMIT:
        return t("track.over_limit", code=code_html(entry.code, entry.courier), limit=max_shipments)
    if result.outcome == FollowOutcome.REFUSED_BY_CARRIER:
        return t(
            "track.refused_by_carrier",
            code=plain_code(entry.code),
            courier=courier_name(entry.courier),
        )
    if result.pending_registration:
        return t(_PENDING_LINE[_reason(result)], title=name)
    shipment = result.shipment
    status = (
        status_with_emoji(t, shipment.status, shipment.substatus)
        if shipment
        else status_with_emoji(t, None)
    )
    key = {FollowOutcome.ADDED: "track.added", FollowOutcome.MOVED: "track.moved_topic"}.get(
        result.outcome, "track.already"
    )
    line = t(key, title=name, status=status)
    if shipment:
        more = delivery_lines(t, shipment.status, shipment.expected_delivery, shipment.signed_by)
        line = Html("\n".join([line, *more]))
    if entry.label_truncated:
        line = Html(f"{line}\n{t('track.label_truncated')}")
    return line


def _rejected_line(t: Translator, rejected: Rejected) -> str:
    key = {
        Refusal.BAD_CHECK_DIGIT: "track.bad_check_digit",
        Refusal.BAD_COURIER: "track.bad_courier",
    }.get(rejected.reason, "track.not_a_code")
    return t(key, text=plain_code(rejected.text))


# --- many codes at once: pasted lines and imported files ------------------------------------


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
    added shipments themselves when they are few. `rows` numbers a file's entries
    ((courier, code) → row), so a refusal by TrackingMore names its row like the others."""
    added = [r for r in results if r.outcome == FollowOutcome.ADDED]
    by_carrier = [r for r in results if r.outcome == FollowOutcome.REFUSED_BY_CARRIER]
    over_limit = sum(r.outcome == FollowOutcome.OVER_LIMIT for r in results)
    refused = len(rejected) + more_rejected + len(by_carrier) + over_limit
    lines: list[str] = [
        t.plural("bulk.header", len(results) + len(rejected) + more_rejected),
        t(
            "bulk.counts",
            added=len(added),
            already=sum(r.outcome in _FOLLOWED_BEFORE for r in results),
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
    return fit(join_lines(lines), t)


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
    reason = t("bulk.reason.refused_by_carrier", courier=courier_name(entry.courier))
    text = plain_code(entry.code)
    # The courier as the file wrote it may have been a name ("SDA") that became its code.
    row = rows.get((entry.courier, entry.code))
    if row is None:
        row = next((r for (_courier, code), r in rows.items() if code == entry.code), None)
    if row is None:
        return t("bulk.refused_text", text=text, reason=reason)
    return t("bulk.refused_row", row=row, text=text, reason=reason)


def _added_item(t: Translator, result: FollowResult) -> str:
    entry = result.entry
    name = title(t, entry.code, entry.label, entry.courier)
    if result.pending_registration or result.shipment is None:
        return f"• {name}"
    shipment = result.shipment
    return f"• {name} — {status_with_emoji(t, shipment.status, shipment.substatus)}"


def _reason(result: FollowResult) -> PendingReason:
    return result.pending_reason or PendingReason.UNREACHABLE


def _bulk_notes(t: Translator, results: Sequence[FollowResult]) -> list[str]:
    """Shipments the tracking service will register later (one note per reason), and names
    that were cut."""
    pending: dict[PendingReason, int] = {}
    for result in results:
        if result.pending_registration:
            pending[_reason(result)] = pending.get(_reason(result), 0) + 1
    truncated = sum(
        r.entry.label_truncated
        for r in results
        if r.outcome in (FollowOutcome.ADDED, *_FOLLOWED_BEFORE)
    )
    notes: list[str] = [
        t.plural(_PENDING_NOTE[reason], count)
        for reason in PendingReason
        if (count := pending.get(reason, 0))
    ]
    if truncated:
        notes.append(t.plural("bulk.labels_truncated", truncated))
    return notes
