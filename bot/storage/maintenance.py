"""Work on the database beside (or instead of) the running bot: the online backup of the
SQLite file, and the read-only inspections `doctor` makes. The SQLite ones are plain sqlite3,
run outside the event loop; the PostgreSQL one (`inspect_postgres`) is a single asyncpg
connection that reads and never migrates or writes."""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg

from bot.core.times import iso_utc, utcnow
from bot.storage.backups import BackupError, copy_checked
from bot.storage.coordination import Replica
from bot.storage.database import StorageOpenError

logger = logging.getLogger(__name__)

POSTGRES_CONNECT_TIMEOUT_SECONDS = 10.0
# As the running bot lists them (bot.ops.leadership.REPLICA_SILENCE).
RUNNING_REPLICA_SILENCE = timedelta(seconds=60)


def backup_database(source: Path, target: Path) -> int:
    """Copy the live database with SQLite's online backup API (safe while the bot runs)."""
    if not source.is_file():
        logger.error("no database at %s", source)
        return 1
    if target.exists():
        logger.error("refusing to overwrite %s", target)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        version = copy_checked(source, target)
    except BackupError as exc:
        logger.error("backup written to %s is not usable: %s", target, exc)
        return 1
    print(f"backup written to {target} (schema v{version})")
    return 0


def check_database_location(path: Path) -> None:
    """Fail fast, creating nothing, when the database could not be opened or created at
    `path` (the bot checks this before it asks Telegram anything)."""
    if path.exists():
        if not path.is_file():
            raise StorageOpenError(f"cannot open the database at {path}: not a file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise StorageOpenError(f"cannot open the database at {path}: not readable and writable")
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StorageOpenError(f"cannot open the database at {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageOpenError(f"cannot open the database at {path}: {folder} is not writable")


class DatabaseInspectionError(RuntimeError):
    """The file is not a database SQLite can read (the message says why)."""


def inspect_database(path: Path) -> tuple[int, str]:
    """Schema version and quick check; a write lock taken and released proves writability."""
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            check = str(db.execute("PRAGMA quick_check").fetchone()[0])
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise DatabaseInspectionError(str(exc)) from None
    return version, check


@dataclass(frozen=True)
class PostgresInspection:
    server_version: str  # "16.2"
    schema_version: int  # 0: the bot has not created its tables yet
    read_only: bool  # a hot standby, or default_transaction_read_only
    may_create: bool  # the user may create tables in its schema (a migration needs it)
    replicas: list[Replica]  # heard from in the last minute, leader first


async def inspect_postgres(url: str) -> PostgresInspection:
    """What `doctor` reports of a PostgreSQL database, read on one connection. Raises
    `DatabaseInspectionError` with one line (never the URL: the caller shows it masked)
    when the server is not reachable, refuses the login or lacks the database."""
    try:
        conn = await asyncpg.connect(url, timeout=POSTGRES_CONNECT_TIMEOUT_SECONDS)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        raise DatabaseInspectionError("the server refused the user name or password") from None
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
        raise DatabaseInspectionError(
            f"the server is not reachable: {exc or type(exc).__name__}"
        ) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseInspectionError(str(exc)) from None
    try:
        return await _inspect(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseInspectionError(str(exc)) from None
    finally:
        conn.terminate()


async def _inspect(conn: asyncpg.Connection) -> PostgresInspection:
    async with conn.transaction(readonly=True):
        server = str(await conn.fetchval("SHOW server_version")).split()[0]
        read_only = await conn.fetchval(
            "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on'"
        )
        may_create = await conn.fetchval(
            "SELECT COALESCE(has_schema_privilege(current_schema(), 'CREATE'), false)"
        )
        version = 0
        if await conn.fetchval("SELECT to_regclass('postino_schema') IS NOT NULL"):
            version = int(await conn.fetchval("SELECT MAX(version) FROM postino_schema") or 0)
        replicas = []
        if await conn.fetchval("SELECT to_regclass('replicas') IS NOT NULL"):
            rows = await conn.fetch(
                "SELECT name, role, pid, started_at, seen_at FROM replicas WHERE seen_at >= $1 "
                "ORDER BY role = 'leader' DESC, name",
                iso_utc(utcnow() - RUNNING_REPLICA_SILENCE),
            )
            replicas = [Replica(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]
    return PostgresInspection(server, version, bool(read_only), bool(may_create), replicas)
