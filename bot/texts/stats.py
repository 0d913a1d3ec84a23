"""The admins' /stats: shipments, chats, TrackingMore calls and errors today, the outbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.core.times import parse_iso_utc
from bot.storage import Totals
from bot.texts.i18n import Html, Translator


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
    """`usage` counts today's TrackingMore calls by (endpoint, result); "ok" is a success."""
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
        oldest=_stored_time(t, totals.oldest_pending_at) or "—",
        sent=sent,
        given_up=given_up,
    )


def _stored_time(t: Translator, iso: str | None) -> str:
    """A time stored as UTC ISO text, local and in the chat's language ("" when unset)."""
    moment = parse_iso_utc(iso)
    return t.datetime(moment) if moment else ""
