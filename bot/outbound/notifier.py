"""The sender: drains the outbox into Telegram within its rate limits.

A row is marked sent only after Telegram accepted the message, so a crash repeats at most
the messages in flight and loses none. Chats are served concurrently (PTB's AIORateLimiter
holds the global 30/s and the 20/min per group); messages to one chat go one after another
at most one per second. Telegram's refusals are handled per kind: flood control waits,
a blocked bot pauses the chat, a migrated group moves, a formatting error falls back to
plain text, anything else is retried with backoff up to a bound (OUTBOX_MAX_ATTEMPTS).
Telegram itself failing (no answer, a timeout, a 5xx) spends no attempt: the sender waits,
with a backoff capped at a minute, until Telegram answers again.

A backlog — a chat's notifications queued while Telegram was unreachable, a flood wait, a
restart — is told as one message per shipment: the rows taken together about one shipment
become one message (`merge_notices`), and are marked sent together once Telegram took it.
The mark is one statement ahead of any other use of the database, so a crash repeats only
the message Telegram was answering. While the database refuses writes nothing is sent (a
message sent but not marked would be sent again and again): the marks owed are kept and
written first when the disk takes writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from bot.core.backlog import merge_notices
from bot.core.times import in_window, parse_iso_utc, utcnow
from bot.outbound.delivery import Delivery, SendOutcome
from bot.outbound.sender import ChatSender, InTopic
from bot.storage import Notification, Storage
from bot.storage.database import StorageWriteError
from bot.texts.i18n import Translator, chat_language, translator
from bot.texts.keyboards import shipment_keyboard
from bot.texts.shipments import notification
from bot.texts.topics import for_general

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
# Telegram unreachable: the wait before trying again, doubling up to this.
TELEGRAM_DOWN_MAX_WAIT = 60.0
# The database refusing writes: how often the marks owed are tried again.
STORAGE_RETRY_SECONDS = 5.0


def backoff_seconds(attempts: int) -> float:
    """2 s, 4 s, 8 s … capped at one hour."""
    return float(min(3600, 2 * 2 ** max(0, attempts - 1)))


def telegram_down_wait(failures: int) -> float:
    """1 s, 2 s, 4 s … capped at a minute: Telegram failed this many times in a row."""
    return min(TELEGRAM_DOWN_MAX_WAIT, float(2 ** max(0, failures - 1)))


def _in_topic(t: Translator, item: Notification, text: str) -> InTopic | None:
    if item.thread_id is None:
        return None
    return InTopic(
        item.thread_id,
        for_general(t, item.thread_id, item.topic_name, text),
        closed_since=parse_iso_utc(item.topic_closed_at),
    )


def merged(items: Sequence[Notification]) -> list[Notification]:
    """One message per shipment: the rows about one shipment (oldest first) become one, at
    the place of the oldest."""
    by_shipment: dict[int, list[Notification]] = {}
    for item in sorted(items, key=lambda n: n.id):
        by_shipment.setdefault(item.shipment_id, []).append(item)
    return [
        group[0]
        if len(group) == 1
        else replace(
            group[-1],
            id=group[0].id,
            notice=merge_notices([n.notice for n in group]),
            attempts=max(n.attempts for n in group),
            created_at=group[0].created_at,
            merged_ids=tuple(n.id for n in group),
        )
        for group in by_shipment.values()
    ]


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
        self._telegram_failures = 0  # in a row: Telegram did not answer
        self._telegram_back_at = 0.0  # monotonic; before it, Telegram is not tried
        self._storage_back_at = 0.0  # monotonic; before it, the database is not tried
        self._unmarked: list[tuple[int, ...]] = []  # accepted by Telegram, mark not written
        self.sent_count = 0
        self.failed_count = 0

    def wake(self) -> None:
        for event in self._wakeups.values():
            event.set()

    def start(self) -> None:
        """Start sending (again, after a `stop`: a replica that gained the lead back)."""
        self._stopping = False
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
            if not await self._storage_writable():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), STORAGE_RETRY_SECONDS)
                continue
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

    async def _storage_writable(self) -> bool:
        """False while the database refuses writes: the marks owed are written first."""
        if time.monotonic() < self._storage_back_at:
            return False
        try:
            while self._unmarked:
                await self._storage.outbox.mark_sent(*self._unmarked[0])
                self._unmarked.pop(0)
        except StorageWriteError:
            self._storage_back_at = time.monotonic() + STORAGE_RETRY_SECONDS
            return False
        return True

    async def _deliver_chat(self, items: Sequence[Notification]) -> None:
        try:
            await self._deliver_items(merged(items))
        except StorageWriteError as exc:
            # Nothing more is sent until the database takes writes again.
            self._storage_back_at = time.monotonic() + STORAGE_RETRY_SECONDS
            logger.warning("sending paused: %s", exc)

    async def _deliver_items(self, items: Sequence[Notification]) -> None:
        for item in items:
            if self._stopping or time.monotonic() < self._storage_back_at:
                return
            if not item.following:
                await self._storage.outbox.mark_failed(
                    item.ids, "chat no longer follows the shipment"
                )
                continue
            if time.monotonic() < self._telegram_back_at:
                await self._wait_for_telegram(item, "Telegram is not answering")
                return
            await self._pace(item)
            slots = self._private_slots if item.chat_type == "private" else self._group_slots
            async with slots:
                if self._stopping:
                    return  # not started: it stays queued for the next run
                if not await self._deliver(item, item.chat_id):
                    return  # the chat is paused, moved or flooded: the rest waits

    async def _wait_for_telegram(self, item: Notification, error: str) -> None:
        """Telegram is unreachable: this chat's messages wait for it, no attempt spent."""
        until = utcnow() + timedelta(seconds=max(0.0, self._telegram_back_at - time.monotonic()))
        await self._storage.outbox.postpone_chat(
            item.ids, item.chat_id, until, error, spend_attempt=False
        )

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
        text = notification(t, item)
        outcome = await self._sender.send(
            chat_id,
            text,
            topic=_in_topic(t, item, text),
            keyboard=shipment_keyboard(t, item.shipment_id, muted=False, status=status),
            # Quiet hours make it silent; what needs the person (an exception, a failed
            # delivery, a parcel to collect) still rings.
            silent=not item.notice.needs_person and in_window(item.quiet_start, item.quiet_end),
        )
        self._telegram_answered(outcome)
        match outcome.delivery:
            case Delivery.SENT:
                await self._mark_sent(item, chat_id)
                return True
            case Delivery.FAILED if outcome.unreachable:
                await self._wait_for_telegram(item, outcome.error)
                return False
            case Delivery.FLOODED:
                retry_at = utcnow() + timedelta(seconds=outcome.retry_after)
                await self._storage.outbox.postpone_chat(item.ids, chat_id, retry_at, outcome.error)
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

    def _telegram_answered(self, outcome: SendOutcome) -> None:
        """Keep count of Telegram's own failures in a row; any answer ends the episode."""
        if not outcome.unreachable:
            if self._telegram_failures:
                logger.info("Telegram answers again")
            self._telegram_failures = 0
            return
        self._telegram_failures += 1
        wait = telegram_down_wait(self._telegram_failures)
        self._telegram_back_at = max(self._telegram_back_at, time.monotonic() + wait)
        logger.warning("Telegram did not answer (%s); trying again in %.0f s", outcome.error, wait)

    async def _mark_sent(self, item: Notification, chat_id: int) -> None:
        self._last_sent[chat_id] = time.monotonic()
        try:
            await self._storage.outbox.mark_sent(*item.ids)
        except StorageWriteError:
            self._unmarked.append(item.ids)  # sent: written first when the disk takes it
            raise
        self.sent_count += 1
        if self._on_sent is not None:
            self._on_sent(item)

    async def _retry_or_give_up(self, item: Notification, error: str) -> None:
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            self.failed_count += 1
            await self._storage.outbox.mark_failed(item.ids, error)
            logger.error(
                "giving up notification %d to chat %s after %d attempts: %s",
                item.id,
                item.chat_id,
                attempts,
                error,
            )
            return
        delay = backoff_seconds(attempts)
        await self._storage.outbox.mark_retry(item.ids, utcnow() + timedelta(seconds=delay), error)
        logger.warning(
            "notification %d to chat %s failed (%s); retry %d in %.0f s",
            item.id,
            item.chat_id,
            error,
            attempts,
            delay,
        )
