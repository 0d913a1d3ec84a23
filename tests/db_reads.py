"""What tests read (and now and then write) in the bot's database, whichever engine it uses.

Through `bot.storage.Storage`, so the same SQL runs on the SQLite file of `DATABASE_PATH` and
on the PostgreSQL database of `DATABASE_URL` (set by `bot_env` under `--engine postgresql`):
write it in the subset both speak, with `?` placeholders. Each call opens and closes the
database, so it may run while the bot runs or after it stopped, in sync tests or async ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from postgres import run_async

from bot.storage import Storage


def database_of(bot_env: Mapping[str, str]) -> Path | str:
    """Where the bot of `bot_env` keeps its data: the PostgreSQL URL, else the SQLite file."""
    return bot_env.get("DATABASE_URL") or Path(bot_env["DATABASE_PATH"])


def on_postgresql(bot_env: Mapping[str, str]) -> bool:
    return isinstance(database_of(bot_env), str)


def database_created(bot_env: Mapping[str, str]) -> bool:
    """Whether the bot has touched its database yet, read without creating or migrating it:
    any file of the SQLite database (its -wal, -shm, .lock; not the heartbeat), or the
    PostgreSQL database holding postino's schema table."""
    where = database_of(bot_env)
    if isinstance(where, str):
        return bool(run_async(_has_schema_table(where)))
    return any(not path.name.endswith("beat") for path in where.parent.glob(where.name + "*"))


async def _has_schema_table(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(await conn.fetchval("SELECT to_regclass('postino_schema') IS NOT NULL"))
    finally:
        await conn.close()


def rows(bot_env: Mapping[str, str], sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row `sql` returns, each as a tuple."""
    return run_async(_rows(database_of(bot_env), sql, params))


def value(bot_env: Mapping[str, str], sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the one row `sql` returns (a count, one field)."""
    [row] = rows(bot_env, sql, params)
    return row[0]


def write(bot_env: Mapping[str, str], sql: str, params: Sequence[Any] = ()) -> None:
    """One statement, committed."""
    run_async(_write(database_of(bot_env), sql, params))


async def _rows(where: Path | str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    storage = await Storage.open(where)
    try:
        return [tuple(row) for row in await storage.database.fetchall(sql, params)]
    finally:
        await storage.close()


async def _write(where: Path | str, sql: str, params: Sequence[Any]) -> None:
    storage = await Storage.open(where)
    try:
        await storage.database.write(sql, params)
    finally:
        await storage.close()
