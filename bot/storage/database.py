"""The database as the stores use it, whichever engine is behind it.

A write the database refuses (disk full, read-only, I/O error, the server gone) is rolled
back whole and raised as `StorageWriteError`; the write listeners hear once when writes
start failing and once when they work again. The urgent-first lock is SQLite's: one
connection, where marking a message sent must not wait behind reads and the poll cycle's
work, since until it lands a crash would send that message again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.storage.connection import Connection, Row

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


class Database(ABC):
    """The engine-neutral face of the database: transactions, single statements, reads, and
    the write listeners. `SqliteDatabase` and `PostgresDatabase` are the engines."""

    engine: str = ""

    def __init__(self) -> None:
        self._write_listeners: list[WriteListener] = []
        self._writes_failing = False
        self._last_write_failure = 0.0

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction; on SQLite the only writer until it ends."""

    @abstractmethod
    async def write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        """One statement, atomic on its own. `urgent` goes first where the engine queues."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    def add_write_listener(self, listener: WriteListener) -> None:
        """`listener(error)` when writes start failing, `listener(None)` when they work again."""
        self._write_listeners.append(listener)

    @property
    def writes_failing(self) -> bool:
        return self._writes_failing

    def _writes_ok(self, wrote: bool) -> None:
        """A write went through. It shows the disk takes writes again only if it wrote
        something (one that matched no row writes nothing, even on a full disk) and no write
        failed for a while: a nearly full disk takes some writes and refuses others."""
        if (
            self._writes_failing
            and wrote
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
            # Not awaited here: the caller holds (or just held) the connection, and telling
            # the admins takes Telegram's time.
            task = asyncio.get_running_loop().create_task(_safely(listener, error))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)


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

    def _transaction(self) -> AbstractAsyncContextManager[Connection]:
        return self._database.transaction()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._database.fetchall(sql, params)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._database.fetchone(sql, params)

    async def _write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        await self._database.write(sql, params, urgent=urgent)


async def write_all(db: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """executemany, skipped when there is nothing to write (each call is a thread hop)."""
    if rows:
        await db.executemany(sql, rows)


def not_in(column: str, values: Collection[object]) -> str:
    """`AND column NOT IN (?, …)` for that many parameters, or nothing when there are none."""
    return f"AND {column} NOT IN ({','.join('?' * len(values))})" if values else ""
