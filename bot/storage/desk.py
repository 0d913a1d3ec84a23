"""The web desk: single-use login links, browser sessions, and the rows the page shows.

Only SHA-256 hashes of link tokens and session ids reach the database (the caller hashes);
every replica sharing the database knows every link and session.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.times import iso_utc
from bot.storage.database import Repository
from bot.storage.records import DESK_ROW_COLUMNS, NEWEST_EVENT_JOIN, DeskRow, desk_row_of


@dataclass(frozen=True)
class DeskGrant:
    """Who a link or a session lets in: one user, for one chat."""

    chat_id: int
    user_id: int
    user_name: str | None
    last_seen_at: str | None = None  # sessions only


@dataclass(frozen=True)
class DeskEntry:
    """A desk row with what the page acts on: the shipment's id and who added it."""

    shipment_id: int
    added_by: int | None
    row: DeskRow


_ENTRY_COLUMNS = f"sh.id, s.added_by, {DESK_ROW_COLUMNS}"


class DeskAccess(Repository):
    """desk_links and desk_sessions, and the desk's reads of a chat's shipments."""

    async def add_link(
        self,
        token_hash: str,
        grant: DeskGrant,
        expires_at: datetime,
        now: datetime | None = None,
    ) -> None:
        await self._write(
            "INSERT INTO desk_links "
            "(token_hash, chat_id, user_id, user_name, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token_hash,
                grant.chat_id,
                grant.user_id,
                grant.user_name,
                iso_utc(now),
                iso_utc(expires_at),
            ),
        )

    async def use_link(self, token_hash: str, now: datetime | None = None) -> DeskGrant | None:
        """The link's grant, marking it used; None when unknown, used or expired. Two
        replicas opening the same link at once: only one UPDATE matches."""
        moment = iso_utc(now)
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE desk_links SET used_at=? "
                "WHERE token_hash=? AND used_at IS NULL AND expires_at > ?",
                (moment, token_hash, moment),
            )
            if cursor.rowcount != 1:
                return None
            async with db.execute(
                "SELECT chat_id, user_id, user_name FROM desk_links WHERE token_hash=?",
                (token_hash,),
            ) as rows:
                row = await rows.fetchone()
        return None if row is None else DeskGrant(int(row[0]), int(row[1]), row[2])

    async def add_session(
        self, id_hash: str, grant: DeskGrant, now: datetime | None = None
    ) -> None:
        moment = iso_utc(now)
        await self._write(
            "INSERT INTO desk_sessions "
            "(id_hash, chat_id, user_id, user_name, created_at, last_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (id_hash, grant.chat_id, grant.user_id, grant.user_name, moment, moment),
        )

    async def session(self, id_hash: str, idle_since: datetime) -> DeskGrant | None:
        """The session's grant unless unknown or unused since `idle_since`."""
        row = await self._fetchone(
            "SELECT chat_id, user_id, user_name, last_seen_at FROM desk_sessions "
            "WHERE id_hash=? AND last_seen_at > ?",
            (id_hash, iso_utc(idle_since)),
        )
        return None if row is None else DeskGrant(int(row[0]), int(row[1]), row[2], row[3])

    async def touch_session(self, id_hash: str, now: datetime | None = None) -> None:
        await self._write(
            "UPDATE desk_sessions SET last_seen_at=? WHERE id_hash=?", (iso_utc(now), id_hash)
        )

    async def prune(self, links_before: datetime, sessions_idle_since: datetime) -> None:
        """Forget links expired before `links_before` and sessions idle since the other."""
        async with self._transaction() as db:
            await db.execute(
                "DELETE FROM desk_links WHERE expires_at < ?", (iso_utc(links_before),)
            )
            await db.execute(
                "DELETE FROM desk_sessions WHERE last_seen_at < ?",
                (iso_utc(sessions_idle_since),),
            )

    async def fingerprint(self, chat_id: int) -> list[tuple[Any, ...]]:
        """What the desk's rows of the chat are made of, without the newest-event lookup
        (a change of the newest event moves last_change_at): a page polling every 2 s costs
        one index scan of the chat's subscriptions while nothing changes."""
        rows = await self._fetchall(
            "SELECT sh.id, s.label, s.muted, s.archived_at, s.added_by, s.thread_id, "
            "sh.status, sh.substatus, sh.registered, sh.latest_event_at, sh.last_change_at, "
            "sh.delivered_at, sh.expected_delivery, sh.signed_by, sh.transit_days "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            "WHERE s.chat_id=? ORDER BY sh.id",
            (chat_id,),
        )
        return [tuple(r) for r in rows]

    async def entries(
        self, chat_id: int, shipment_ids: Collection[int] | None = None
    ) -> list[DeskEntry]:
        """Every shipment the chat follows (archived too) with its newest event, in /export's
        order; only those of `shipment_ids` when given."""
        where, params = "", [chat_id]
        if shipment_ids is not None:
            if not shipment_ids:
                return []
            where = f"AND sh.id IN ({','.join('?' * len(shipment_ids))})"
            params += [int(i) for i in shipment_ids]
        rows = await self._fetchall(
            f"SELECT {_ENTRY_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"{NEWEST_EVENT_JOIN}"
            f"WHERE s.chat_id=? {where} ORDER BY s.added_at, sh.code, sh.id",
            params,
        )
        return [DeskEntry(int(r[0]), r[1], desk_row_of(r[2:])) for r in rows]
