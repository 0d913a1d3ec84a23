"""`python -m bot copy-database URL`: the SQLite database copied into an empty PostgreSQL one.

The source may be live: what is copied is an online backup of it (SQLite's backup API, as
`backup` takes), integrity-checked and migrated to the newest schema in a temporary folder,
so the bot's own file is only read. The target is migrated to the newest schema too, and must
hold no rows in any of the tables copied (an empty, just-migrated database is empty); a newer
schema there is refused. Every table of the source is copied, parents before children (from
its foreign keys), in batches of `BATCH_ROWS` loaded with COPY (about 1.7 times as fast as
executemany here: the server's index and foreign-key work is most of the time), all inside
one PostgreSQL transaction that first locks the tables: a refusal or failure leaves the
target as it was. Before the commit the identity sequences are moved past the copied ids and
the row counts are compared, table by table.

Values go by the target column's type: SQLite keeps what the code wrote (ints, text, reals),
which PostgreSQL's BIGINT, TEXT and DOUBLE PRECISION take as they are. One scan per table
(`typeof`) finds any column holding something else (an integer stored as text, say); only
those are converted, or the copy stops naming the table and column.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from bot.storage.backups import BackupError, copy_checked
from bot.storage.connection import Connection, Row, numbered
from bot.storage.database import StorageOpenError, StorageWriteError
from bot.storage.postgres import PostgresDatabase, describe
from bot.storage.schema import SCHEMA_VERSION
from bot.storage.sqlite import SqliteDatabase

BATCH_ROWS = 5000
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_WHOLE = re.compile(r"\s*[+-]?\d+\s*")
_INTEGERS = {"bigint", "integer", "smallint"}
_TEXTS = {"text", "character varying", "character"}
_FLOATS = {"double precision", "real"}

Fetch = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]
Convert = Callable[[Any], Any]


class _BulkConnection(Connection, Protocol):
    """A connection of `PostgresDatabase.transaction()`, which also loads rows with COPY."""

    async def copy_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None: ...


class CopyError(RuntimeError):
    """The copy was refused or failed, and the target keeps nothing of it; one line."""


@dataclass(frozen=True)
class CopyResult:
    tables: tuple[tuple[str, int], ...]  # (table, rows copied), in the order copied
    seconds: float
    schema_version: int

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.tables)


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    rows: int


async def copy_database(
    source: Path, target_url: str, *, report: Callable[[str], None]
) -> CopyResult:
    """Copy the SQLite database at `source` into the empty PostgreSQL database at
    `target_url`; `report` hears one line per table copied. Raises `CopyError` (one line,
    never the password) when it refuses or fails; the target then keeps nothing of it."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="postino-copy-") as folder:
        snapshot = Path(folder) / "snapshot.sqlite3"
        version = await asyncio.to_thread(_take_snapshot, source, snapshot)
        if version < SCHEMA_VERSION:
            await (await SqliteDatabase.open(snapshot)).close()  # migrates the copy only
            report(f"(the copy of the source migrated from schema v{version} to v{SCHEMA_VERSION})")
        with closing(sqlite3.connect(snapshot)) as src:
            tables = _source_tables(src)
            await _precheck(target_url, tables)
            try:
                target = await PostgresDatabase.open(target_url, pool_size=1)
            except StorageOpenError as exc:  # it speaks of DATABASE_URL: here it is the URL given
                raise CopyError(str(exc).removeprefix("DATABASE_URL: ")) from None
            try:
                copied = await _copy_into(target, src, tables, report)
            finally:
                await target.close()
    return CopyResult(copied, time.monotonic() - started, SCHEMA_VERSION)


def _take_snapshot(source: Path, snapshot: Path) -> int:
    """The online backup of `source` at `snapshot`, checked; its schema version."""
    if not source.is_file():
        raise CopyError(f"no SQLite database at {source} (DATABASE_PATH)")
    try:
        version = copy_checked(source, snapshot)
    except (BackupError, sqlite3.Error, OSError) as exc:
        raise CopyError(f"cannot read the SQLite database at {source}: {exc}") from None
    if version > SCHEMA_VERSION:
        raise CopyError(
            f"the SQLite database at {source} has schema v{version}, newer than this postino "
            f"knows (v{SCHEMA_VERSION}): copy it with the newer version"
        )
    return version


def _source_tables(src: sqlite3.Connection) -> list[_Table]:
    """The tables of the snapshot, every one after the tables its foreign keys point to
    (otherwise in the order they were created)."""
    names = [
        str(row[0])
        for row in src.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        )
    ]
    for name in names:
        if not _NAME.fullmatch(name):
            raise CopyError(f"the SQLite database has a table postino does not know: {name!r}")
    parents = {
        name: {str(row[2]) for row in src.execute(f"PRAGMA foreign_key_list({name})")} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            rest = ", ".join(n for n in names if n not in ordered)
            raise CopyError(f"the foreign keys of {rest} form a cycle or name a missing table")
        ordered.append(ready[0])
    tables = []
    for name in ordered:
        columns = tuple(str(row[1]) for row in src.execute(f"PRAGMA table_info({name})"))
        if not all(_NAME.fullmatch(column) for column in columns):
            raise CopyError(f"the SQLite table {name} has a column postino does not know")
        [(rows,)] = src.execute(f"SELECT COUNT(*) FROM {name}").fetchall()
        tables.append(_Table(name, columns, int(rows)))
    return tables


async def _precheck(url: str, tables: Sequence[_Table]) -> None:
    """Refuse a non-empty target before opening it migrates it (a running older postino on
    it would not expect that). When this cannot connect, `PostgresDatabase.open` says why."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except Exception:  # reported in its own words by the open that follows
        return
    try:

        async def fetch(sql: str, params: Sequence[Any]) -> list[Row]:
            return list(await conn.fetch(numbered(sql), *params))

        reason = await _why_not_empty(fetch, tables)
    finally:
        await conn.close()
    if reason:
        raise CopyError(f"refusing to copy into {describe(url)}: {reason}")


async def _why_not_empty(fetch: Fetch, tables: Sequence[_Table]) -> str | None:
    [(has_version,)] = await fetch("SELECT to_regclass('postino_schema') IS NOT NULL", ())
    if has_version:
        [(version,)] = await fetch("SELECT COALESCE(MAX(version), 0) FROM postino_schema", ())
        if int(version) > SCHEMA_VERSION:
            return f"it has schema v{version}, newer than this postino knows (v{SCHEMA_VERSION})"
    present = await _target_tables(fetch)
    full = []
    for table in tables:
        if table.name in present:
            [(any_row,)] = await fetch(f"SELECT EXISTS (SELECT 1 FROM {table.name})", ())
            if any_row:
                full.append(table.name)
    if full:
        return f"it is not empty ({', '.join(full)} hold rows); copy only into an empty database"
    return None


async def _target_tables(fetch: Fetch) -> set[str]:
    rows = await fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        (),
    )
    return {str(row[0]) for row in rows}


async def _copy_into(
    target: PostgresDatabase,
    src: sqlite3.Connection,
    tables: Sequence[_Table],
    report: Callable[[str], None],
) -> tuple[tuple[str, int], ...]:
    where = describe(target.url)
    step = "checking the target"
    try:
        async with target.transaction() as db:
            fetch: Fetch = db.execute_fetchall
            missing = [t.name for t in tables if t.name not in await _target_tables(fetch)]
            if missing:
                raise CopyError(f"{where} has no table {', '.join(missing)} after migrating")
            # Nobody writes these tables until the commit, and a second copy waits here.
            await db.execute(f"LOCK TABLE {', '.join(t.name for t in tables)} IN EXCLUSIVE MODE")
            if reason := await _why_not_empty(fetch, tables):
                raise CopyError(f"refusing to copy into {where}: {reason}")
            types = await _column_types(fetch)
            copied = []
            for table in tables:
                step = f"copying {table.name}"
                rows = await _copy_table(db, src, table, types)
                report(f"{table.name}: {rows} rows")
                copied.append((table.name, rows))
            step = "resetting the id sequences"
            await _reset_sequences(db, {t.name for t in tables})
            step = "checking the row counts"
            await _check_counts(fetch, tables)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, StorageWriteError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CopyError(f"{step} failed: {text}; {where} keeps nothing of the copy") from None
    return tuple(copied)


async def _column_types(fetch: Fetch) -> dict[tuple[str, str], str]:
    rows = await fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema()",
        (),
    )
    return {(str(table), str(column)): str(kind) for table, column, kind in rows}


async def _copy_table(
    db: _BulkConnection,
    src: sqlite3.Connection,
    table: _Table,
    types: dict[tuple[str, str], str],
) -> int:
    absent = [c for c in table.columns if (table.name, c) not in types]
    if absent:
        raise CopyError(f"the PostgreSQL table {table.name} has no column {', '.join(absent)}")
    conversions = {
        i: conversion
        for i, column in enumerate(table.columns)
        if (conversion := _conversion(types[table.name, column]))
    }
    converters = {i: conversions[i][1] for i in _mismatched(src, table, conversions)}
    count = 0
    with closing(src.execute(f"SELECT {', '.join(table.columns)} FROM {table.name}")) as cursor:
        while batch := cursor.fetchmany(BATCH_ROWS):
            rows = [_converted(table, row, converters) for row in batch] if converters else batch
            await db.copy_rows(table.name, table.columns, rows)
            count += len(rows)
    if count != table.rows:
        raise CopyError(f"read {count} rows of {table.name} from the copy, expected {table.rows}")
    return count


def _conversion(kind: str) -> tuple[str, Convert] | None:
    """The SQLite storage class a PostgreSQL type takes as it is, and how another value
    becomes that type; None: every value goes as read."""
    if kind in _INTEGERS:
        return "integer", _integer
    if kind in _TEXTS:
        return "text", _text
    if kind in _FLOATS:
        return "real", _float
    return None


def _mismatched(
    src: sqlite3.Connection, table: _Table, conversions: dict[int, tuple[str, Convert]]
) -> list[int]:
    """The columns holding any value of another storage class than their type takes (one
    scan in SQLite): only those are converted, row by row."""
    if not conversions or not table.rows:
        return []
    sums = ", ".join(
        f"SUM(typeof({table.columns[i]}) NOT IN ('{storage}', 'null'))"
        for i, (storage, _) in conversions.items()
    )
    [counts] = src.execute(f"SELECT {sums} FROM {table.name}").fetchall()
    return [i for i, n in zip(conversions, counts, strict=True) if n]


def _converted(
    table: _Table, row: Sequence[Any], converters: dict[int, Convert]
) -> tuple[Any, ...]:
    values = list(row)
    for i, convert in converters.items():
        try:
            values[i] = convert(values[i])
        except ValueError:
            raise CopyError(
                f"{table.name}.{table.columns[i]} holds {str(values[i])[:40]!r}, which its "
                "PostgreSQL column cannot take"
            ) from None
    return tuple(values)


def _integer(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    raise ValueError(value)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode()  # not UTF-8: UnicodeDecodeError, a ValueError
    return str(value)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, float):
        return value
    return float(value)


async def _reset_sequences(db: Connection, copied: set[str]) -> None:
    """Every identity (or serial) column continues after the largest id copied."""
    rows = await db.execute_fetchall(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() "
        "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')"
    )
    for table, column in rows:
        if table in copied and _NAME.fullmatch(column):
            await db.execute_fetchall(
                f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({column}), 0) + 1, "
                f"false) FROM {table}",
                (table, column),
            )


async def _check_counts(fetch: Fetch, tables: Sequence[_Table]) -> None:
    wrong = []
    for table in tables:
        [(rows,)] = await fetch(f"SELECT COUNT(*) FROM {table.name}", ())
        if int(rows) != table.rows:
            wrong.append(f"{table.name}: {table.rows} in SQLite, {rows} in PostgreSQL")
    if wrong:
        raise CopyError(
            f"the row counts differ after the copy ({'; '.join(wrong)}); nothing was kept"
        )
