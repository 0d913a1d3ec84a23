"""Reads for the desk reports (/export, /summary, the digest) and the operators (/stats,
/metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.shipments import TERMINAL_STATUSES
from bot.storage.database import Repository
from bot.storage.records import (
    DESK_ROW_COLUMNS,
    NEWEST_EVENT_JOIN,
    DeskRow,
    Gauges,
    Totals,
    desk_row_of,
)


class Reports(Repository):
    """Counts and whole-chat reads; nothing here is on the poll cycle's path."""

    async def desk_rows(
        self, chat_id: int, *, archived: bool, thread_id: int | None = None
    ) -> list[DeskRow]:
        """Every shipment the chat follows with its newest event, in one query; archived
        subscriptions only when `archived` is true; only forum topic `thread_id`'s if given."""
        where = "" if archived else "AND s.archived_at IS NULL"
        params: tuple[int, ...] = (chat_id,)
        if thread_id is not None:
            where += " AND s.thread_id=?"
            params = (chat_id, thread_id)
        rows = await self._fetchall(
            f"SELECT {DESK_ROW_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"{NEWEST_EVENT_JOIN}"
            f"WHERE s.chat_id=? {where} ORDER BY s.added_at, sh.code, sh.id",
            params,
        )
        return [desk_row_of(r) for r in rows]

    async def add_api_usage(self, day: str, counts: Mapping[tuple[str, str], int]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO api_usage (day, endpoint, result, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (day, endpoint, result) "
                "DO UPDATE SET count = api_usage.count + excluded.count",
                [(day, endpoint, result, n) for (endpoint, result), n in counts.items() if n],
            )

    async def api_usage(self, day: str) -> dict[tuple[str, str], int]:
        rows = await self._fetchall(
            "SELECT endpoint, result, count FROM api_usage WHERE day=?", (day,)
        )
        return {(endpoint, result): count for endpoint, result, count in rows}

    async def totals(self) -> Totals:
        placeholders = ",".join("?" * len(TERMINAL_STATUSES))
        row = await self._fetchone(
            "SELECT "
            "(SELECT COUNT(*) FROM shipments sh WHERE EXISTS "
            "   (SELECT 1 FROM subscriptions s WHERE s.shipment_id = sh.id)), "
            "(SELECT COUNT(*) FROM shipments sh WHERE registered = 1 "
            f"   AND COALESCE(status, '') NOT IN ({placeholders}) AND EXISTS "
            "   (SELECT 1 FROM subscriptions s WHERE s.shipment_id = sh.id)), "
            "(SELECT COUNT(*) FROM subscriptions), "
            "(SELECT COUNT(*) FROM chats), "
            "(SELECT COUNT(*) FROM chats WHERE blocked_at IS NOT NULL), "
            "(SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL), "
            "(SELECT MIN(created_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL)",
            tuple(sorted(TERMINAL_STATUSES)),
        )
        return Totals(*row)

    async def deliveries_since(self, since: str) -> tuple[int, int]:
        """Notifications sent and given up since `since` (ISO UTC), by every replica."""
        row = await self._fetchone(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at >= ?), "
            "(SELECT COUNT(*) FROM outbox WHERE failed_at >= ? AND sent_at IS NULL)",
            (since, since),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def last_poll(self) -> str | None:
        """When TrackingMore last answered for a shipment (any replica's poll)."""
        row = await self._fetchone("SELECT MAX(last_polled_at) FROM shipments")
        return str(row[0]) if row and row[0] else None

    async def gauges(self) -> Gauges:
        """Point-in-time counts for /metrics."""
        by_status = await self._fetchall(
            "SELECT COALESCE(NULLIF(status, ''), 'unknown'), COUNT(*) FROM shipments GROUP BY 1"
        )
        row = await self._fetchone(
            "SELECT (SELECT COUNT(*) FROM chats WHERE blocked_at IS NULL), "
            "(SELECT COUNT(*) FROM chats WHERE blocked_at IS NOT NULL), "
            "(SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL), "
            "(SELECT MIN(created_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL)"
        )
        return Gauges(
            shipments_by_status={status: int(count) for status, count in by_status},
            chats_active=int(row[0]),
            chats_paused=int(row[1]),
            outbox_pending=int(row[2]),
            oldest_pending_created_at=row[3],
        )
