"""What a store sees of a connection inside a transaction, the same on SQLite and PostgreSQL.

The SQL the stores write is the subset both engines speak, with `?` placeholders (the
PostgreSQL side numbers them). The shape is aiosqlite's: `await db.execute(...)` or
`async with db.execute(...) as cursor`, then `cursor.fetchone()` / `fetchall()` /
`rowcount`. Rows index by position (and by column name on both engines).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

Row = Any  # sqlite3.Row or asyncpg.Record: both index by position and by name
CursorT = TypeVar("CursorT")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> list[Row]: ...


class Statement(Protocol):
    """What `execute` returns: awaited, or used as `async with`, it gives the cursor."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class StatementBase(ABC, Generic[CursorT]):
    """The awaitable and `async with` shapes of a statement, around the engine's `_run`."""

    @abstractmethod
    async def _run(self) -> CursorT: ...

    async def _close(self) -> None:
        """What `async with` releases at the end (nothing, unless the engine keeps a cursor)."""

    def __await__(self) -> Generator[Any, None, CursorT]:
        return self._run().__await__()

    async def __aenter__(self) -> CursorT:
        return await self._run()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()


class Connection(Protocol):
    """One connection inside a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Statement: ...

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def for_update(self, alias: str) -> str:
        """The clause ending a SELECT that holds the rows of `alias` it read until the
        transaction ends, so another writer's diff of the same rows waits for this one
        (SQLite has one writer at a time: nothing to say there)."""
        ...


def storable(params: Sequence[Any]) -> Sequence[Any]:
    """The parameters as both engines store them: without the NUL character in any string.

    PostgreSQL's text cannot hold it (asyncpg refuses the whole statement), SQLite's can;
    TrackingMore's texts may carry one (JSON's "\\u0000"). Dropped on both engines, so a
    checkpoint is stored, shown and compared alike whichever is behind."""
    if any(isinstance(p, str) and "\x00" in p for p in params):
        return [p.replace("\x00", "") if isinstance(p, str) else p for p in params]
    return params


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (outside quoted literals)."""
    out: list[str] = []
    number = 0
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)
