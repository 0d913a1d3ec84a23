"""PostgreSQL through asyncpg: a pool, the same schema and SQL as SQLite, several replicas.

asyncpg over psycopg 3: it speaks the binary protocol with a per-connection cache of
prepared statements, so the poll cycle's repeated statements are parsed once per
connection, and it is the driver with the fewest moving parts for an asyncio program
(its own pool, no libpq). Rows are `asyncpg.Record`s, which index like `sqlite3.Row`.

Transactions run at READ COMMITTED, PostgreSQL's default. The one read-modify-write whose
race would matter, the diff of a shipment against its stored events, locks the shipment
rows it reads (`Connection.for_update`, in id order so two writers cannot deadlock): a poll
on one replica and a push on another store a change once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.storage.connection import Row, StatementBase, numbered, storable
from bot.storage.database import Database, StorageOpenError
from bot.storage.schema import SCHEMA_VERSION, migration_sql, refuse_newer_schema

logger = logging.getLogger(__name__)

PgConnection = asyncpg.Connection | PoolConnectionProxy

POOL_SIZE = 8
# Any 64-bit number of our own: held while one replica migrates, the others wait for it.
MIGRATION_LOCK = 0x706F7374696E6F01  # "postino" + 1


class StorageUnreachableError(StorageOpenError):
    """The server did not answer (yet): worth trying again."""


# SQLSTATE classes and codes meaning "the database will not take writes now", not "the SQL
# is wrong": insufficient resources (disk full), read-only, the server shutting down or gone.
_WRITE_FAILURE_CLASSES = ("53", "08", "57P")
_WRITE_FAILURE_CODES = {"25006"}


def write_failure(exc: BaseException) -> str | None:
    """The one-line reason when `exc` is the server refusing a write, else None."""
    if isinstance(exc, (OSError, asyncpg.InterfaceError)):
        return f"the PostgreSQL server is not reachable: {exc}"
    state = getattr(exc, "sqlstate", None)
    if (
        isinstance(exc, asyncpg.PostgresError)
        and isinstance(state, str)
        and (state in _WRITE_FAILURE_CODES or state.startswith(_WRITE_FAILURE_CLASSES))
    ):
        return str(exc)
    return None


@lru_cache(maxsize=2048)
def _prepared(sql: str) -> tuple[str, bool]:
    """The statement with numbered placeholders, and whether it returns rows."""
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return numbered(sql), head in {"SELECT", "WITH", "VALUES"} or " RETURNING " in sql.upper()


def _count(status: str) -> int:
    """`UPDATE 3`, `INSERT 0 1`, `DELETE 0`: the last word is the number of rows."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else 0


class _Cursor:
    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Row]:
        return self._rows


class _Statement(StatementBase[_Cursor]):
    def __init__(self, conn: PgConnection, sql: str, params: Sequence[Any]) -> None:
        self._conn, self._sql, self._params = conn, sql, storable(params)

    async def _run(self) -> _Cursor:
        sql, returns_rows = _prepared(self._sql)
        if returns_rows:
            rows = await self._conn.fetch(sql, *self._params)
            return _Cursor(list(rows), len(rows))
        status = await self._conn.execute(sql, *self._params)
        return _Cursor([], _count(status))


class _Connection:
    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Statement:
        return _Statement(self._conn, sql, params)

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(_prepared(sql)[0], *storable(params)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.executemany(_prepared(sql)[0], [storable(row) for row in rows])

    def for_update(self, alias: str) -> str:
        return f" FOR UPDATE OF {alias}"

    async def copy_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many rows into `table` with COPY (binary), for bulk loads (`copy-database`): each
        value must already be of its column's type. A SQLite file written before NULs were
        dropped may hold some: dropped here too (`storable`)."""
        if rows:
            records = [storable(row) for row in rows]
            await self._conn.copy_records_to_table(table, records=records, columns=list(columns))


def describe(url: str) -> str:
    """The URL without its password: what logs and messages may show."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


class PostgresDatabase(Database):
    """A pool of asyncpg connections to one PostgreSQL database."""

    engine = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        super().__init__()
        self._pool = pool
        self.url = url

    @classmethod
    async def open(cls, url: str, *, pool_size: int = POOL_SIZE) -> PostgresDatabase:
        """Connect and migrate. Refused credentials or a missing database raise
        `StorageOpenError`; a server that does not answer raises `StorageUnreachableError`."""
        where = describe(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, command_timeout=60, timeout=10
            )
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
            raise StorageOpenError(
                f"DATABASE_URL: PostgreSQL at {where} refused the user name or password"
            ) from None
        except asyncpg.InvalidCatalogNameError as exc:
            raise StorageOpenError(f"DATABASE_URL: {exc} (at {where})") from None
        except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
            raise StorageUnreachableError(
                f"PostgreSQL at {where} is not reachable: {exc or type(exc).__name__}"
            ) from None
        except asyncpg.PostgresError as exc:
            raise StorageOpenError(f"DATABASE_URL: PostgreSQL at {where}: {exc}") from None
        database = cls(pool, url)
        try:
            await database._migrate()
        except asyncpg.PostgresError as exc:
            await pool.close()
            raise StorageOpenError(f"cannot migrate the database at {where}: {exc}") from None
        except BaseException:
            await pool.close()
            raise
        return database

    async def close(self) -> None:
        await self._pool.close()

    def terminate(self) -> None:
        """Drop every connection at once (what a crash would do), for tests and the end."""
        self._pool.terminate()

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await _schema_version(conn)

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", MIGRATION_LOCK):
                logger.info("another replica is migrating the database: waiting for it")
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS postino_schema (version INTEGER NOT NULL)"
            )
            current = await _schema_version(conn)
            refuse_newer_schema(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                await conn.execute(migration_sql(version, "postgresql"))
                await conn.execute("DELETE FROM postino_schema")
                await conn.execute("INSERT INTO postino_schema (version) VALUES ($1)", version)
                logger.info("database migrated to schema v%d", version)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Connection]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _Connection(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            if (error := write_failure(exc)) is None:
                raise
            raise self._write_failed(error) from exc
        self._writes_ok(True)

    async def write(self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False) -> None:
        """One statement on its own connection from the pool (nothing to queue behind)."""
        try:
            status = await self._pool.execute(_prepared(sql)[0], *storable(params))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            if (error := write_failure(exc)) is None:
                raise
            raise self._write_failed(error) from exc
        self._writes_ok(_count(status) > 0)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._pool.fetch(_prepared(sql)[0], *storable(params)))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._pool.fetchrow(_prepared(sql)[0], *storable(params))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own, outside the pool, for session-level advisory locks:
        held as long as the connection lives, released by the server when it dies."""
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            yield conn
        finally:
            conn.terminate()


async def _schema_version(conn: PgConnection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('postino_schema') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT MAX(version) FROM postino_schema")
    return int(version or 0)
