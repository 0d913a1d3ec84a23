"""Shipments as the engine sees them: what to register, what to poll, what to forget."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.shipments import TERMINAL_STATUSES
from bot.core.times import iso_utc
from bot.storage.database import Repository
from bot.storage.records import SHIPMENT_COLUMNS, Shipment, shipment_of

# LIMIT for "no limit" in both engines' words (SQLite's -1 is an error on PostgreSQL).
_ALL = 2**62


class Shipments(Repository):
    """The shipments table, shared by every chat that follows a (courier, code)."""

    async def get_shipment(self, courier: str, code: str) -> Shipment | None:
        row = await self._fetchone(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE courier=? AND code=?",
            (courier, code),
        )
        return shipment_of(row) if row else None

    async def find_shipment(self, courier: str, code: str) -> Shipment | None:
        """The stored shipment for a (courier, code) as TrackingMore spells it (any case)."""
        # Exactly as stored, through the index, nearly always; in any case only if not: that
        # needs a scan of the whole table (6 ms at 50,000 shipments, under the lock).
        row = await self._fetchone(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.courier = ? AND sh.code = ?",
            (courier, code),
        ) or await self._fetchone(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh "
            "WHERE lower(sh.courier) = lower(?) AND lower(sh.code) = lower(?) "
            "ORDER BY sh.code = ? DESC LIMIT 1",
            (courier, code, code),
        )
        return shipment_of(row) if row else None

    async def orphan_shipments(self, limit: int = 50) -> list[Shipment]:
        """Shipments nobody follows any more: to delete at the carrier, then here."""
        rows = await self._fetchall(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE NOT EXISTS "
            "(SELECT 1 FROM subscriptions s WHERE s.shipment_id = sh.id) ORDER BY sh.id LIMIT ?",
            (limit,),
        )
        return [shipment_of(r) for r in rows]

    async def shipments_to_register(self, limit: int = 1000) -> list[Shipment]:
        rows = await self._fetchall(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.registered = 0 "
            "AND EXISTS (SELECT 1 FROM subscriptions s JOIN chats c ON c.id = s.chat_id "
            "            WHERE s.shipment_id = sh.id AND c.blocked_at IS NULL) "
            "ORDER BY sh.id LIMIT ?",
            (limit,),
        )
        return [shipment_of(r) for r in rows]

    async def shipments_to_poll(self, after_id: int = 0, limit: int = -1) -> list[Shipment]:
        """Registered and followed by a chat that is not paused; not terminal, except
        delivered ones due for one of their re-checks (a delivery can turn into a return).

        In id order, those after `after_id`, at most `limit` (-1: all): a page at a time,
        a poll cycle holds a page of them in memory, not all of them.
        """
        placeholders = ",".join("?" * len(TERMINAL_STATUSES))
        rows = await self._fetchall(
            f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.registered = 1 "
            f"AND (COALESCE(sh.status, '') NOT IN ({placeholders}) "
            "     OR (sh.status = 'delivered' AND sh.rechecks_left > 0 "
            "         AND sh.next_recheck_at <= ?)) "
            "AND EXISTS (SELECT 1 FROM subscriptions s JOIN chats c ON c.id = s.chat_id "
            "            WHERE s.shipment_id = sh.id AND c.blocked_at IS NULL) "
            "AND sh.id > ? ORDER BY sh.id LIMIT ?",
            (*sorted(TERMINAL_STATUSES), iso_utc(), after_id, limit if limit >= 0 else _ALL),
        )
        return [shipment_of(r) for r in rows]

    async def mark_registered(self, keys: Iterable[tuple[str, str]]) -> None:
        """Numbers TrackingMore accepted without telling their state yet."""
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE shipments SET registered=1 WHERE courier=? AND code=?", list(keys)
            )

    async def mark_refused(self, keys: Iterable[tuple[str, str]]) -> None:
        """Numbers TrackingMore refuses as invalid: never asked about again."""
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE shipments SET registered=-1 WHERE courier=? AND code=?", list(keys)
            )

    async def mark_unregistered(self, keys: Iterable[tuple[str, str]]) -> None:
        """Numbers TrackingMore no longer knows: register them again next cycle."""
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE shipments SET registered=0 WHERE courier=? AND code=?", list(keys)
            )

    async def forget_shipment(self, shipment_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "DELETE FROM shipments WHERE id=? AND NOT EXISTS "
                "(SELECT 1 FROM subscriptions WHERE shipment_id=?)",
                (shipment_id, shipment_id),
            )
