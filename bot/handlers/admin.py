"""Commands for the bot's administrators (ADMIN_USER_IDS)."""

from __future__ import annotations

from datetime import datetime, timedelta

from telegram import Update

from bot.core.times import iso_utc, today, utcnow
from bot.handlers.common import chat_translator, reply
from bot.handlers.context import Context
from bot.texts import stats
from bot.tracking.health import CarrierHealth


async def stats_command(update: Update, context: Context) -> None:
    t = await chat_translator(update, context)
    user = update.effective_user
    services = context.services
    if user is None or not services.access.is_admin(user.id):
        await reply(update, t("stats.admins_only"))
        return
    totals = await services.storage.reports.totals()
    usage = await services.storage.reports.api_usage(today())
    usage.update({k: usage.get(k, 0) + n for k, n in services.carrier.stats.unsaved.items()})
    poll = services.poller.state
    # From the database, not this process: with replicas, the one answering may not be the
    # one that polls and sends.
    day_ago = iso_utc(utcnow() - timedelta(days=1))
    sent, given_up = await services.storage.reports.deliveries_since(day_ago)
    polled_at = await services.storage.reports.last_poll()
    last_good = datetime.fromisoformat(polled_at) if polled_at else None
    text = stats.stats(
        t,
        totals,
        usage,
        last_good_poll=last_good,
        carrier_problem=poll.last_error if poll.health != CarrierHealth.OK else "",
        sent=sent,
        given_up=given_up,
    )
    await reply(update, text)
