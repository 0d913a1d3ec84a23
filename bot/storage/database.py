"""The SQLite connection: opened, migrated, and used one statement or transaction at a time."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)


class StorageOpenError(RuntimeError):
    """The database cannot be opened or migrated; the message is one line."""


class Database:
    """One aiosqlite connection; every statement and transaction runs under one lock."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One hop to aiosqlite's thread; a cursor takes three (execute, fetchall, close).
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._lock, self._db.execute(sql, params) as cursor:
            return await cursor.fetchone()


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


async def write_all(db: aiosqlite.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """executemany, skipped when there is nothing to write (each call is a thread hop)."""
    if rows:
        await db.executemany(sql, rows)


def not_in(column: str, values: Collection[object]) -> str:
    """`AND column NOT IN (?, …)` for that many parameters, or nothing when there are none."""
    return f"AND {column} NOT IN ({','.join('?' * len(values))})" if values else ""
