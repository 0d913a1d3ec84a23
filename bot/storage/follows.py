"""Subscriptions: which chat follows which shipment, with its name, mute and archive."""

from __future__ import annotations

from datetime import datetime

from bot.core.search import matches
from bot.core.times import iso_utc
from bot.storage.database import Repository
from bot.storage.records import (
    FOLLOWED_COLUMNS,
    FOLLOWED_WIDTH,
    NEWEST_EVENT_JOIN,
    SHIPMENT_COLUMNS,
    Event,
    Followed,
    Searchable,
    Shipment,
    followed_of,
    shipment_of,
)


class Follows(Repository):
    """Subscriptions, and what a chat reads about the shipments it follows."""

    async def follow(
        self,
        chat_id: int,
        courier: str,
        code: str,
        label: str | None,
        added_by: int | None,
        added_by_name: str | None,
        thread_id: int | None = None,
    ) -> tuple[Shipment, bool]:
        """Subscribe a chat (creating the shared shipment row if new), in forum topic
        `thread_id` (None: General, or a chat without topics).

        Returns the shipment and whether the chat was not following it already. A label
        given for an already followed shipment replaces the old one; added again in another
        topic, it moves there.
        """
        now = iso_utc()
        select = f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh WHERE courier=? AND code=?"
        async with self._transaction() as db:
            async with db.execute(select, (courier, code)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                # Only when missing: on PostgreSQL an INSERT that meets the existing row
                # still takes a number from the id sequence, so ids would have gaps that
                # SQLite's do not (another replica may have just added it: DO NOTHING).
                await db.execute(
                    "INSERT INTO shipments (courier, code, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (courier, code, now),
                )
                async with db.execute(select, (courier, code)) as cursor:
                    row = await cursor.fetchone()
            assert row is not None
            shipment = shipment_of(row)
            cursor = await db.execute(
                "INSERT INTO subscriptions "
                "(chat_id, shipment_id, label, added_by, added_by_name, added_at, thread_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (chat_id, shipment.id, label, added_by, added_by_name, now, thread_id),
            )
            is_new = cursor.rowcount == 1
            if not is_new:
                await db.execute(
                    "UPDATE subscriptions SET label=COALESCE(?, label), thread_id=? "
                    "WHERE chat_id=? AND shipment_id=?",
                    (label or None, thread_id, chat_id, shipment.id),
                )
        return shipment, is_new

    async def count_followed(self, chat_id: int) -> int:
        row = await self._fetchone("SELECT COUNT(*) FROM subscriptions WHERE chat_id=?", (chat_id,))
        return int(row[0])

    async def unfollow(self, chat_id: int, code: str) -> Shipment | None:
        """Stop following; returns the shipment that was followed, or None."""
        return await self._unfollow(chat_id, "sh.code=?", code)

    async def unfollow_by_id(self, chat_id: int, shipment_id: int) -> Shipment | None:
        return await self._unfollow(chat_id, "sh.id=?", shipment_id)

    async def _unfollow(self, chat_id: int, condition: str, value: object) -> Shipment | None:
        async with self._transaction() as db:
            async with db.execute(
                f"SELECT {SHIPMENT_COLUMNS} FROM shipments sh "
                "JOIN subscriptions s ON s.shipment_id = sh.id "
                f"WHERE s.chat_id=? AND {condition} ORDER BY s.added_at, sh.id LIMIT 1",
                (chat_id, value),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            shipment = shipment_of(row)
            await db.execute(
                "DELETE FROM subscriptions WHERE chat_id=? AND shipment_id=?",
                (chat_id, shipment.id),
            )
            await db.execute(
                "DELETE FROM outbox WHERE chat_id=? AND shipment_id=? AND sent_at IS NULL",
                (chat_id, shipment.id),
            )
        return shipment

    async def list_followed(
        self, chat_id: int, *, archived: bool | None = False, thread_id: int | None = None
    ) -> list[Followed]:
        """What a chat follows: the current ones, the archived ones, or (None) all; with a
        `thread_id`, only what belongs to that forum topic."""
        where = {
            False: "AND s.archived_at IS NULL",
            True: "AND s.archived_at IS NOT NULL",
            None: "",
        }[archived]
        in_topic = "" if thread_id is None else "AND s.thread_id=?"
        rows = await self._fetchall(
            f"SELECT {FOLLOWED_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"WHERE s.chat_id=? {where} {in_topic} ORDER BY s.added_at, sh.code, sh.id",
            (chat_id,) if thread_id is None else (chat_id, thread_id),
        )
        return [followed_of(r) for r in rows]

    async def searchable(self, chat_id: int) -> list[Searchable]:
        """Everything the chat follows, archived too, with its newest event, in one query
        (a chat follows at most a few hundred: /find matches them in Python)."""
        rows = await self._fetchall(
            f"SELECT {FOLLOWED_COLUMNS}, e.description, e.location "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"{NEWEST_EVENT_JOIN}"
            "WHERE s.chat_id=? ORDER BY s.added_at, sh.code, sh.id",
            (chat_id,),
        )
        width = FOLLOWED_WIDTH
        return [Searchable(followed_of(r[:width]), r[width], r[width + 1]) for r in rows]

    async def get_followed(self, chat_id: int, code: str) -> Followed | None:
        # The same number with two couriers: the one added first (added in the same
        # millisecond: the older shipment, so that both engines pick the same one).
        return await self._one_followed("sh.code=? ORDER BY s.added_at, sh.id", chat_id, code)

    async def get_followed_by_id(self, chat_id: int, shipment_id: int) -> Followed | None:
        return await self._one_followed("sh.id=?", chat_id, shipment_id)

    async def _one_followed(self, condition: str, chat_id: int, value: object) -> Followed | None:
        row = await self._fetchone(
            f"SELECT {FOLLOWED_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"WHERE s.chat_id=? AND {condition} LIMIT 1",
            (chat_id, value),
        )
        return followed_of(row) if row else None

    async def set_label(self, chat_id: int, shipment_id: int, label: str | None) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET label=? WHERE chat_id=? AND shipment_id=?",
                (label, chat_id, shipment_id),
            )

    async def set_muted(self, chat_id: int, shipment_id: int, muted: bool) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET muted=? WHERE chat_id=? AND shipment_id=?",
                (int(muted), chat_id, shipment_id),
            )
            if muted:
                await db.execute(
                    "DELETE FROM outbox WHERE chat_id=? AND shipment_id=? AND sent_at IS NULL "
                    "AND failed_at IS NULL",
                    (chat_id, shipment_id),
                )

    async def set_archived(self, chat_id: int, shipment_id: int, archived: bool) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET archived_at=? WHERE chat_id=? AND shipment_id=?",
                (iso_utc() if archived else None, chat_id, shipment_id),
            )

    async def archive_delivered(self, delivered_before: datetime) -> int:
        """Archive what was delivered before the given time; returns how many were."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET archived_at=? WHERE archived_at IS NULL "
                "AND shipment_id IN (SELECT id FROM shipments WHERE status='delivered' "
                "                    AND delivered_at <= ?)",
                (iso_utc(), iso_utc(delivered_before)),
            )
            return cursor.rowcount

    async def claim_refresh(self, shipment_id: int, not_before: datetime) -> str | None:
        """Mark a manual refresh unless one happened after `not_before`.

        Returns None when claimed, or the time of the recent refresh that blocks it.
        """
        async with self._transaction() as db:
            async with db.execute(
                "SELECT refreshed_at FROM shipments WHERE id=?", (shipment_id,)
            ) as cursor:
                row = await cursor.fetchone()
            last = row[0] if row else None
            if last is not None and last > iso_utc(not_before):
                return str(last)
            await db.execute(
                "UPDATE shipments SET refreshed_at=? WHERE id=?", (iso_utc(), shipment_id)
            )
            return None

    async def events(self, shipment_id: int, limit: int = 50) -> list[Event]:
        rows = await self._fetchall(
            "SELECT occurred_at, raw_time, status, substatus, description, location FROM events "
            "WHERE shipment_id=? ORDER BY occurred_at IS NULL, occurred_at DESC, id ASC LIMIT ?",
            (shipment_id, limit),
        )
        return [Event(*r) for r in rows]

    async def followed_by_user(
        self, user_id: int, query: str = ""
    ) -> list[tuple[Followed, Event | None]]:
        """What a user may tell others about (inline mode): what their private chat follows
        and what they added in groups, archived ones too, newest change first, each shipment
        once (as the private chat follows it, when it does), with its newest event. A `query`
        keeps those whose code or name (any of its rows') contains it, as /find matches."""
        rows = await self._fetchall(
            "SELECT e.occurred_at, e.raw_time, e.status, e.substatus, e.description, "
            f"e.location, {FOLLOWED_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"{NEWEST_EVENT_JOIN}"
            "WHERE s.chat_id=? OR s.added_by=? "
            "ORDER BY COALESCE(sh.last_change_at, sh.created_at) DESC, sh.id DESC, "
            "CASE WHEN s.chat_id=? THEN 0 ELSE 1 END, s.added_at",
            (user_id, user_id, user_id),
        )
        found: dict[int, tuple[Followed, Event | None]] = {}
        matched: set[int] = set()
        for row in rows:
            followed = followed_of(row[6:])
            shipment = followed.shipment
            event = Event(*row[:6]) if row[4] is not None else None
            found.setdefault(shipment.id, (followed, event))
            if not query or matches(query, code=shipment.code, fields=(followed.label,)):
                matched.add(shipment.id)
        return [item for shipment_id, item in found.items() if shipment_id in matched]
