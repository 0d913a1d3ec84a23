"""The answer to codes added from the page: what was added, what was followed already, what
was refused and why, and the summary the chat would have been told (as plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.message_codes import ParsedCodes
from bot.texts.answers import bulk_summary
from bot.texts.couriers import courier_name
from bot.texts.i18n import Translator
from bot.texts.message import html_to_plain
from bot.tracking.tracker import FollowOutcome, FollowResult

_ALREADY = (FollowOutcome.ALREADY, FollowOutcome.MOVED)


def add_answer(
    t: Translator, parsed: ParsedCodes, results: Sequence[FollowResult], max_shipments: int
) -> dict[str, Any]:
    refused: list[dict[str, str]] = [
        {"text": r.text, "reason": html_to_plain(t(f"bulk.reason.{r.reason.value}"))}
        for r in parsed.rejected
    ]
    for result in results:
        entry = result.entry
        if result.outcome == FollowOutcome.REFUSED_BY_CARRIER:
            reason = t("bulk.reason.refused_by_carrier", courier=courier_name(entry.courier))
            refused.append({"text": entry.code, "reason": html_to_plain(reason)})
        elif result.outcome == FollowOutcome.OVER_LIMIT:
            reason = t("webdesk.over_limit", limit=max_shipments)
            refused.append({"text": entry.code, "reason": html_to_plain(reason)})
    footer = (
        [t("track.overflow", limit=len(parsed.entries), count=parsed.overflow)]
        if parsed.overflow
        else []
    )
    if results or parsed.rejected:
        summary = bulk_summary(
            t, results, parsed.rejected, max_shipments=max_shipments, footer=footer
        )
    else:
        summary = t("webdesk.no_codes")
    added = [r.entry.code for r in results if r.outcome == FollowOutcome.ADDED]
    already = [r.entry.code for r in results if r.outcome in _ALREADY]
    return {
        "added": added,
        "already": already,
        "refused": refused,
        "summary": html_to_plain(summary),
        "headline": headline(t, len(added), len(already), len(refused)) or html_to_plain(summary),
    }


def headline(t: Translator, added: int, already: int, refused: int) -> str:
    """One line for the page's toast: what the codes came to, the nonzero counts only."""
    parts = [
        html_to_plain(t.plural(key, count))
        for key, count in (
            ("webdesk.added", added),
            ("webdesk.already", already),
            ("webdesk.not_added", refused),
        )
        if count
    ]
    return " · ".join(parts)
