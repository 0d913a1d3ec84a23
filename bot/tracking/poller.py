"""The poll cycle: ask TrackingMore about every active shipment and store what changed.

Runs on PTB's job queue. Shipments are fetched in batches of 40 per courier; each batch's
results are diffed and written (events, status, outbox rows) in one transaction by the
change recorder, which wakes the sender. Carrier trouble never stops the bot: rate limits
pause polling for the time the carrier asks, outages are retried next cycle, and listeners
hear about both.

The first cycle is also the start-up check of the API key: when it has nothing to register
or poll, it makes one cheap call (the courier list) instead, so a refused key or a spent
quota is logged as an ERROR and told to the admins at once, not at the first code. A cycle
with nothing to ask while the carrier is not OK asks the same, so the end of the episode is
seen (and told) even when nobody adds a code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from datetime import timedelta

from bot.carrier import (
    MAX_NUMBERS_PER_REQUEST,
    CarrierAuthError,
    CarrierError,
    CarrierNotFound,
    CarrierQuotaError,
    CarrierRateLimited,
    TrackingMoreClient,
)
from bot.core.shipments import Snapshot
from bot.core.times import utcnow
from bot.storage import Shipment, Storage
from bot.tracking.couriers import CourierDirectory
from bot.tracking.health import CarrierHealth, CycleErrors, PollState
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import Registrar

logger = logging.getLogger(__name__)

# Requests in flight at once; the client's limiter keeps them within 10/s anyway.
MAX_CONCURRENT_REQUESTS = 10
# Shipments read from the database at a time: a cycle's memory does not grow with their number.
POLL_PAGE_SIZE = 1000


# Logged once when an episode starts: nothing gets registered or updated until it ends.
_REFUSALS = {
    CarrierHealth.AUTH: "TrackingMore refuses the API key (%s): no code is registered and no "
    "shipment updated until TRACKINGMORE_API_KEY is right (then restart the bot)",
    CarrierHealth.QUOTA: "TrackingMore quota exhausted (%s): no new code is registered until the "
    "plan renews or is topped up; pending codes are retried every poll cycle",
}

HealthListener = Callable[[CarrierHealth, CarrierHealth, PollState], Awaitable[None]]


class Poller:
    def __init__(
        self,
        storage: Storage,
        carrier: TrackingMoreClient,
        recorder: ChangeRecorder,
        registrar: Registrar,
        couriers: CourierDirectory,
        *,
        archive_after: timedelta = timedelta(days=3),
    ) -> None:
        self._storage = storage
        self._carrier = carrier
        self._couriers = couriers
        self._recorder = recorder
        # Shared with the Tracker: a code a chat is registering right now is not sent twice.
        self._registrar = registrar
        self._archive_after = archive_after
        self._health_listeners: list[HealthListener] = []
        self._lock = asyncio.Lock()
        self._cycle: asyncio.Task[object] | None = None
        self._closed = False
        self.state = PollState()

    def add_health_listener(self, listener: HealthListener) -> None:
        self._health_listeners.append(listener)

    def cancel(self) -> None:
        """End the running cycle now (its open transaction rolls back) and run no more,
        until `resume` (a replica that lost the lead and gained it again)."""
        self._closed = True
        if self._cycle is not None:
            self._cycle.cancel()

    def resume(self) -> None:
        self._closed = False

    async def run_cycle(self) -> None:
        if self._closed:
            return
        if self._lock.locked():
            logger.debug("previous poll cycle still running; skipping this one")
            return
        self._cycle = asyncio.current_task()
        try:
            await self._run_cycle()
        except asyncio.CancelledError:
            if not self._closed:
                raise
            logger.info("poll cycle interrupted by shutdown")
        finally:
            self._cycle = None

    async def _run_cycle(self) -> None:
        async with self._lock:
            if time.monotonic() < self.state.paused_until:
                logger.info(
                    "polling paused for %.0f s more (rate limited)",
                    self.state.paused_until - time.monotonic(),
                )
                return
            errors = CycleErrors()
            await self._housekeeping()
            asked = await self._register_pending(errors)
            self.state.batches = 0
            if not any(isinstance(e, CarrierAuthError | CarrierQuotaError) for e in errors.errors):
                await self._poll_all(errors)
            if not asked and not self.state.batches and self._needs_key_check():
                await self._check_key(errors)
            await self._finish(errors)
            logger.debug(
                "poll cycle done: %d batches, %d errors", self.state.batches, len(errors.errors)
            )

    def _needs_key_check(self) -> bool:
        return self.state.cycles == 0 or self.state.health != CarrierHealth.OK

    async def _check_key(self, errors: CycleErrors) -> None:
        """One cheap call that only the API key and the account decide (the courier list,
        which the directory fetched at start anyway)."""
        try:
            await self._couriers.check_account()
        except CarrierError as exc:
            self._note_error(errors, exc)

    async def _housekeeping(self) -> None:
        """Archive old deliveries; delete at TrackingMore what nobody follows any more."""
        archived = await self._storage.follows.archive_delivered(utcnow() - self._archive_after)
        if archived:
            logger.info("archived %d delivered shipments", archived)
        for shipment in await self._storage.shipments.orphan_shipments():
            if shipment.carrier_id and shipment.registered:
                try:
                    await self._carrier.delete(shipment.carrier_id)
                except CarrierNotFound:
                    pass  # already gone there
                except CarrierError as exc:
                    logger.info("could not delete %s at TrackingMore yet: %s", shipment.code, exc)
                    return  # try again next cycle
            await self._storage.shipments.forget_shipment(shipment.id)
            logger.info("stopped tracking %s: nobody follows it any more", shipment.code)

    async def _register_pending(self, errors: CycleErrors) -> bool:
        """Register what is still pending; False when there was nothing to register."""
        pending = await self._storage.shipments.shipments_to_register()
        keys = self._registrar.unreserved([(s.courier, s.code) for s in pending])
        if not keys:
            return False
        registered = await self._registrar.register(keys, notify=True)
        for error in registered.errors:
            self._note_error(errors, error)
        if registered.refused:
            await self._storage.shipments.mark_refused(registered.refused)
            logger.warning(
                "TrackingMore refused %d numbers: %s",
                len(registered.refused),
                sorted(registered.refused),
            )
        return True

    async def _poll_all(self, errors: CycleErrors) -> None:
        slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        stop = asyncio.Event()

        async def poll(courier: str, shipments: Sequence[Shipment]) -> None:
            try:
                await self._poll_batch(courier, shipments)
            except CarrierError as exc:
                self._note_error(errors, exc)
                if isinstance(exc, CarrierRateLimited | CarrierAuthError | CarrierQuotaError):
                    stop.set()  # no request storm: the rest waits for the next cycle
            finally:
                slots.release()

        # A batch is read from the database only when a request slot is free for it.
        async with asyncio.TaskGroup() as group, aclosing(self._batches_to_poll()) as batches:
            async for courier, shipments in batches:
                await slots.acquire()
                if stop.is_set():
                    slots.release()
                    break
                self.state.batches += 1
                group.create_task(poll(courier, shipments))

    async def _batches_to_poll(self) -> AsyncGenerator[tuple[str, list[Shipment]], None]:
        """What to poll, read a page at a time, in batches of up to 40 of one courier."""
        pending: dict[str, list[Shipment]] = defaultdict(list)
        after = 0
        while page := await self._storage.shipments.shipments_to_poll(after, POLL_PAGE_SIZE):
            after = page[-1].id
            for shipment in page:
                group = pending[shipment.courier]
                group.append(shipment)
                if len(group) == MAX_NUMBERS_PER_REQUEST:
                    yield shipment.courier, pending.pop(shipment.courier)
        for courier, group in pending.items():
            yield courier, group

    async def _poll_batch(self, courier: str, shipments: Sequence[Shipment]) -> None:
        known = {s.code: s.carrier_signature for s in shipments if s.carrier_signature}
        fetched = await self._carrier.get(courier, [s.code for s in shipments], known)
        if fetched.unknown:
            # TrackingMore forgot them (deleted on its side): register again next cycle.
            logger.info(
                "%d numbers unknown to TrackingMore; registering again", len(fetched.unknown)
            )
            await self._storage.shipments.mark_unregistered(
                [(courier, code) for code in fetched.unknown]
            )
        unchanged = set(fetched.unchanged)
        await self._store(fetched.snapshots, [s.id for s in shipments if s.code in unchanged])

    async def _store(self, snapshots: Sequence[Snapshot], unchanged: Sequence[int] = ()) -> None:
        changes = await self._recorder.record(snapshots, unchanged=unchanged)
        self.state.changes_found += len(changes)

    def _note_error(self, errors: CycleErrors, exc: CarrierError) -> None:
        errors.errors.append(exc)
        if isinstance(exc, CarrierRateLimited):
            self.state.paused_until = max(
                self.state.paused_until, time.monotonic() + exc.retry_after
            )
            logger.warning("TrackingMore rate limit: pausing polling for %.0f s", exc.retry_after)
        else:
            logger.warning("poll cycle: %s: %s", type(exc).__name__, exc)

    async def _finish(self, errors: CycleErrors) -> None:
        state = self.state
        state.cycles += 1
        previous, state.health = state.health, errors.worst
        if errors.errors:
            state.consecutive_failures += 1
            state.last_error = f"{type(errors.errors[0]).__name__}: {errors.errors[0]}"
        else:
            state.consecutive_failures = 0
            state.last_success_monotonic = time.monotonic()
            state.last_success_wallclock = time.time()
        if state.health != previous and state.health in _REFUSALS:
            logger.error(_REFUSALS[state.health], state.last_error)
        for listener in self._health_listeners:
            try:
                await listener(previous, state.health, state)
            except Exception:
                logger.exception("health listener failed")
