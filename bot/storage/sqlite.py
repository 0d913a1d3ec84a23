"""SQLite through aiosqlite: one connection, one statement or transaction at a time, urgent
writes first. The default engine, and the right one for a person or a shop."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.connection import Row, StatementBase, storable
from bot.storage.database import (
    Database,
    StorageOpenError,
    _UrgentFirstLock,
    write_failure,
)
from bot.storage.schema import SCHEMA_VERSION, migration_sql, refuse_newer_schema

logger = logging.getLogger(__name__)


class _Cursor:
    def __init__(self, cursor: aiosqlite.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def fetchone(self) -> Row | None:
        return await self._cursor.fetchone()

    async def fetchall(self) -> list[Row]:
        return list(await self._cursor.fetchall())


class _Statement(StatementBase[_Cursor]):
    def __init__(self, db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> None:
        self._db, self._sql, self._params = db, sql, storable(params)
        self._cursor: aiosqlite.Cursor | None = None

    async def _run(self) -> _Cursor:
        self._cursor = await self._db.execute(self._sql, self._params)
        return _Cursor(self._cursor)

    async def _close(self) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class _Connection:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Statement:
        return _Statement(self._db, sql, params)

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # One hop to aiosqlite's thread, where `async for` makes one per row.
        return list(await self._db.execute_fetchall(sql, storable(params)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(sql, [storable(row) for row in rows])

    def for_update(self, alias: str) -> str:
        return ""  # BEGIN IMMEDIATE already made this the only writer


class SqliteDatabase(Database):
    """One aiosqlite connection; every statement and transaction runs under one lock."""

    engine = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        super().__init__()
        self._db = db
        self._connection = _Connection(db)
        self._lock = _UrgentFirstLock()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
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

    async def _user_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        async with self._lock.held():
            current = await self._user_version()
            refuse_newer_schema(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                # executescript commits first; the BEGIN inside makes each step atomic.
                await self._db.executescript(
                    f"BEGIN;\n{migration_sql(version, 'sqlite')}\n"
                    f"PRAGMA user_version={version};\nCOMMIT;"
                )
                logger.info("database migrated to schema v%d", version)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Connection]:
        async with self._lock.held():
            changes_before = self._db.total_changes
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._connection
                    await self._db.commit()
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already
                        await self._db.rollback()
                    raise
            except sqlite3.Error as exc:
                if (error := write_failure(exc)) is None:
                    raise
                raise self._write_failed(error) from exc
            self._writes_ok(self._db.total_changes > changes_before)

    async def write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        """One statement, atomic on its own: one hop to aiosqlite's thread, none for BEGIN and
        COMMIT. `urgent` goes before every other waiter for the connection."""
        async with self._lock.held(urgent=urgent):
            changes_before = self._db.total_changes
            try:
                await self._db.execute_fetchall(sql, storable(params))
            except sqlite3.Error as exc:
                if (error := write_failure(exc)) is None:
                    raise
                raise self._write_failed(error) from exc
            self._writes_ok(self._db.total_changes > changes_before)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # One hop to aiosqlite's thread; a cursor takes three (execute, fetchall, close).
        async with self._lock.held():
            return list(await self._db.execute_fetchall(sql, storable(params)))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._lock.held(), self._db.execute(sql, storable(params)) as cursor:
            return await cursor.fetchone()
