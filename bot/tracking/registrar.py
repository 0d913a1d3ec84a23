"""Registering new shipments at TrackingMore, each batch call filled with up to 40 numbers
whoever asked for them: chats adding codes, and the poller retrying what is still pending.

A number asked for twice (two chats, or a chat and the poller) is sent once; the second asker
waits for the first one's answer. An asker waits a bounded time, and what is not answered by
then stays queued: it is registered anyway, and the state TrackingMore answers with is then
told to the chats like any change (they were told it would be confirmed later).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from bot.carrier import (
    MAX_NUMBERS_PER_REQUEST,
    CarrierAuthError,
    CarrierError,
    CarrierInvalidInput,
    CarrierQuotaError,
    CarrierRateLimited,
    TrackingMoreClient,
)
from bot.core.shipments import Snapshot
from bot.storage import Storage
from bot.tracking.recorder import ChangeRecorder

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (courier, code)

# Creations are limited to 3 a second: with about a second of latency per call, three calls
# in flight keep that rate; more would only wait for the limiter.
MAX_CALLS_IN_FLIGHT = 3
# Errors after which nothing more is sent until the asker tries again: going on would be a
# request storm (429) or would spend calls that cannot succeed (key refused, quota spent).
_STOP_ERRORS = (CarrierRateLimited, CarrierAuthError, CarrierQuotaError)


class Registration(StrEnum):
    REGISTERED = "registered"
    REFUSED = "refused"  # TrackingMore does not accept the number for that courier
    UNREACHABLE = "unreachable"  # not answered (yet): left for later


class PendingReason(StrEnum):
    """Why a number is left for later: what the chat is told."""

    UNREACHABLE = "unreachable"  # no answer (outage, timeout, rate limit): soon, by itself
    ACCOUNT_REFUSED = "account_refused"  # the API key is refused: waits for the owner
    QUOTA = "quota"  # the account's quota is spent: waits for it to renew


def pending_reason(error: CarrierError | None) -> PendingReason:
    if isinstance(error, CarrierAuthError):
        return PendingReason.ACCOUNT_REFUSED
    if isinstance(error, CarrierQuotaError):
        return PendingReason.QUOTA
    return PendingReason.UNREACHABLE


@dataclass
class _Pending:
    future: asyncio.Future[Registration]
    notify: bool  # tell the followers the state it is registered with
    error: CarrierError | None = None


@dataclass
class Registered:
    """What became of the numbers one asker asked for."""

    refused: set[Key] = field(default_factory=set)
    unreachable: set[Key] = field(default_factory=set)
    errors: list[CarrierError] = field(default_factory=list)
    # Why each of `unreachable` is left for later (the carrier's answer, if it gave one).
    reasons: dict[Key, PendingReason] = field(default_factory=dict)


class Registrar:
    def __init__(
        self, storage: Storage, carrier: TrackingMoreClient, recorder: ChangeRecorder
    ) -> None:
        self._storage = storage
        self._carrier = carrier
        self._recorder = recorder
        self._queued: dict[Key, _Pending] = {}  # in the order asked
        self._in_flight: dict[Key, _Pending] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._sending = 0  # calls between taking their numbers and TrackingMore's answer
        # Numbers a chat is adding right now: it registers them itself once they are stored
        # (in full batches), so the poller leaves them alone meanwhile.
        self._reserved: Counter[Key] = Counter()

    @contextmanager
    def reserved(self, keys: Collection[Key]) -> Iterator[None]:
        """While a chat stores the codes it adds, before it asks for them to be registered."""
        self._reserved.update(keys)
        try:
            yield
        finally:
            self._reserved.subtract(keys)
            self._reserved += Counter()  # drop what is no longer reserved

    def unreserved(self, keys: Sequence[Key]) -> list[Key]:
        """The keys no chat is adding right now (what the poller may register)."""
        return [key for key in keys if not self._reserved[key]]

    async def register(
        self, keys: Sequence[Key], *, notify: bool, wait_at_most: float | None = None
    ) -> Registered:
        """Register these numbers (those already registered are skipped), waiting at most
        `wait_at_most` seconds for TrackingMore's answers (not `asyncio.timeout`: what is
        answered by then is returned, the rest goes on without the asker).

        `notify=False` when a chat is waiting for the confirmation: the state registered is
        the baseline it is told there. If the wait times out, the numbers are registered
        later and their state is told as a change.
        """
        pending = {key: self._enqueue(key, notify) for key in dict.fromkeys(keys)}
        if not pending:
            return Registered()
        self._start_calls()
        futures = {p.future for p in pending.values()}
        await asyncio.wait(futures, timeout=wait_at_most)
        result = Registered()
        for key, entry in pending.items():
            answer = entry.future.result() if entry.future.done() else Registration.UNREACHABLE
            if not entry.future.done():
                entry.notify = True  # answered after the asker gave up: tell it as a change
            if answer == Registration.REFUSED:
                result.refused.add(key)
            elif answer == Registration.UNREACHABLE:
                result.unreachable.add(key)
                error = entry.error
                result.reasons[key] = pending_reason(error)
                if error is not None and not any(type(e) is type(error) for e in result.errors):
                    result.errors.append(error)
        return result

    async def close(self) -> None:
        """Cancel the calls in flight (shutting down): what they were registering stays
        pending in the database, and the poller registers it after the restart."""
        left = {**self._in_flight, **self._queued}
        self._queued = {}
        for task in self._calls:
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        self._settle(left, Registration.UNREACHABLE)  # nobody waits for what will not come

    def _enqueue(self, key: Key, notify: bool) -> _Pending:
        existing = self._queued.get(key) or self._in_flight.get(key)
        if existing is not None:
            existing.notify = existing.notify and notify
            return existing
        entry = _Pending(asyncio.get_running_loop().create_future(), notify)
        self._queued[key] = entry
        return entry

    def _start_calls(self) -> None:
        batches = math.ceil(len(self._queued) / MAX_NUMBERS_PER_REQUEST)
        for _ in range(min(batches, MAX_CALLS_IN_FLIGHT - len(self._calls))):
            task = asyncio.create_task(self._call_until_empty(), name="registrar")
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _call_until_empty(self) -> None:
        while self._queued:
            if len(self._queued) < MAX_NUMBERS_PER_REQUEST and self._sending:
                # A batch that is not full waits for the calls in flight: numbers asked for
                # meanwhile join it, and the last call to finish sends it.
                return
            chunk = self._take(MAX_NUMBERS_PER_REQUEST)
            self._sending += 1
            try:
                await self._register_chunk(chunk)
            except CarrierError as exc:
                logger.warning("registration postponed for %d numbers: %s", len(chunk), exc)
                self._settle(chunk, Registration.UNREACHABLE, exc)
                if isinstance(exc, _STOP_ERRORS):
                    queued, self._queued = self._queued, {}
                    self._settle(queued, Registration.UNREACHABLE, exc)
            except Exception:
                logger.exception("registration of %d numbers failed", len(chunk))
                self._settle(chunk, Registration.UNREACHABLE)
            finally:
                self._sending -= 1
                for key in chunk:
                    self._in_flight.pop(key, None)

    def _take(self, count: int) -> dict[Key, _Pending]:
        keys = list(itertools.islice(self._queued, count))
        taken = {key: self._queued.pop(key) for key in keys}
        self._in_flight.update(taken)
        return taken

    def _settle(
        self,
        chunk: dict[Key, _Pending],
        answer: Registration,
        error: CarrierError | None = None,
        refused: Collection[Key] = (),
    ) -> None:
        for key, entry in chunk.items():
            entry.error = error
            if not entry.future.done():
                entry.future.set_result(Registration.REFUSED if key in refused else answer)

    async def _register_chunk(self, chunk: dict[Key, _Pending]) -> None:
        """One call: `create` for a single number (it answers with the current state), a
        batch for several. The state is stored once TrackingMore has answered, so an asker
        that gave up meanwhile gets it told as a change."""
        unregistered = [
            key
            for key in chunk
            if not ((s := await self._storage.shipments.get_shipment(*key)) and s.registered)
        ]
        refused: set[Key] = set()
        if len(unregistered) == 1:
            courier, code = unregistered[0]
            try:
                snapshot = await self._carrier.create(courier, code)
            except CarrierInvalidInput:
                refused.add((courier, code))
            else:
                await self._store(chunk, [snapshot.keyed(courier, code)], [])
        elif unregistered:
            result = await self._carrier.batch_create(unregistered)
            known = [s for s in result.registered if s.status]
            unknown = [(s.courier, s.code) for s in result.registered if not s.status]
            await self._store(chunk, known, unknown + result.already_registered)
            refused = {(courier, code) for courier, code, _ in result.refused}
        self._settle(chunk, Registration.REGISTERED, refused=refused)

    async def _store(
        self, chunk: dict[Key, _Pending], known: Sequence[Snapshot], registered: Sequence[Key]
    ) -> None:
        told: list[Snapshot] = []
        quiet: list[Snapshot] = []
        for snapshot in known:
            entry = chunk.get((snapshot.courier, snapshot.code))
            (told if entry is not None and entry.notify else quiet).append(snapshot)
        await self._recorder.record(told, notify=True)
        await self._recorder.record(quiet, notify=False)
        if registered:
            await self._storage.shipments.mark_registered(registered)
