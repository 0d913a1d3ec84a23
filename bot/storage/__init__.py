"""Storage: all of postino's SQL, on SQLite (aiosqlite, the default) or PostgreSQL (asyncpg).

Knows nothing of Telegram or TrackingMore. The same SQL on both engines (see `connection`,
`sqlite`, `postgres`); one store per aggregate, reached as attributes of `Storage`:

- `chats`: who talks to the bot, their preferences, pauses, moves and digest times;
- `follows`: which chat follows which shipment, with its name, mute and archive;
- `shipments`: the shared shipment rows as the engine registers, polls and forgets them;
- `changes`: the diff of a batch of snapshots, written with its outbox rows in one transaction;
- `outbox`: the notifications waiting for Telegram;
- `reports`: whole-chat reads for the desk reports and the operators;
- `coordination`: what replicas agree on (updates and pushes taken, flood windows, roles);
- `topics`: forum topics' names, and a deleted topic's shipments moved to General;
- `desk`: the web desk's login links and sessions, and the rows its page shows.
"""

from __future__ import annotations

from pathlib import Path

from bot.storage.changes import Changes
from bot.storage.chats import Chats
from bot.storage.coordination import Coordination
from bot.storage.database import Database, StorageOpenError
from bot.storage.desk import DeskAccess
from bot.storage.follows import Follows
from bot.storage.outbox import Outbox
from bot.storage.postgres import PostgresDatabase
from bot.storage.records import (
    Chat,
    DeskRow,
    DigestChat,
    Event,
    Followed,
    Gauges,
    Notification,
    Searchable,
    Shipment,
    Totals,
)
from bot.storage.reports import Reports
from bot.storage.schema import MIGRATIONS, SCHEMA_VERSION
from bot.storage.shipments import Shipments
from bot.storage.sqlite import SqliteDatabase
from bot.storage.topics import Topics

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Chat",
    "DeskRow",
    "DigestChat",
    "Event",
    "Followed",
    "Gauges",
    "Notification",
    "Searchable",
    "Shipment",
    "Storage",
    "StorageOpenError",
    "Totals",
]


class Storage:
    """The database and its stores."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.chats = Chats(database)
        self.follows = Follows(database)
        self.shipments = Shipments(database)
        self.changes = Changes(database)
        self.outbox = Outbox(database)
        self.reports = Reports(database)
        self.coordination = Coordination(database)
        self.topics = Topics(database)
        self.desk = DeskAccess(database)

    @classmethod
    async def open(cls, where: Path | str) -> Storage:
        """Open and migrate to the newest schema: a path is a SQLite file (created, with its
        folder, if needed), a `postgresql://` URL a PostgreSQL database."""
        if isinstance(where, str):
            return cls(await PostgresDatabase.open(where))
        return cls(await SqliteDatabase.open(where))

    @property
    def engine(self) -> str:
        return self.database.engine

    async def close(self) -> None:
        await self.database.close()

    async def schema_version(self) -> int:
        return await self.database.schema_version()
