"""Housekeeping the composition root schedules hourly: the shared memory of the replicas
(`storage.coordination`) forgets what can no longer matter.

A Telegram update is retried for a while and a TrackingMore push passes the guard for ten
minutes at most, so a day of sightings is ample; a user's hit windows count for seconds,
so an hour of them is too.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from bot.storage import Storage

logger = logging.getLogger(__name__)

SIGHTINGS_KEPT = timedelta(days=1)
HIT_WINDOWS_KEPT_SECONDS = 3600


async def prune_coordination(storage: Storage, now: float | None = None) -> None:
    """Forget update and push sightings older than a day and hit windows older than an hour."""
    now = time.time() if now is None else now
    await storage.coordination.prune(
        updates_older_than=SIGHTINGS_KEPT,
        hits_before=int(now) - HIT_WINDOWS_KEPT_SECONDS,
    )
    logger.debug("pruned the replicas' shared sightings and hit windows")
