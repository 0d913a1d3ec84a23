"""What replicas sharing one database agree on: updates and pushes already taken, each user's
recent updates, and who is running in which role. On SQLite (one process) the same tables
make a restart forget nothing of it either."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.times import iso_utc, utcnow
from bot.storage.database import Repository


@dataclass(frozen=True)
class Replica:
    name: str
    role: str
    pid: int
    started_at: str
    seen_at: str


class Coordination(Repository):
    """seen_updates, seen_pushes, user_hits and replicas."""

    async def first_sighting_of_update(self, update_id: int) -> bool:
        """True the first time any replica asks about this Telegram update, False after:
        an update Telegram delivers twice (a retry after a timeout) is handled once."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO seen_updates (update_id, seen_at) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                (update_id, iso_utc()),
            )
            return cursor.rowcount == 1

    async def first_sighting_of_push(self, key: str) -> bool:
        """True the first time a signed TrackingMore push is seen, False for a replay."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO seen_pushes (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, iso_utc()),
            )
            return cursor.rowcount == 1

    async def count_hit(self, user_id: int, slice_start: int, window_start: int) -> int:
        """One more update of `user_id` in the slice starting at `slice_start` (Unix
        seconds); how many updates of theirs the slices from `window_start` on hold now,
        across every replica, this one included.

        Every update counted before this one is in the total, on both engines, so no more
        than the limit are answered. Counts of one user run one at a time, as SQLite's one
        writer has them: each first takes the user's anchor row (slice 0, outside every
        window) until its transaction ends; on PostgreSQL (READ COMMITTED, many
        connections) a count would otherwise miss a concurrent one not yet committed. And
        newer slices than this one count too (up to a window ahead): a concurrent update
        that read the clock a moment later may reach the database first."""
        ahead = slice_start + (slice_start - window_start)
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO user_hits (user_id, window_start, hits) VALUES (?, 0, 0) "
                "ON CONFLICT (user_id, window_start) DO UPDATE SET hits = 0",
                (user_id,),
            )
            cursor = await db.execute(
                "INSERT INTO user_hits (user_id, window_start, hits) VALUES (?, ?, 1) "
                "ON CONFLICT (user_id, window_start) DO UPDATE SET hits = user_hits.hits + 1 "
                "RETURNING user_hits.hits + (SELECT COALESCE(SUM(other.hits), 0) "
                "FROM user_hits AS other WHERE other.user_id = ? "
                "AND other.window_start >= ? AND other.window_start < ? "
                "AND other.window_start <> ?)",
                (user_id, slice_start, user_id, window_start, ahead, slice_start),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 1

    async def prune(self, *, updates_older_than: timedelta, hits_before: int) -> None:
        """Forget sightings past the age a retry or replay can have, and old windows."""
        horizon = iso_utc(utcnow() - updates_older_than)
        async with self._transaction() as db:
            await db.execute("DELETE FROM seen_updates WHERE seen_at < ?", (horizon,))
            await db.execute("DELETE FROM seen_pushes WHERE seen_at < ?", (horizon,))
            await db.execute("DELETE FROM user_hits WHERE window_start < ?", (hits_before,))

    async def report_replica(self, name: str, role: str, pid: int, started_at: datetime) -> None:
        """This replica is alive in `role` (leader or standby)."""
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO replicas (name, role, pid, started_at, seen_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
                "pid = excluded.pid, started_at = excluded.started_at, seen_at = excluded.seen_at",
                (name, role, pid, iso_utc(started_at), now),
            )

    async def forget_replica(self, name: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM replicas WHERE name = ?", (name,))

    async def replicas(self, seen_within: timedelta) -> list[Replica]:
        """The replicas heard from lately, leader first."""
        rows = await self._fetchall(
            "SELECT name, role, pid, started_at, seen_at FROM replicas WHERE seen_at >= ? "
            "ORDER BY role = 'leader' DESC, name",
            (iso_utc(utcnow() - seen_within),),
        )
        return [Replica(row[0], row[1], int(row[2]), row[3], row[4]) for row in rows]
