"""The daily digest: every chat that chose a time (`/digest 08:30`) gets one message a day.

`Digests.send_due` runs every DIGEST_CHECK_SECONDS (the job is scheduled by `bot.app`) and
sends to the chats that are due: their time (Europe/Rome) has come today and they have not
had today's digest. A chat's day is marked only after Telegram accepted the message, so a
restart neither skips nor repeats a digest; if the bot was down at the chosen time, the
digest comes as soon as it is up again that day.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime

from bot.core.times import rome_clock, utcnow
from bot.outbound.delivery import Delivery
from bot.outbound.sender import ChatSender
from bot.storage import DigestChat, Storage
from bot.texts import reports
from bot.texts.i18n import chat_language, translator

logger = logging.getLogger(__name__)

# How late a digest may come after its minute. The check is one small query on chats.
DIGEST_CHECK_SECONDS = 30
# Sends of one chat's digest that may fail in a day before it is given up until tomorrow.
MAX_ATTEMPTS_PER_DAY = 5


class Digests:
    def __init__(
        self, sender: ChatSender, storage: Storage, *, default_language: str, stale_days: int
    ) -> None:
        self._sender = sender
        self._storage = storage
        self._default_language = default_language
        self._stale_days = stale_days
        # One check at a time: the repeating job and the one started by /digest must not
        # both send.
        self._lock = asyncio.Lock()
        self._failures: Counter[tuple[int, str]] = Counter()  # (chat, day) → tries

    async def send_due(self) -> int:
        """Send every digest that is due now; returns how many were sent."""
        async with self._lock:
            now = utcnow()
            clock, day = rome_clock(now)
            for key in [key for key in self._failures if key[1] != day]:
                del self._failures[key]
            sent = 0
            for chat in await self._storage.chats.chats_due_for_digest(clock, day):
                sent += await self._send_digest(chat, now, day)
            return sent

    async def _send_digest(self, chat: DigestChat, now: datetime, day: str) -> int:
        storage = self._storage
        language = chat_language(
            chat.language, chat.user_language, chat.type, self._default_language
        )
        rows = await storage.reports.desk_rows(chat.id, archived=False)
        text = reports.digest(translator(language), rows, now, self._stale_days)
        if text is None:  # the chat follows nothing: no message, and done for today
            await storage.chats.mark_digest_sent(chat.id, day)
            return 0
        outcome = await self._sender.send(chat.id, text)
        if outcome.delivery == Delivery.SENT:
            await storage.chats.mark_digest_sent(chat.id, day)
            self._failures.pop((chat.id, day), None)
            return 1
        if outcome.delivery in (Delivery.FLOODED, Delivery.FAILED):
            logger.warning("digest to chat %s not sent: %s", chat.id, outcome.error)
            await self._count_failure(chat.id, day)
        return 0  # a chat that is gone is paused; a moved one gets it at its new id next check

    async def _count_failure(self, chat_id: int, day: str) -> None:
        self._failures[(chat_id, day)] += 1
        if self._failures[(chat_id, day)] >= MAX_ATTEMPTS_PER_DAY:
            logger.error(
                "giving up today's digest for chat %s after %d tries",
                chat_id,
                MAX_ATTEMPTS_PER_DAY,
            )
            await self._storage.chats.mark_digest_sent(chat_id, day)
            del self._failures[(chat_id, day)]
