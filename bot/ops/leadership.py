"""One leader among the replicas: it does the work that the account's and the bot's limits
bound (the poll cycle, the sender, digests, long polling, the courier list); the others
stand by, answer the webhook and commands, and take over when the leader is gone.

Every few seconds each replica checks: a standby tries to take the lock, the leader makes
sure it still holds it. A replica that loses it (its database connection broke) stops
leading at once and stands by again. Each reports itself in the `replicas` table, which
`/healthz`, `/metrics` and `doctor` read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.core.times import utcnow
from bot.storage import Storage
from bot.storage.coordination import Replica
from bot.storage.leases import LeaderLock

logger = logging.getLogger(__name__)

LEADER, STANDBY = "leader", "standby"
# A standby takes over within this plus the time the server takes to see the leader gone.
CHECK_INTERVAL_SECONDS = 5.0
# A replica not heard from for this long is not listed as running.
REPLICA_SILENCE = timedelta(seconds=60)

Hook = Callable[[], Awaitable[None]]


class Leadership:
    def __init__(
        self,
        lock: LeaderLock,
        storage: Storage,
        replica: str,
    ) -> None:
        self._lock = lock
        self._storage = storage
        self.replica = replica
        self._on_gain: Hook = _nothing
        self._on_loss: Hook = _nothing
        self._on_checked: Callable[[bool], None] | None = None
        self.leading = False
        self.leader_since: datetime | None = None
        self.checked_at: datetime | None = None
        self._started_at = utcnow()

    def bind(
        self, *, on_gain: Hook, on_loss: Hook, on_checked: Callable[[bool], None] | None = None
    ) -> None:
        """What to start when the lead is gained, and to stop when it is lost; `on_checked`
        is told after every check whether this replica leads."""
        self._on_gain, self._on_loss, self._on_checked = on_gain, on_loss, on_checked

    @property
    def role(self) -> str:
        return LEADER if self.leading else STANDBY

    async def check(self) -> None:
        """Take the lead if it is free, or make sure it is still ours; then report."""
        if self.leading:
            if not await self._lock.still_held():
                logger.error("replica %s lost the lead: standing by", self.replica)
                self.leading, self.leader_since = False, None
                await self._on_loss()
        elif await self._lock.try_acquire():
            self.leading, self.leader_since = True, utcnow()
            logger.info("replica %s leads (poll cycle, sender, digests, updates)", self.replica)
            await self._on_gain()
        elif self.checked_at is None:
            logger.info("replica %s stands by: another replica leads", self.replica)
        self.checked_at = utcnow()
        if self._on_checked is not None:
            self._on_checked(self.leading)
        try:
            await self._storage.coordination.report_replica(
                self.replica, self.role, os.getpid(), self._started_at
            )
        except Exception as exc:  # reporting is for operators; leading goes on without it
            logger.warning("could not report replica %s: %s", self.replica, exc)

    async def check_job(self, _context: object) -> None:
        await self.check()

    async def replicas(self) -> list[Replica]:
        return await self._storage.coordination.replicas(REPLICA_SILENCE)

    async def release(self) -> None:
        """At shutdown, once the leader's work has stopped: let the lead go at once (a
        standby need not wait for the server to notice) and leave the list of replicas."""
        self.leading, self.leader_since = False, None
        await self._lock.release()
        try:
            await self._storage.coordination.forget_replica(self.replica)
        except Exception as exc:
            logger.warning("could not remove replica %s from the list: %s", self.replica, exc)


async def _nothing() -> None:
    return None
