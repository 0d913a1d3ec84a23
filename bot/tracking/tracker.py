"""Following shipments: the one place where storage and the carrier meet for a chat's request.

Handlers call this (never the carrier directly). Registration at TrackingMore happens once
per distinct shipment, is bounded in time, and when the carrier cannot be reached the
shipment is kept and registered by the poller later; the result says why it waits (no
answer, the account refused, the quota spent), so the chat is told the truth.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.carrier import (
    CREATES_PER_SECOND,
    MAX_NUMBERS_PER_REQUEST,
    CarrierNotFound,
    TrackingMoreClient,
)
from bot.core.codes import Entry
from bot.storage import Followed, Shipment, Storage
from bot.tracking.couriers import CourierDirectory
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import PendingReason, Registrar

logger = logging.getLogger(__name__)


class FollowOutcome(StrEnum):
    ADDED = "added"
    ALREADY = "already"
    MOVED = "moved"  # followed already, in another forum topic: now in this one
    REFUSED_BY_CARRIER = "refused_by_carrier"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class FollowResult:
    entry: Entry
    outcome: FollowOutcome
    shipment: Shipment | None = None
    pending_registration: bool = False  # not registered yet; retried every poll cycle
    pending_reason: PendingReason | None = None  # why, when pending_registration


@dataclass(frozen=True)
class Requester:
    chat_id: int
    user_id: int | None
    user_name: str | None
    thread_id: int | None = None  # the forum topic asked in; None: General, or no topics


class Tracker:
    def __init__(
        self,
        storage: Storage,
        carrier: TrackingMoreClient,
        recorder: ChangeRecorder,
        registrar: Registrar,
        couriers: CourierDirectory,
        *,
        max_shipments_per_chat: int,
        registration_timeout: float,
    ) -> None:
        self._storage = storage
        self._carrier = carrier
        self._recorder = recorder
        # Shared with the poller (bot.app wires the same one): a number two askers want
        # registered is sent once, and batch calls are filled across chats.
        self._registrar = registrar
        self._couriers = couriers
        self._max_per_chat = max_shipments_per_chat
        self._timeout = registration_timeout

    async def follow(self, who: Requester, entries: Sequence[Entry]) -> list[FollowResult]:
        """Follow these entries for a chat; a courier written as a name ("SDA") is followed
        by its code."""
        entries = [self._with_courier_code(entry) for entry in entries]
        with self._registrar.reserved({(e.courier, e.code) for e in entries}):
            return await self._follow(who, entries)

    async def _follow(self, who: Requester, entries: Sequence[Entry]) -> list[FollowResult]:
        room = self._max_per_chat - await self._storage.follows.count_followed(who.chat_id)
        results: list[FollowResult] = []
        to_register: dict[tuple[str, str], Shipment] = {}
        for entry in entries:
            existing = await self._storage.follows.get_followed(who.chat_id, entry.code)
            if existing is None and room <= 0:
                results.append(FollowResult(entry, FollowOutcome.OVER_LIMIT))
                continue
            shipment, is_new = await self._storage.follows.follow(
                who.chat_id,
                entry.courier,
                entry.code,
                entry.label,
                who.user_id,
                who.user_name,
                thread_id=who.thread_id,
            )
            room -= int(is_new)
            results.append(FollowResult(entry, _outcome(is_new, existing, who.thread_id)))
            if not shipment.registered:
                to_register[(shipment.courier, shipment.code)] = shipment
        # TrackingMore's 3 creations/s alone take this long for a big list: waited for too.
        calls = math.ceil(len(to_register) / MAX_NUMBERS_PER_REQUEST)
        registered = await self._registrar.register(
            list(to_register),
            notify=False,
            wait_at_most=self._timeout + calls / CREATES_PER_SECOND,
        )
        return [
            await self._settle(who.chat_id, result, registered.refused, registered.reasons)
            for result in results
        ]

    def _with_courier_code(self, entry: Entry) -> Entry:
        code = self._couriers.resolve(entry.courier)
        return entry if code == entry.courier else replace(entry, courier=code)

    async def refresh(self, shipment: Shipment) -> bool:
        """Ask TrackingMore about one shipment now; True when something changed.

        Changes go through the same path as a poll: stored, and told to every follower.
        Raises CarrierError or TimeoutError when the carrier cannot answer in time.
        """
        async with asyncio.timeout(self._timeout):
            fetched = await self._carrier.get(shipment.courier, [shipment.code])
        return bool(await self._recorder.record(fetched.snapshots))

    async def retrack(self, shipment: Shipment) -> bool:
        """Restart tracking of an expired shipment at TrackingMore, then refresh it."""
        if not shipment.carrier_id:
            raise CarrierNotFound("the shipment has no TrackingMore id yet")
        async with asyncio.timeout(self._timeout):
            await self._carrier.retrack(shipment.carrier_id)
        return await self.refresh(shipment)

    async def _settle(
        self,
        chat_id: int,
        result: FollowResult,
        refused: set[tuple[str, str]],
        pending: dict[tuple[str, str], PendingReason],
    ) -> FollowResult:
        if result.outcome == FollowOutcome.OVER_LIMIT:
            return result
        key = (result.entry.courier, result.entry.code)
        if key in refused:
            shipment = await self._storage.follows.unfollow(chat_id, result.entry.code)
            if shipment is not None:
                await self._storage.shipments.forget_shipment(shipment.id)
            return FollowResult(result.entry, FollowOutcome.REFUSED_BY_CARRIER)
        shipment = await self._storage.shipments.get_shipment(*key)
        reason = pending.get(key)
        return FollowResult(result.entry, result.outcome, shipment, reason is not None, reason)


def _outcome(is_new: bool, existing: Followed | None, thread_id: int | None) -> FollowOutcome:
    if is_new:
        return FollowOutcome.ADDED
    if existing is not None and existing.thread_id != thread_id:
        return FollowOutcome.MOVED
    return FollowOutcome.ALREADY
