"""Housekeeping the composition root schedules hourly: the shared memory of the replicas
(`storage.coordination`) forgets what can no longer matter.

A Telegram update is retried for a while and a TrackingMore push passes the guard for ten
minutes at most, so a day of sightings is ample; a user's hit windows count for seconds,
so an hour of them is too.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from bot.storage import Storage

logger = logging.getLogger(__name__)

SIGHTINGS_KEPT = timedelta(days=1)
HIT_WINDOWS_KEPT_SECONDS = 3600
# The web desk: a used or expired login link is kept a day (nothing needs it after its ten
# minutes); a session idle this long has expired already.
DESK_LINKS_KEPT = timedelta(days=1)
DESK_SESSION_IDLE = timedelta(hours=12)


async def prune_coordination(storage: Storage, now: float | None = None) -> None:
    """Forget update and push sightings older than a day, hit windows older than an hour,
    and the web desk's expired login links and sessions."""
    now = time.time() if now is None else now
    await storage.coordination.prune(
        updates_older_than=SIGHTINGS_KEPT,
        hits_before=int(now) - HIT_WINDOWS_KEPT_SECONDS,
    )
    moment = datetime.fromtimestamp(now, UTC)
    await storage.desk.prune(moment - DESK_LINKS_KEPT, moment - DESK_SESSION_IDLE)
    logger.debug("pruned the replicas' shared sightings and hit windows")
