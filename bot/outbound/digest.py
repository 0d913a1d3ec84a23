"""The daily digest: every chat that chose a time (`/digest 08:30`) gets one message a day.

A job on PTB's job queue checks every DIGEST_CHECK_SECONDS which chats are due: their time
(Europe/Rome) has come today and they have not had today's digest. A chat's day is marked
only after Telegram accepted the message, so a restart neither skips nor repeats a digest;
if the bot was down at the chosen time, the digest comes as soon as it is up again that day.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import Bot
from telegram.ext import Application, JobQueue

from bot.core.times import ROME, utcnow
from bot.outbound.delivery import Delivery, send_to_chat
from bot.storage import DigestChat, Storage
from bot.texts import reports
from bot.texts.i18n import chat_language, translator

if TYPE_CHECKING:
    from bot.handlers.context import Context, Services

logger = logging.getLogger(__name__)

# How late a digest may come after its minute. The check is one small query on chats.
DIGEST_CHECK_SECONDS = 30
# Sends of one chat's digest that may fail in a day before it is given up until tomorrow.
MAX_ATTEMPTS_PER_DAY = 5
DIGEST_JOB_NAME = "digest"
_STATE_KEY = "digest_state"


@dataclass
class _State:
    # One check at a time: the repeating job and the one started by /digest must not both send.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failures: Counter[tuple[int, str]] = field(default_factory=Counter)  # (chat, day) → tries


def _state(application: Application[Any, Any, Any, Any, Any, Any]) -> _State:
    state: _State = application.bot_data.setdefault(_STATE_KEY, _State())
    return state


def rome_clock(moment: datetime) -> tuple[str, str]:
    """('HH:MM', 'YYYY-MM-DD') of a moment in Italy."""
    local = moment.astimezone(ROME)
    return local.strftime("%H:%M"), local.date().isoformat()


async def send_due_digests(bot: Bot, services: Services, state: _State) -> int:
    """Send every digest that is due now; returns how many were sent."""
    async with state.lock:
        now = utcnow()
        clock, day = rome_clock(now)
        for key in [key for key in state.failures if key[1] != day]:
            del state.failures[key]
        sent = 0
        for chat in await services.storage.chats.chats_due_for_digest(clock, day):
            sent += await _send_digest(bot, services, state, chat, now, day)
        return sent


async def _send_digest(
    bot: Bot, services: Services, state: _State, chat: DigestChat, now: datetime, day: str
) -> int:
    settings, storage = services.settings, services.storage
    language = chat_language(
        chat.language, chat.user_language, chat.type, settings.default_language
    )
    rows = await storage.reports.desk_rows(chat.id, archived=False)
    text = reports.digest(translator(language), rows, now, settings.stale_days)
    if text is None:  # the chat follows nothing: no message, and done for today
        await storage.chats.mark_digest_sent(chat.id, day)
        return 0
    outcome = await send_to_chat(bot, storage, chat.id, text)
    if outcome.delivery == Delivery.SENT:
        await storage.chats.mark_digest_sent(chat.id, day)
        state.failures.pop((chat.id, day), None)
        return 1
    if outcome.delivery in (Delivery.FLOODED, Delivery.FAILED):
        logger.warning("digest to chat %s not sent: %s", chat.id, outcome.error)
        await _count_failure(storage, state, chat.id, day)
    return 0  # a chat that is gone is paused; a moved one gets it at its new id next check


async def _count_failure(storage: Storage, state: _State, chat_id: int, day: str) -> None:
    state.failures[(chat_id, day)] += 1
    if state.failures[(chat_id, day)] >= MAX_ATTEMPTS_PER_DAY:
        logger.error(
            "giving up today's digest for chat %s after %d tries", chat_id, MAX_ATTEMPTS_PER_DAY
        )
        await storage.chats.mark_digest_sent(chat_id, day)
        del state.failures[(chat_id, day)]


async def digest_job(context: Context) -> None:
    await send_due_digests(context.bot, context.services, _state(context.application))


def schedule_digest_job(job_queue: JobQueue[Context]) -> None:
    job_queue.run_repeating(
        digest_job,
        interval=DIGEST_CHECK_SECONDS,
        first=1.0,
        name=DIGEST_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )


def check_digests_now(job_queue: JobQueue[Context] | None) -> None:
    """A digest just set for this very minute need not wait for the next check."""
    if job_queue is not None:
        job_queue.run_once(digest_job, 0)
