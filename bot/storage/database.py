"""The SQLite connection: opened, migrated, and used one statement or transaction at a time.

The lock lets urgent writes go first: marking a message sent must not wait behind reads and
the poll cycle's work, since until it lands a crash would send that message again. A write
the disk refuses (full, read-only, I/O error) is rolled back whole and raised as
`StorageWriteError`; the write listeners hear once when writes start failing and once when
they work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)


class StorageOpenError(RuntimeError):
    """The database cannot be opened or migrated; the message is one line."""


class StorageWriteError(RuntimeError):
    """The database cannot be written now (disk full, read-only, I/O error); nothing of the
    write was kept. Reads still work, and writes work again once the disk does."""


# SQLite's primary result codes that mean "the disk will not take it", not "the SQL is wrong".
_WRITE_FAILURES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR}
WriteListener = Callable[[str | None], Awaitable[None]]
# Writes count as working again once they have, with none refused for this long.
WRITES_RECOVERED_AFTER = 5.0


def write_failure(exc: BaseException) -> str | None:
    """The one-line reason when `exc` is the disk refusing a write, else None."""
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if isinstance(code, int) and (code & 0xFF) in _WRITE_FAILURES:
        return str(exc)
    return None


class _UrgentFirstLock:
    """An asyncio lock whose urgent waiters are served before the others, each kind in order."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def held(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # it was handed over just as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # already skipped by a release
                    queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # handed over: still held
                    return
        self._held = False


class Database:
    """One aiosqlite connection; every statement and transaction runs under one lock."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = _UrgentFirstLock()
        self._write_listeners: list[WriteListener] = []
        self._writes_failing = False
        self._last_write_failure = 0.0

    @classmethod
    async def open(cls, path: Path) -> Database:
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
        async with self._lock.held():
            await self._db.close()

    async def schema_version(self) -> int:
        async with self._lock.held():
            return await self._user_version()

    def add_write_listener(self, listener: WriteListener) -> None:
        """`listener(error)` when writes start failing, `listener(None)` when they work again."""
        self._write_listeners.append(listener)

    @property
    def writes_failing(self) -> bool:
        return self._writes_failing

    def _writes_ok(self, changes_before: int) -> None:
        """A write went through. It shows the disk takes writes again only if it wrote
        something (one that matched no row writes nothing, even on a full disk) and no write
        failed for a while: a nearly full disk takes some writes and refuses others."""
        if (
            self._writes_failing
            and self._db.total_changes > changes_before
            and time.monotonic() - self._last_write_failure >= WRITES_RECOVERED_AFTER
        ):
            self._writes_failing = False
            logger.warning("the database takes writes again")
            self._tell(None)

    def _write_failed(self, error: str) -> StorageWriteError:
        self._last_write_failure = time.monotonic()
        if not self._writes_failing:
            self._writes_failing = True
            logger.error("the database refuses writes: %s", error)
            self._tell(error)
        return StorageWriteError(f"the database cannot be written: {error}")

    def _tell(self, error: str | None) -> None:
        for listener in self._write_listeners:
            # Not awaited here: the caller holds (or just held) the lock, and telling the
            # admins takes Telegram's time.
            task = asyncio.get_running_loop().create_task(_safely(listener, error))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)

    async def _user_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        async with self._lock.held():
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock.held():
            changes_before = self._db.total_changes
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    await self._db.commit()
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already
                        await self._db.rollback()
                    raise
            except sqlite3.Error as exc:
                if (error := write_failure(exc)) is None:
                    raise
                raise self._write_failed(error) from exc
            self._writes_ok(changes_before)

    async def write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        """One statement, atomic on its own: one hop to aiosqlite's thread, none for BEGIN and
        COMMIT. `urgent` goes before every other waiter for the connection."""
        async with self._lock.held(urgent=urgent):
            changes_before = self._db.total_changes
            try:
                await self._db.execute_fetchall(sql, params)
            except sqlite3.Error as exc:
                if (error := write_failure(exc)) is None:
                    raise
                raise self._write_failed(error) from exc
            self._writes_ok(changes_before)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One hop to aiosqlite's thread; a cursor takes three (execute, fetchall, close).
        async with self._lock.held():
            return list(await self._db.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._lock.held(), self._db.execute(sql, params) as cursor:
            return await cursor.fetchone()


_PENDING: set[asyncio.Task[None]] = set()


async def _safely(listener: WriteListener, error: str | None) -> None:
    try:
        await listener(error)
    except Exception:
        logger.exception("a database write listener failed")


class Repository:
    """Base of the per-aggregate stores: they share one Database (one connection, one lock)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def _transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return self._database.transaction()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self._database.fetchall(sql, params)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._database.fetchone(sql, params)

    async def _write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        await self._database.write(sql, params, urgent=urgent)


async def write_all(db: aiosqlite.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """executemany, skipped when there is nothing to write (each call is a thread hop)."""
    if rows:
        await db.executemany(sql, rows)


def not_in(column: str, values: Collection[object]) -> str:
    """`AND column NOT IN (?, …)` for that many parameters, or nothing when there are none."""
    return f"AND {column} NOT IN ({','.join('?' * len(values))})" if values else ""
