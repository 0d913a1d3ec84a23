"""SQLite storage (aiosqlite): chats, shipments shared by many chats, events, outbox.

Knows nothing of Telegram or TrackingMore. One connection, one writer at a time: every
public method runs under a lock, and methods that write do so in one transaction. The
schema is versioned with `PRAGMA user_version` and migrated forward on open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.shipments import (
    DELIVERED_RECHECK_DELAYS,
    TERMINAL_STATUSES,
    Change,
    Checkpoint,
    Snapshot,
    Status,
    diff,
)
from bot.core.times import iso_utc, utcnow

logger = logging.getLogger(__name__)

MAX_EVENTS_IN_NOTIFICATION = 3

MIGRATIONS: tuple[str, ...] = (
    # v1: the first schema.
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        title TEXT,
        language TEXT,
        user_language TEXT,
        blocked_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE shipments (
        id INTEGER PRIMARY KEY,
        courier TEXT NOT NULL,
        code TEXT NOT NULL,
        carrier_id TEXT,
        registered INTEGER NOT NULL DEFAULT 0,
        status TEXT,
        substatus TEXT,
        latest_event_at TEXT,
        last_change_at TEXT,
        last_polled_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (courier, code)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        occurred_at TEXT,
        raw_time TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT '',
        substatus TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL,
        location TEXT NOT NULL DEFAULT '',
        seen_at TEXT NOT NULL,
        UNIQUE (shipment_id, fingerprint)
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        label TEXT,
        added_by INTEGER,
        added_by_name TEXT,
        added_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, shipment_id)
    );
    CREATE INDEX subscriptions_by_shipment ON subscriptions(shipment_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        sent_at TEXT,
        failed_at TEXT,
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(next_attempt_at)
        WHERE sent_at IS NULL AND failed_at IS NULL;
    """,
    # v2: API calls per day, for /stats.
    """
    CREATE TABLE api_usage (
        day TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        result TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, result)
    );
    """,
    # v3: the tracking desk: per-chat preferences, mute and archive, delivery lifecycle.
    """
    ALTER TABLE chats ADD COLUMN notify_mode TEXT NOT NULL DEFAULT 'all';
    ALTER TABLE chats ADD COLUMN quiet_start TEXT;
    ALTER TABLE chats ADD COLUMN quiet_end TEXT;
    ALTER TABLE chats ADD COLUMN digest_time TEXT;
    ALTER TABLE chats ADD COLUMN digest_sent_day TEXT;
    ALTER TABLE subscriptions ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscriptions ADD COLUMN archived_at TEXT;
    ALTER TABLE shipments ADD COLUMN delivered_at TEXT;
    ALTER TABLE shipments ADD COLUMN refreshed_at TEXT;
    ALTER TABLE shipments ADD COLUMN rechecks_left INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE shipments ADD COLUMN next_recheck_at TEXT;
    UPDATE shipments SET delivered_at = last_change_at WHERE status = 'delivered';
    CREATE INDEX events_by_seen ON events(shipment_id, seen_at);
    """,
    # v4: what TrackingMore last said, in short, so unchanged answers are not parsed again.
    """
    ALTER TABLE shipments ADD COLUMN carrier_signature TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StorageOpenError(RuntimeError):
    """The database cannot be opened or migrated; the message is one line."""


@dataclass(frozen=True)
class Chat:
    id: int
    type: str
    title: str | None
    language: str | None
    user_language: str | None
    blocked_at: str | None
    notify_mode: str = "all"
    quiet_start: str | None = None
    quiet_end: str | None = None


_CHAT_COLUMNS = (
    "id, type, title, language, user_language, blocked_at, notify_mode, quiet_start, quiet_end"
)


@dataclass(frozen=True)
class Shipment:
    id: int
    courier: str
    code: str
    carrier_id: str | None
    registered: bool
    status: str | None
    substatus: str | None
    latest_event_at: str | None
    last_change_at: str | None
    refused: bool = False  # TrackingMore refused the number as invalid
    delivered_at: str | None = None
    refreshed_at: str | None = None
    carrier_signature: str | None = None


@dataclass(frozen=True)
class Followed:
    """A shipment as one chat follows it."""

    shipment: Shipment
    label: str | None
    added_by: int | None
    added_by_name: str | None
    added_at: str
    muted: bool = False
    archived_at: str | None = None


@dataclass(frozen=True)
class Event:
    occurred_at: str | None
    raw_time: str
    status: str
    substatus: str
    description: str
    location: str


@dataclass(frozen=True)
class Totals:
    shipments_followed: int
    shipments_active: int
    subscriptions: int
    chats: int
    chats_paused: int
    outbox_backlog: int
    oldest_pending_at: str | None


@dataclass(frozen=True)
class Notification:
    id: int
    chat_id: int
    chat_type: str
    chat_language: str | None
    chat_user_language: str | None
    shipment_id: int
    courier: str
    code: str
    label: str | None
    following: bool
    payload: dict[str, Any]
    attempts: int
    created_at: str
    quiet_start: str | None = None
    quiet_end: str | None = None
    added_by: int | None = None
    added_by_name: str | None = None


_SHIPMENT_COLUMNS = (
    "sh.id, sh.courier, sh.code, sh.carrier_id, sh.registered, sh.status, sh.substatus, "
    "sh.latest_event_at, sh.last_change_at, sh.delivered_at, sh.refreshed_at, "
    "sh.carrier_signature"
)
_SHIPMENT_WIDTH = 12
_FOLLOWED_COLUMNS = (
    f"{_SHIPMENT_COLUMNS}, s.label, s.added_by, s.added_by_name, s.added_at, s.muted, s.archived_at"
)


def _shipment(row: Sequence[Any]) -> Shipment:
    return Shipment(
        id=row[0],
        courier=row[1],
        code=row[2],
        carrier_id=row[3],
        registered=row[4] == 1,
        status=row[5],
        substatus=row[6],
        latest_event_at=row[7],
        last_change_at=row[8],
        refused=row[4] == -1,
        delivered_at=row[9],
        refreshed_at=row[10],
        carrier_signature=row[11],
    )


def _followed(row: Sequence[Any]) -> Followed:
    label, added_by, added_by_name, added_at, muted, archived_at = row[_SHIPMENT_WIDTH:]
    return Followed(
        _shipment(row), label, added_by, added_by_name, added_at, bool(muted), archived_at
    )


class Storage:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Storage:
        """Open (creating it and its folder if needed) and migrate to the newest schema."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageOpenError(f"cannot open the database at {path}: {exc}") from None
        try:
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA busy_timeout=5000",
                "PRAGMA foreign_keys=ON",
                "PRAGMA synchronous=NORMAL",
            ):
                await db.execute(pragma)
            storage = cls(db)
            await storage._migrate()
        except sqlite3.Error as exc:
            await db.close()
            raise StorageOpenError(f"cannot use the database at {path}: {exc}") from None
        except StorageOpenError:
            await db.close()
            raise
        return storage

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def schema_version(self) -> int:
        async with self._lock:
            return await self._user_version()

    async def _user_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        async with self._lock:
            current = await self._user_version()
            if current > SCHEMA_VERSION:
                raise StorageOpenError(
                    f"the database has schema v{current}, newer than this postino knows "
                    f"(v{SCHEMA_VERSION}): run the newer version, or restore a backup"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                # executescript commits first; the BEGIN inside makes each step atomic.
                await self._db.executescript(
                    f"BEGIN;\n{MIGRATIONS[version - 1]}\nPRAGMA user_version={version};\nCOMMIT;"
                )
                logger.info("database migrated to schema v%d", version)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One hop to aiosqlite's thread; a cursor takes three (execute, fetchall, close).
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._lock, self._db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # --- chats -------------------------------------------------------------------------

    async def touch_chat(
        self, chat_id: int, chat_type: str, title: str | None, user_language: str | None
    ) -> Chat:
        """Create or refresh a chat seen in an update; a chat that writes is not blocked."""
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute(
                """
                INSERT INTO chats (id, type, title, user_language, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    type = excluded.type,
                    title = COALESCE(excluded.title, chats.title),
                    user_language = COALESCE(excluded.user_language, chats.user_language),
                    blocked_at = NULL
                """,
                (chat_id, chat_type, title, user_language, now),
            )
            async with db.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id=?", (chat_id,)
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return Chat(*row)

    async def get_chat(self, chat_id: int) -> Chat | None:
        row = await self._fetchone(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id=?", (chat_id,))
        return Chat(*row) if row else None

    async def set_chat_language(self, chat_id: int, language: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET language=? WHERE id=?", (language, chat_id))

    async def set_notify_mode(self, chat_id: int, mode: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET notify_mode=? WHERE id=?", (mode, chat_id))

    async def set_quiet_hours(self, chat_id: int, start: str | None, end: str | None) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE chats SET quiet_start=?, quiet_end=? WHERE id=?", (start, end, chat_id)
            )

    async def block_chat(self, chat_id: int, reason: str) -> int:
        """Pause a chat that blocked or removed the bot; drop what was queued for it."""
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET blocked_at=? WHERE id=?", (now, chat_id))
            cursor = await db.execute(
                "UPDATE outbox SET failed_at=?, last_error=? "
                "WHERE chat_id=? AND sent_at IS NULL AND failed_at IS NULL",
                (now, reason, chat_id),
            )
            return cursor.rowcount

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything of the old id moves to the new one."""
        async with self._transaction() as db:
            async with db.execute("SELECT 1 FROM chats WHERE id=?", (new_id,)) as cursor:
                exists = await cursor.fetchone() is not None
            if not exists:
                await db.execute(
                    "UPDATE chats SET id=?, type='supergroup' WHERE id=?", (new_id, old_id)
                )
                return
            await db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id=? WHERE chat_id=?", (new_id, old_id)
            )
            await db.execute("UPDATE outbox SET chat_id=? WHERE chat_id=?", (new_id, old_id))
            await db.execute(
                "UPDATE chats SET language = "
                "COALESCE(language, (SELECT language FROM chats WHERE id=?)) WHERE id=?",
                (old_id, new_id),
            )
            await db.execute("DELETE FROM chats WHERE id=?", (old_id,))

    # --- shipments and subscriptions ----------------------------------------------------

    async def get_shipment(self, courier: str, code: str) -> Shipment | None:
        row = await self._fetchone(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE courier=? AND code=?",
            (courier, code),
        )
        return _shipment(row) if row else None

    async def follow(
        self,
        chat_id: int,
        courier: str,
        code: str,
        label: str | None,
        added_by: int | None,
        added_by_name: str | None,
    ) -> tuple[Shipment, bool]:
        """Subscribe a chat (creating the shared shipment row if new).

        Returns the shipment and whether the chat was not following it already. A label
        given for an already followed shipment replaces the old one.
        """
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO shipments (courier, code, created_at) VALUES (?, ?, ?)",
                (courier, code, now),
            )
            async with db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE courier=? AND code=?",
                (courier, code),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            shipment = _shipment(row)
            cursor = await db.execute(
                "INSERT OR IGNORE INTO subscriptions "
                "(chat_id, shipment_id, label, added_by, added_by_name, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, shipment.id, label, added_by, added_by_name, now),
            )
            is_new = cursor.rowcount == 1
            if not is_new and label:
                await db.execute(
                    "UPDATE subscriptions SET label=? WHERE chat_id=? AND shipment_id=?",
                    (label, chat_id, shipment.id),
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
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh "
                "JOIN subscriptions s ON s.shipment_id = sh.id "
                f"WHERE s.chat_id=? AND {condition} ORDER BY s.added_at LIMIT 1",
                (chat_id, value),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            shipment = _shipment(row)
            await db.execute(
                "DELETE FROM subscriptions WHERE chat_id=? AND shipment_id=?",
                (chat_id, shipment.id),
            )
            await db.execute(
                "DELETE FROM outbox WHERE chat_id=? AND shipment_id=? AND sent_at IS NULL",
                (chat_id, shipment.id),
            )
        return shipment

    async def list_followed(self, chat_id: int, *, archived: bool | None = False) -> list[Followed]:
        """What a chat follows: the current ones, the archived ones, or (None) all."""
        where = {
            False: "AND s.archived_at IS NULL",
            True: "AND s.archived_at IS NOT NULL",
            None: "",
        }[archived]
        rows = await self._fetchall(
            f"SELECT {_FOLLOWED_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"WHERE s.chat_id=? {where} ORDER BY s.added_at, sh.code",
            (chat_id,),
        )
        return [_followed(r) for r in rows]

    async def get_followed(self, chat_id: int, code: str) -> Followed | None:
        # The same number with two couriers: the one added first.
        return await self._one_followed("sh.code=? ORDER BY s.added_at", chat_id, code)

    async def get_followed_by_id(self, chat_id: int, shipment_id: int) -> Followed | None:
        return await self._one_followed("sh.id=?", chat_id, shipment_id)

    async def _one_followed(self, condition: str, chat_id: int, value: object) -> Followed | None:
        row = await self._fetchone(
            f"SELECT {_FOLLOWED_COLUMNS} "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            f"WHERE s.chat_id=? AND {condition} LIMIT 1",
            (chat_id, value),
        )
        return _followed(row) if row else None

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

    async def orphan_shipments(self, limit: int = 50) -> list[Shipment]:
        """Shipments nobody follows any more: to delete at the carrier, then here."""
        rows = await self._fetchall(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE NOT EXISTS "
            "(SELECT 1 FROM subscriptions s WHERE s.shipment_id = sh.id) ORDER BY sh.id LIMIT ?",
            (limit,),
        )
        return [_shipment(r) for r in rows]

    async def events(self, shipment_id: int, limit: int = 50) -> list[Event]:
        rows = await self._fetchall(
            "SELECT occurred_at, raw_time, status, substatus, description, location FROM events "
            "WHERE shipment_id=? ORDER BY occurred_at IS NULL, occurred_at DESC, id ASC LIMIT ?",
            (shipment_id, limit),
        )
        return [Event(*r) for r in rows]

    async def shipments_to_register(self, limit: int = 1000) -> list[Shipment]:
        rows = await self._fetchall(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.registered = 0 "
            "AND EXISTS (SELECT 1 FROM subscriptions s JOIN chats c ON c.id = s.chat_id "
            "            WHERE s.shipment_id = sh.id AND c.blocked_at IS NULL) "
            "ORDER BY sh.id LIMIT ?",
            (limit,),
        )
        return [_shipment(r) for r in rows]

    async def shipments_to_poll(self, after_id: int = 0, limit: int = -1) -> list[Shipment]:
        """Registered and followed by a chat that is not paused; not terminal, except
        delivered ones due for one of their re-checks (a delivery can turn into a return).

        In id order, those after `after_id`, at most `limit` (-1: all): a page at a time,
        a poll cycle holds a page of them in memory, not all of them.
        """
        placeholders = ",".join("?" * len(TERMINAL_STATUSES))
        rows = await self._fetchall(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.registered = 1 "
            f"AND (COALESCE(sh.status, '') NOT IN ({placeholders}) "
            "     OR (sh.status = 'delivered' AND sh.rechecks_left > 0 "
            "         AND sh.next_recheck_at <= ?)) "
            "AND EXISTS (SELECT 1 FROM subscriptions s JOIN chats c ON c.id = s.chat_id "
            "            WHERE s.shipment_id = sh.id AND c.blocked_at IS NULL) "
            "AND sh.id > ? ORDER BY sh.id LIMIT ?",
            (*sorted(TERMINAL_STATUSES), iso_utc(), after_id, limit),
        )
        return [_shipment(r) for r in rows]

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

    async def ingest(
        self,
        snapshots: Sequence[Snapshot],
        *,
        unchanged: Sequence[int] = (),
        notify: bool = True,
    ) -> list[Change]:
        """Store what is new in these snapshots, and queue one notification per chat and change.

        Events, the new status and the outbox rows are written in one transaction, so a
        crash either keeps all of a change or none of it; the diff runs under the same
        lock, so two paths seeing the same change (poll and push) store it once. Each kind
        of write is one statement for the whole batch: a poll cycle ingests 40 at a time.
        `unchanged` are the ids of shipments of the same poll that TrackingMore answered
        exactly as last time: their poll is recorded in the same transaction.
        """
        if not snapshots and not unchanged:
            return []
        now = iso_utc()
        async with self._transaction() as db:
            changes = await self._ingest_snapshots(db, snapshots, now, notify=notify)
            await self._record_unchanged(db, unchanged, now)
        return changes

    async def _ingest_snapshots(
        self, db: aiosqlite.Connection, snapshots: Sequence[Snapshot], now: str, *, notify: bool
    ) -> list[Change]:
        if not snapshots:
            return []
        changes: list[Change] = []
        polled: list[tuple[str, str, str, int]] = []
        rechecked: list[_Stored] = []
        stored = await self._load_for_diff(db, snapshots)
        for snapshot in snapshots:
            entry = stored.get((snapshot.courier, snapshot.code))
            if entry is None:
                continue
            polled.append((now, snapshot.carrier_id, snapshot.signature, entry.id))
            change = diff(entry.id, entry.status, entry.fingerprints, snapshot)
            if change is not None:
                changes.append(change)
            elif entry.status == Status.DELIVERED:
                rechecked.append(entry)
        await _write_all(
            db,
            "UPDATE shipments SET registered=1, last_polled_at=?, "
            "carrier_id=COALESCE(NULLIF(?, ''), carrier_id), "
            "carrier_signature=NULLIF(?, '') WHERE id=?",
            polled,
        )
        await self._count_rechecks(db, rechecked)
        await self._store_changes(db, changes, now, notify=notify)
        return changes

    async def _record_unchanged(
        self, db: aiosqlite.Connection, shipment_ids: Sequence[int], now: str
    ) -> None:
        """Nothing to diff, but the poll counts (a delivered shipment due for a re-check has
        had it)."""
        if not shipment_ids:
            return
        marks = ",".join("?" * len(shipment_ids))
        rows = await db.execute_fetchall(
            "SELECT id, status, rechecks_left, next_recheck_at FROM shipments "
            f"WHERE id IN ({marks}) AND status = 'delivered'",
            list(shipment_ids),
        )
        await self._count_rechecks(db, [_Stored(*row, set()) for row in rows])
        await _write_all(
            db,
            "UPDATE shipments SET last_polled_at=? WHERE id=?",
            [(now, shipment_id) for shipment_id in shipment_ids],
        )

    async def _load_for_diff(
        self, db: aiosqlite.Connection, snapshots: Sequence[Snapshot]
    ) -> dict[tuple[str, str], _Stored]:
        keys = list({(s.courier, s.code) for s in snapshots})
        values = ",".join("(?, ?)" for _ in keys)
        params = [part for key in keys for part in key]
        # A join, not `(courier, code) IN (VALUES …)`: SQLite scans the whole table for that.
        # execute_fetchall: one hop to aiosqlite's thread, where `async for` makes one per row.
        rows = await db.execute_fetchall(
            f"WITH k(courier, code) AS (VALUES {values}) "
            "SELECT sh.id, sh.courier, sh.code, sh.status, sh.rechecks_left, sh.next_recheck_at "
            "FROM k JOIN shipments sh ON sh.courier = k.courier AND sh.code = k.code",
            params,
        )
        by_id = {row[0]: _Stored(row[0], row[3], row[4], row[5], set()) for row in rows}
        keyed = {(row[1], row[2]): by_id[row[0]] for row in rows}
        if by_id:
            marks = ",".join("?" * len(by_id))
            events = await db.execute_fetchall(
                f"SELECT shipment_id, fingerprint FROM events WHERE shipment_id IN ({marks})",
                list(by_id),
            )
            for shipment_id, fingerprint in events:
                by_id[shipment_id].fingerprints.add(fingerprint)
        return keyed

    async def _count_rechecks(self, db: aiosqlite.Connection, entries: Sequence[_Stored]) -> None:
        """Delivered shipments were looked at again and had not changed."""
        now, updates = iso_utc(), []
        for entry in entries:
            if entry.rechecks_left <= 0 or (entry.next_recheck_at and entry.next_recheck_at > now):
                continue
            left = entry.rechecks_left - 1
            delay = DELIVERED_RECHECK_DELAYS[len(DELIVERED_RECHECK_DELAYS) - left] if left else None
            updates.append((left, iso_utc(utcnow() + delay) if delay else None, entry.id))
        await _write_all(
            db, "UPDATE shipments SET rechecks_left=?, next_recheck_at=? WHERE id=?", updates
        )

    async def _track_deliveries(
        self, db: aiosqlite.Connection, changes: Sequence[Change], now: str
    ) -> None:
        """Delivered: schedule the re-checks. No longer delivered (a return): active again."""
        first_recheck = iso_utc(utcnow() + DELIVERED_RECHECK_DELAYS[0])
        delivered = [
            (now, len(DELIVERED_RECHECK_DELAYS), first_recheck, c.shipment_id)
            for c in changes
            if c.new_status == Status.DELIVERED and c.old_status != Status.DELIVERED
        ]
        returned = [
            (c.shipment_id,)
            for c in changes
            if c.old_status == Status.DELIVERED and c.new_status != Status.DELIVERED
        ]
        await _write_all(
            db,
            "UPDATE shipments SET delivered_at=?, rechecks_left=?, next_recheck_at=? WHERE id=?",
            delivered,
        )
        await _write_all(
            db,
            "UPDATE shipments SET delivered_at=NULL, rechecks_left=0, next_recheck_at=NULL "
            "WHERE id=?",
            returned,
        )
        await _write_all(
            db, "UPDATE subscriptions SET archived_at=NULL WHERE shipment_id=?", returned
        )

    async def _store_changes(
        self, db: aiosqlite.Connection, changes: Sequence[Change], now: str, *, notify: bool
    ) -> None:
        if not changes:
            return
        await db.executemany(
            "INSERT OR IGNORE INTO events (shipment_id, fingerprint, occurred_at, raw_time, "
            "status, substatus, description, location, seen_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [_event_row(c.shipment_id, cp, now) for c in changes for cp in c.new_checkpoints],
        )
        await db.executemany(
            "UPDATE shipments SET status=?, substatus=?, last_change_at=?, "
            "latest_event_at=CASE WHEN ? IS NOT NULL AND (latest_event_at IS NULL "
            "    OR ? > latest_event_at) THEN ? ELSE latest_event_at END WHERE id=?",
            [_status_row(c, now) for c in changes],
        )
        await self._track_deliveries(db, changes, now)
        if not notify:
            return
        # Muted subscriptions hear nothing; "important" chats only the changes that matter.
        await _write_all(
            db,
            "INSERT INTO outbox (chat_id, shipment_id, payload, created_at, next_attempt_at) "
            "SELECT s.chat_id, s.shipment_id, ?, ?, ? FROM subscriptions s "
            "JOIN chats c ON c.id = s.chat_id "
            "WHERE s.shipment_id=? AND c.blocked_at IS NULL AND s.muted = 0 "
            "AND (c.notify_mode = 'all' OR ?)",
            [
                (
                    json.dumps(_payload(c), ensure_ascii=False),
                    now,
                    now,
                    c.shipment_id,
                    c.important,
                )
                for c in changes
                if c.worth_telling
            ],
        )

    # --- desk reports -------------------------------------------------------------------
    # /export, /summary and the daily digest (bot/reports.py renders them).

    async def desk_rows(self, chat_id: int, *, archived: bool) -> list[DeskRow]:
        """Every shipment the chat follows with its newest event, in one query; archived
        subscriptions only when `archived` is true."""
        where = "" if archived else "AND s.archived_at IS NULL"
        rows = await self._fetchall(
            "SELECT sh.code, sh.courier, s.label, sh.status, sh.substatus, sh.registered = -1, "
            "sh.latest_event_at, sh.last_change_at, s.added_by_name, s.added_at, "
            "sh.delivered_at, s.archived_at, s.muted, "
            "e.description, e.location, e.occurred_at, e.raw_time "
            "FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
            "LEFT JOIN events e ON e.id = (SELECT id FROM events WHERE shipment_id = sh.id "
            "    ORDER BY occurred_at IS NULL, occurred_at DESC, id ASC LIMIT 1) "
            f"WHERE s.chat_id=? {where} ORDER BY s.added_at, sh.code",
            (chat_id,),
        )
        return [_desk_row(r) for r in rows]

    async def digest_schedule(self, chat_id: int) -> tuple[str | None, str | None]:
        """The chat's digest time ('HH:MM', Rome) and the Rome day it was last sent."""
        row = await self._fetchone(
            "SELECT digest_time, digest_sent_day FROM chats WHERE id=?", (chat_id,)
        )
        return (row[0], row[1]) if row else (None, None)

    async def set_digest(self, chat_id: int, clock: str | None, sent_day: str | None) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE chats SET digest_time=?, digest_sent_day=? WHERE id=?",
                (clock, sent_day, chat_id),
            )

    async def chats_due_for_digest(self, clock: str, day: str) -> list[DigestChat]:
        """Chats not paused whose digest time ('HH:MM') is at or before `clock` and that
        have not had one on `day` (both Rome)."""
        rows = await self._fetchall(
            "SELECT id, type, language, user_language FROM chats "
            "WHERE digest_time IS NOT NULL AND digest_time <= ? "
            "AND (digest_sent_day IS NULL OR digest_sent_day < ?) AND blocked_at IS NULL "
            "ORDER BY id",
            (clock, day),
        )
        return [DigestChat(*r) for r in rows]

    async def mark_digest_sent(self, chat_id: int, day: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET digest_sent_day=? WHERE id=?", (day, chat_id))

    # --- outbox -------------------------------------------------------------------------

    async def due_notifications(
        self,
        limit: int = 200,
        *,
        private: bool | None = None,
        excluding: Collection[int] = (),
    ) -> list[Notification]:
        """Due notifications, oldest first: to private chats, to groups, or (None) to all;
        none to the chats in `excluding` (the sender is already serving them)."""
        skipped = tuple(excluding)
        rows = await self._fetchall(
            "SELECT o.id, o.chat_id, c.type, c.language, c.user_language, o.shipment_id, "
            "sh.courier, sh.code, s.label, s.chat_id IS NOT NULL, o.payload, o.attempts, "
            "o.created_at, c.quiet_start, c.quiet_end, s.added_by, s.added_by_name "
            "FROM outbox o JOIN chats c ON c.id = o.chat_id "
            "JOIN shipments sh ON sh.id = o.shipment_id "
            "LEFT JOIN subscriptions s ON s.chat_id = o.chat_id AND s.shipment_id = o.shipment_id "
            "WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ? "
            f"AND c.blocked_at IS NULL {_lane(private)} {_not_in('o.chat_id', skipped)} "
            "ORDER BY o.id LIMIT ?",
            (iso_utc(), *skipped, limit),
        )
        return [
            Notification(
                id=r[0],
                chat_id=r[1],
                chat_type=r[2],
                chat_language=r[3],
                chat_user_language=r[4],
                shipment_id=r[5],
                courier=r[6],
                code=r[7],
                label=r[8],
                following=bool(r[9]),
                payload=json.loads(r[10]),
                attempts=r[11],
                created_at=r[12],
                quiet_start=r[13],
                quiet_end=r[14],
                added_by=r[15],
                added_by_name=r[16],
            )
            for r in rows
        ]

    async def next_notification_due(
        self, *, private: bool | None = None, excluding: Collection[int] = ()
    ) -> str | None:
        skipped = tuple(excluding)
        row = await self._fetchone(
            "SELECT MIN(o.next_attempt_at) FROM outbox o JOIN chats c ON c.id = o.chat_id "
            f"WHERE o.sent_at IS NULL AND o.failed_at IS NULL {_lane(private)} "
            f"{_not_in('o.chat_id', skipped)}",
            skipped,
        )
        return row[0] if row else None

    async def mark_sent(self, notification_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET sent_at=?, attempts=attempts+1 WHERE id=?",
                (iso_utc(), notification_id),
            )

    async def mark_retry(self, notification_id: int, next_attempt: datetime, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? WHERE id=?",
                (iso_utc(next_attempt), error[:500], notification_id),
            )

    async def postpone_chat(
        self, notification_id: int, chat_id: int, until: datetime, error: str
    ) -> None:
        """Telegram said to wait before writing to this chat again: this notification is
        tried again then (an attempt spent), and the chat's others not before then."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? WHERE id=?",
                (iso_utc(until), error[:500], notification_id),
            )
            await db.execute(
                "UPDATE outbox SET next_attempt_at=? WHERE chat_id=? AND id != ? "
                "AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at < ?",
                (iso_utc(until), chat_id, notification_id, iso_utc(until)),
            )

    async def mark_failed(self, notification_id: int, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, failed_at=?, last_error=? WHERE id=?",
                (iso_utc(), error[:500], notification_id),
            )

    async def outbox_backlog(self) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        )
        return int(row[0])

    # --- operations ---------------------------------------------------------------------

    async def add_api_usage(self, day: str, counts: Mapping[tuple[str, str], int]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO api_usage (day, endpoint, result, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (day, endpoint, result) DO UPDATE SET count = count + excluded.count",
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

    # --- pushes, /metrics and doctor (read-only) -----------------------------------------

    async def find_shipment(self, courier: str, code: str) -> Shipment | None:
        """The stored shipment for a (courier, code) as TrackingMore spells it (any case)."""
        # Exactly as stored, through the index, nearly always; in any case only if not: that
        # needs a scan of the whole table (6 ms at 50,000 shipments, under the lock).
        row = await self._fetchone(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh WHERE sh.courier = ? AND sh.code = ?",
            (courier, code),
        ) or await self._fetchone(
            f"SELECT {_SHIPMENT_COLUMNS} FROM shipments sh "
            "WHERE sh.courier = ? COLLATE NOCASE AND sh.code = ? COLLATE NOCASE "
            "ORDER BY sh.code = ? DESC LIMIT 1",
            (courier, code, code),
        )
        return _shipment(row) if row else None

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


@dataclass(frozen=True)
class Gauges:
    shipments_by_status: dict[str, int]
    chats_active: int
    chats_paused: int
    outbox_pending: int
    oldest_pending_created_at: str | None


@dataclass(frozen=True)
class DeskRow:
    """One shipment as a chat follows it, with its newest event: a line of the desk reports."""

    code: str
    courier: str
    label: str | None
    status: str | None
    substatus: str | None
    refused: bool
    latest_event_at: str | None  # naive Europe/Rome
    last_change_at: str | None  # UTC
    added_by_name: str | None
    added_at: str  # UTC
    delivered_at: str | None  # UTC
    archived_at: str | None  # UTC
    muted: bool
    event_description: str | None
    event_location: str | None
    event_occurred_at: str | None  # naive Europe/Rome
    event_raw_time: str | None


def _desk_row(row: Sequence[Any]) -> DeskRow:
    values = list(row)
    values[5] = bool(values[5])
    values[12] = bool(values[12])
    return DeskRow(*values)


@dataclass(frozen=True)
class DigestChat:
    id: int
    type: str
    language: str | None
    user_language: str | None


def _lane(private: bool | None) -> str:
    """The SQL condition on `c` (chats) for one lane of the outbox."""
    return {None: "", True: "AND c.type = 'private'", False: "AND c.type != 'private'"}[private]


def _not_in(column: str, values: Collection[object]) -> str:
    """`AND column NOT IN (?, …)` for that many parameters, or nothing when there are none."""
    return f"AND {column} NOT IN ({','.join('?' * len(values))})" if values else ""


async def _write_all(db: aiosqlite.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """executemany, skipped when there is nothing to write (each call is a thread hop)."""
    if rows:
        await db.executemany(sql, rows)


@dataclass
class _Stored:
    """A shipment as the diff needs it."""

    id: int
    status: str | None
    rechecks_left: int
    next_recheck_at: str | None
    fingerprints: set[str]


def _status_row(change: Change, now: str) -> tuple[Any, ...]:
    latest = next((c for c in change.new_checkpoints if c.occurred_at), None)
    latest_at = _iso_local(latest.occurred_at) if latest else None
    return (
        change.new_status,
        change.substatus,
        now,
        latest_at,
        latest_at,
        latest_at,
        change.shipment_id,
    )


def _iso_local(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _event_row(shipment_id: int, checkpoint: Checkpoint, now: str) -> tuple[Any, ...]:
    return (
        shipment_id,
        checkpoint.fingerprint,
        _iso_local(checkpoint.occurred_at),
        checkpoint.raw_time,
        checkpoint.status,
        checkpoint.substatus,
        checkpoint.description,
        checkpoint.location,
        now,
    )


def _payload(change: Change) -> dict[str, Any]:
    """What a notification needs, rendered later in the language of each chat."""
    return {
        "old_status": change.old_status,
        "status": change.new_status,
        "substatus": change.substatus,
        "events": [
            {
                "description": c.description,
                "location": c.location,
                "occurred_at": _iso_local(c.occurred_at),
                "raw_time": c.raw_time,
                "status": c.status,
            }
            for c in change.new_checkpoints[:MAX_EVENTS_IN_NOTIFICATION]
        ],
        "more_events": max(0, len(change.new_checkpoints) - MAX_EVENTS_IN_NOTIFICATION),
    }
