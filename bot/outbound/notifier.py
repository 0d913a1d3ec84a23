"""The sender: drains the outbox into Telegram within its rate limits.

A row is marked sent only after Telegram accepted the message, so a crash repeats at most
the messages in flight and loses none. Chats are served concurrently (PTB's AIORateLimiter
holds the global 30/s and the 20/min per group); messages to one chat go one after another
at most one per second. Telegram's refusals are handled per kind: flood control waits,
a blocked bot pauses the chat, a migrated group moves, a formatting error falls back to
plain text, anything else is retried with backoff up to a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta

from bot.core.times import in_window, parse_iso_utc, utcnow
from bot.outbound.delivery import Delivery
from bot.outbound.sender import ChatSender
from bot.storage import Notification, Storage
from bot.texts.i18n import chat_language, translator
from bot.texts.keyboards import shipment_keyboard
from bot.texts.shipments import notification

logger = logging.getLogger(__name__)

IDLE_WAKEUP_SECONDS = 5.0
PRIVATE_CHAT_INTERVAL = 1.0
# Sends started at once. Enough to keep Telegram's 30 messages/s busy, few enough that a
# shutdown only waits for about a second's worth. Groups have their own pool because
# AIORateLimiter may hold a group's message for up to a minute (20 per minute per group).
MAX_PRIVATE_IN_FLIGHT = 30
MAX_GROUP_IN_FLIGHT = 50
# The outbox drains in two lanes, private chats and groups: a long private backlog never
# delays the groups' messages, and groups waiting for their allowance never hold the
# private chats back.
LANES = (True, False)  # private?
# Within a lane every chat with messages due is served by a task of its own, so a chat
# with a long queue (a group at 20 a minute) never holds back another chat's messages.
# At most this many chats a lane are served at once (what is held in memory); the lane
# reads the outbox again when it has room for half as many.
MAX_CHATS_SERVED = 500
REFILL_AT = MAX_CHATS_SERVED // 2


def backoff_seconds(attempts: int) -> float:
    """2 s, 4 s, 8 s … capped at one hour."""
    return float(min(3600, 2 * 2 ** max(0, attempts - 1)))


class Notifier:
    def __init__(
        self,
        sender: ChatSender,
        storage: Storage,
        *,
        default_language: str,
        max_attempts: int,
        on_sent: Callable[[Notification], None] | None = None,
    ) -> None:
        self._sender = sender
        self._storage = storage
        self._default_language = default_language
        self._max_attempts = max_attempts
        self._on_sent = on_sent
        self._wakeups = {private: asyncio.Event() for private in LANES}
        self._served: dict[bool, set[int]] = {private: set() for private in LANES}
        self._chat_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_sent: dict[int, float] = {}
        self._private_slots = asyncio.Semaphore(MAX_PRIVATE_IN_FLIGHT)
        self._group_slots = asyncio.Semaphore(MAX_GROUP_IN_FLIGHT)
        self.sent_count = 0
        self.failed_count = 0

    def wake(self) -> None:
        for event in self._wakeups.values():
            event.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self, grace_seconds: float = 3.0) -> None:
        """Let the sends in flight finish (bounded), then stop."""
        self._stopping = True
        self.wake()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            logger.warning("notifier did not finish in %.0f s; cancelling", grace_seconds)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        except Exception:
            logger.exception("notifier stopped with an error")

    async def _run(self) -> None:
        try:
            await asyncio.gather(*(self._run_lane(private) for private in LANES))
            # Stopping: the chats being served finish the message in hand.
            await asyncio.gather(*self._chat_tasks, return_exceptions=True)
        finally:
            for task in self._chat_tasks:
                task.cancel()
            await asyncio.gather(*self._chat_tasks, return_exceptions=True)

    async def _run_lane(self, private: bool) -> None:
        wakeup = self._wakeups[private]
        while not self._stopping:
            wakeup.clear()  # before reading: a wake-up during the read is not lost
            try:
                started = await self._serve_due(private)
            except Exception:
                logger.exception("notifier cycle failed; retrying shortly")
                started = False
            if self._stopping:
                break
            if not started:
                await self._sleep_until_woken(private)

    async def _sleep_until_woken(self, private: bool) -> None:
        delay = IDLE_WAKEUP_SECONDS
        served = self._served[private]
        if len(served) < MAX_CHATS_SERVED:
            due = await self._storage.outbox.next_notification_due(
                private=private, excluding=served
            )
            if due is not None:
                seconds = ((parse_iso_utc(due) or utcnow()) - utcnow()).total_seconds()
                delay = min(delay, max(0.05, seconds))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeups[private].wait(), delay)

    async def _serve_due(self, private: bool) -> bool:
        """Start serving the chats of this lane that have messages due and are not being
        served yet; returns whether any was started."""
        served = self._served[private]
        room = MAX_CHATS_SERVED - len(served)
        if room <= 0:
            return False
        due = await self._storage.outbox.due_notifications(room, private=private, excluding=served)
        if not due:
            return False
        self._forget_paced()
        by_chat: dict[int, list[Notification]] = defaultdict(list)
        for item in due:
            by_chat[item.chat_id].append(item)
        for chat_id, items in by_chat.items():
            served.add(chat_id)
            task = asyncio.create_task(self._deliver_chat(items), name=f"send-{chat_id}")
            self._chat_tasks.add(task)
            task.add_done_callback(functools.partial(self._chat_served, private, chat_id))
        return True

    def _chat_served(self, private: bool, chat_id: int, task: asyncio.Task[None]) -> None:
        self._chat_tasks.discard(task)
        served = self._served[private]
        served.discard(chat_id)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("sending to chat %s failed", chat_id, exc_info=error)
        # The chat's next messages, if any, are read with the next chats to serve.
        if len(served) <= REFILL_AT:
            self._wakeups[private].set()

    async def _deliver_chat(self, items: Sequence[Notification]) -> None:
        for item in items:
            if self._stopping:
                return
            if not item.following:
                await self._storage.outbox.mark_failed(
                    item.id, "chat no longer follows the shipment"
                )
                continue
            await self._pace(item)
            slots = self._private_slots if item.chat_type == "private" else self._group_slots
            async with slots:
                if self._stopping:
                    return  # not started: it stays queued for the next run
                if not await self._deliver(item, item.chat_id):
                    return  # the chat is paused, moved or flooded: the rest waits

    def _forget_paced(self) -> None:
        """Drop the send times that no longer hold a chat back: kept, they would grow by one
        for every private chat ever messaged."""
        horizon = time.monotonic() - PRIVATE_CHAT_INTERVAL
        self._last_sent = {chat: at for chat, at in self._last_sent.items() if at > horizon}

    async def _pace(self, item: Notification) -> None:
        if item.chat_type != "private":
            return  # groups are paced by AIORateLimiter (20/min)
        wait = self._last_sent.get(item.chat_id, 0.0) + PRIVATE_CHAT_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _deliver(self, item: Notification, chat_id: int) -> bool:
        """Send one notification; returns whether the chat can take the next one now."""
        language = chat_language(
            item.chat_language, item.chat_user_language, item.chat_type, self._default_language
        )
        t = translator(language)
        status = item.notice.status
        outcome = await self._sender.send(
            chat_id,
            notification(t, item),
            keyboard=shipment_keyboard(t, item.shipment_id, muted=False, status=status),
            # Quiet hours make it silent; what needs the person (an exception, a failed
            # delivery, a parcel to collect) still rings.
            silent=not item.notice.needs_person and in_window(item.quiet_start, item.quiet_end),
        )
        match outcome.delivery:
            case Delivery.SENT:
                await self._mark_sent(item, chat_id)
                return True
            case Delivery.FLOODED:
                retry_at = utcnow() + timedelta(seconds=outcome.retry_after)
                await self._storage.outbox.postpone_chat(item.id, chat_id, retry_at, outcome.error)
                logger.info(
                    "flood control for chat %s: retrying in %.0f s", chat_id, outcome.retry_after
                )
                return False
            case Delivery.MOVED:
                assert outcome.new_chat_id is not None
                return await self._deliver(item, outcome.new_chat_id)
            case Delivery.CHAT_GONE:
                return False
        await self._retry_or_give_up(item, outcome.error)
        return True

    async def _mark_sent(self, item: Notification, chat_id: int) -> None:
        self._last_sent[chat_id] = time.monotonic()
        await self._storage.outbox.mark_sent(item.id)
        self.sent_count += 1
        if self._on_sent is not None:
            self._on_sent(item)

    async def _retry_or_give_up(self, item: Notification, error: str) -> None:
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            self.failed_count += 1
            await self._storage.outbox.mark_failed(item.id, error)
            logger.error(
                "giving up notification %d to chat %s after %d attempts: %s",
                item.id,
                item.chat_id,
                attempts,
                error,
            )
            return
        delay = backoff_seconds(attempts)
        await self._storage.outbox.mark_retry(item.id, utcnow() + timedelta(seconds=delay), error)
        logger.warning(
            "notification %d to chat %s failed (%s); retry %d in %.0f s",
            item.id,
            item.chat_id,
            error,
            attempts,
            delay,
        )
