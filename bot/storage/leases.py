"""Who leads, and a shared pace for the carrier's limits: the database as the arbiter between
replicas.

On PostgreSQL the leader is whoever holds a session advisory lock on a connection of its
own: the server lets it go the moment that connection ends (a stopped or killed replica; a
dead machine once TCP keepalives give up), so a standby's next try takes it. On SQLite
there is one process (the instance lock sees to it), which always leads.

The pace is a row per limit holding the next free moment on the server's clock: each call
claims the slot after the last one claimed by any replica, so the account's 10 requests/s
and 3 creations/s hold for all replicas together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg

from bot.storage.postgres import PostgresDatabase

logger = logging.getLogger(__name__)

LEADER_LOCK = 0x706F7374696E6F02  # "postino" + 2
# The server notices a silent peer after idle + interval × count seconds.
_KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "application_name": "postino-leader-lock",
}
_CHECK_TIMEOUT = 5.0
# One moment for the whole statement, on the server's clock (the same for every replica).
_NOW = "EXTRACT(EPOCH FROM statement_timestamp())::float8"


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool: ...

    async def still_held(self) -> bool: ...

    async def release(self) -> None: ...


class SoleProcess:
    """SQLite: one process on the database file, always the leader."""

    async def try_acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLeaderLock:
    """A PostgreSQL session advisory lock on a connection kept for it alone."""

    def __init__(self, database: PostgresDatabase, key: int = LEADER_LOCK) -> None:
        self._url = database.url
        self._key = key
        self._conn: asyncpg.Connection | None = None
        self._held = False

    async def try_acquire(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(
                    self._url, timeout=_CHECK_TIMEOUT, server_settings=_KEEPALIVES
                )
            self._held = bool(
                await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock($1)", self._key, timeout=_CHECK_TIMEOUT
                )
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("could not ask PostgreSQL for the leader lock: %s", exc)
            self._drop()
        return self._held

    async def still_held(self) -> bool:
        """The connection answers, so the server still holds the lock for it."""
        if self._conn is None or not self._held:
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=_CHECK_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.error("lost the connection holding the leader lock: %s", exc)
            self._drop()
            return False
        return True

    async def release(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), _CHECK_TIMEOUT)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            conn.terminate()


class SharedPace:
    """Slots on the server's clock, shared by every replica: `wait_turn(name, interval)`
    returns once this caller's slot, `interval` seconds after the previous one, has come."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    async def wait_turn(self, name: str, interval: float) -> None:
        try:
            row = await self._claim(name, interval)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The database is out of reach: keep to the whole account's pace alone.
            logger.warning("shared pace unavailable (%s): waiting a full interval", exc)
            await asyncio.sleep(interval)
            return
        wait = float(row[0]) if row else 0.0
        if wait > 0:
            await asyncio.sleep(wait)

    async def _claim(self, name: str, interval: float) -> Any:
        return await self._database.fetchone(
            "INSERT INTO rate_slots AS r (name, next_at) "
            f"VALUES (?, {_NOW} + CAST(? AS DOUBLE PRECISION)) "
            f"ON CONFLICT (name) DO UPDATE SET next_at = GREATEST(r.next_at, {_NOW}) "
            "+ CAST(? AS DOUBLE PRECISION) "
            f"RETURNING r.next_at - CAST(? AS DOUBLE PRECISION) - {_NOW}",
            (name, interval, interval, interval),
        )


OUTBOX_CHANNEL = "postino_outbox"


class OutboxSignal:
    """Rows queued on any replica wake the leader's sender at once (PostgreSQL's LISTEN and
    NOTIFY), instead of at its idle check a few seconds later."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database
        self._listener: asyncpg.Connection | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def ring_soon(self) -> None:
        """From synchronous code: tell the leader, without waiting for it."""
        task = asyncio.get_running_loop().create_task(self.ring())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def ring(self) -> None:
        try:
            await self._database.write("SELECT pg_notify(?, '')", (OUTBOX_CHANNEL,))
        except Exception as exc:  # the leader's idle check sends them anyway
            logger.debug("could not signal the outbox: %s", exc)

    async def listen(self, on_ring: Callable[[], None]) -> None:
        """On the leader: call `on_ring` whenever any replica rings."""
        await self.close()
        try:
            conn = await asyncpg.connect(self._database.url, timeout=_CHECK_TIMEOUT)
            await conn.add_listener(OUTBOX_CHANNEL, lambda *_: on_ring())
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("cannot listen for queued notifications: %s", exc)
            return
        self._listener = conn

    async def close(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            conn.terminate()
