"""Commands for the bot's administrators (ADMIN_USER_IDS)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update

from bot.core.times import today
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
    last_good = (
        datetime.fromtimestamp(poll.last_success_wallclock, UTC)
        if poll.last_success_wallclock
        else None
    )
    text = stats.stats(
        t,
        totals,
        usage,
        last_good_poll=last_good,
        carrier_problem=poll.last_error if poll.health != CarrierHealth.OK else "",
        sent=services.notifier.sent_count,
        given_up=services.notifier.failed_count,
    )
    await reply(update, text)
