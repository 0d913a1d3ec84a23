"""Databases of realistic size, written fast, on SQLite or PostgreSQL: the real schema
(migrated by `Storage.open`), chats, shipments and subscriptions written directly (SQLite's
executemany in one transaction, PostgreSQL's COPY), and the shipments' events and states
through `Storage.ingest`, so every row is what the bot itself would have stored — or, for a
million rows (`scale_database`), written directly too, as the bot writes them (a first poll
that finds nothing new shows they are).

The fake TrackingMore is told the same parcels, so a first poll finds nothing new.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import POSTE, FakeTrackingMore, Where, s10
from bench.cycle_runner import CycleChild
from bot.core.shipments import Checkpoint, Snapshot
from bot.core.times import iso_utc, parse_carrier_time
from bot.storage import Storage

INGEST_CHUNK = 500
_CITIES = ("ROMA", "MILANO", "BOLOGNA", "NAPOLI", "TORINO", "FIRENZE", "BARI", "PADOVA")
_START = datetime(2026, 11, 1, 8, 0)


@dataclass(frozen=True)
class Step:
    status: str
    detail: str
    location: str
    time: str


@dataclass(frozen=True)
class Parcel:
    code: str
    steps: tuple[Step, ...]  # oldest first

    @property
    def status(self) -> str:
        return self.steps[-1].status


@dataclass(frozen=True)
class Chat:
    id: int
    type: str = "private"
    title: str | None = None
    user_language: str | None = "it"


def parcel(serial: int, *, delivered: bool = False) -> Parcel:
    """A Poste Italiane parcel with two or three checkpoints at distinct times."""
    began = _START + timedelta(minutes=serial % 10_000)
    city = _CITIES[serial % len(_CITIES)]
    steps = [
        Step("inforeceived", "Spedizione accettata", "ROMA", _clock(began)),
        Step("transit", "In transito", city, _clock(began + timedelta(hours=9))),
    ]
    if delivered:
        steps.append(Step("delivered", "Consegnato", city, _clock(began + timedelta(days=2))))
    return Parcel(s10(serial), tuple(steps))


def moved(item: Parcel, cycle: int) -> Step:
    """A new checkpoint for `item`, later than any before (one per cycle)."""
    when = _START + timedelta(days=5, hours=cycle)
    return Step("transit", f"In lavorazione presso il centro {cycle}", "BOLOGNA CMP", _clock(when))


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def tell_fake(tm: FakeTrackingMore, parcels: Iterable[Parcel]) -> None:
    """The carrier knows these parcels, registered already."""
    for item in parcels:
        events = [
            {"status": s.status, "detail": s.detail, "location": s.location, "time": s.time}
            for s in item.steps
        ]
        tm.script(item.code, POSTE, events=events, registered=True)


def move_fake(tm: FakeTrackingMore, parcels: Iterable[Parcel], cycle: int) -> None:
    for item in parcels:
        step = moved(item, cycle)
        tm.move(item.code, step.status, step.detail, step.location, step.time, courier=POSTE)


def snapshot(item: Parcel, extra: Sequence[Step] = ()) -> Snapshot:
    """What the bot parses out of the fake's answer about `item` (newest first)."""
    steps = [*item.steps, *extra]
    checkpoints = tuple(
        Checkpoint(
            description=s.detail,
            location=s.location,
            occurred_at=parse_carrier_time(s.time),
            raw_time=s.time,
            status=s.status,
            substatus=f"{s.status}001",
        )
        for s in reversed(steps)
    )
    last = steps[-1].status
    return Snapshot(POSTE, item.code, last, f"{last}001", checkpoints=checkpoints)


def create_schema(where: Where) -> None:
    async def run() -> None:
        await (await Storage.open(where)).close()

    asyncio.run(run())


# A table's rows to write: (columns, rows).
Rows = tuple[Sequence[str], Sequence[Sequence[Any]]]


def write_tables(where: Where, tables: Mapping[str, Rows]) -> None:
    """Rows straight into the tables, in one transaction: executemany on SQLite, COPY on
    PostgreSQL. Identity sequences are moved past ids written explicitly, so the bot's own
    inserts do not collide with them."""
    if isinstance(where, Path):
        # closing(): the connection's `with` only commits; the last close checkpoints the
        # WAL into the file (and removes it), so the file's size is the database's.
        with closing(sqlite3.connect(where)) as db, db:
            for table, (columns, rows) in tables.items():
                marks = ",".join("?" * len(columns))
                db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return

    async def run() -> None:
        db = await asyncpg.connect(where)
        try:
            async with db.transaction():
                for table, (columns, rows) in tables.items():
                    await db.copy_records_to_table(table, records=rows, columns=list(columns))
                    if "id" in columns and rows:
                        await db.execute(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT MAX(id) FROM {table}))"
                        )
        finally:
            await db.close()

    asyncio.run(run())


def run_sql(where: Where, *statements: str) -> None:
    """Statements without parameters, in one transaction."""
    if isinstance(where, Path):
        with closing(sqlite3.connect(where)) as db, db:
            for statement in statements:
                db.execute(statement)
        return

    async def run() -> None:
        db = await asyncpg.connect(where)
        try:
            async with db.transaction():
                for statement in statements:
                    await db.execute(statement)
        finally:
            await db.close()

    asyncio.run(run())


def vacuum(where: Where) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would have after a bulk load (hint bits
    set, visibility map and statistics written), so the first poll does not pay for the
    load. Nothing on SQLite (the bot never runs ANALYZE there)."""
    if isinstance(where, Path):
        return

    async def run() -> None:
        db = await asyncpg.connect(where)
        try:
            await db.execute("VACUUM ANALYZE")
        finally:
            await db.close()

    asyncio.run(run())


def query(where: Where, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one SELECT without parameters."""
    if isinstance(where, Path):
        with closing(sqlite3.connect(where)) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]

    async def run() -> list[tuple[Any, ...]]:
        db = await asyncpg.connect(where)
        try:
            return [tuple(row) for row in await db.fetch(sql)]
        finally:
            await db.close()

    return asyncio.run(run())


def insert_rows(
    where: Where,
    chats: Sequence[Chat],
    parcels: Sequence[Parcel],
    follows: Iterable[tuple[int, int]],
) -> None:
    """Chats, shipments (ids 1…n in `parcels` order, registered) and (chat id, shipment
    index) subscriptions, in one transaction."""
    now = iso_utc()
    write_tables(
        where,
        {
            "chats": (
                ("id", "type", "title", "user_language", "created_at"),
                [(c.id, c.type, c.title, c.user_language, now) for c in chats],
            ),
            "shipments": (
                ("id", "courier", "code", "registered", "created_at"),
                [(index + 1, POSTE, item.code, 1, now) for index, item in enumerate(parcels)],
            ),
            "subscriptions": (
                ("chat_id", "shipment_id", "label", "added_by", "added_by_name", "added_at"),
                [(chat, index + 1, _label(index), chat, "Cliente", now) for chat, index in follows],
            ),
        },
    )


def _label(index: int) -> str | None:
    return f"ordine {index}" if index % 3 == 0 else None


def ingest(where: Where, snapshots: Sequence[Snapshot], *, notify: bool) -> int:
    """Store the snapshots as a poll would; returns how many changes were found."""

    async def run() -> int:
        storage = await Storage.open(where)
        found = 0
        for start in range(0, len(snapshots), INGEST_CHUNK):
            chunk = snapshots[start : start + INGEST_CHUNK]
            found += len(await storage.changes.ingest(chunk, notify=notify))
        await storage.close()
        return found

    return asyncio.run(run())


def finish_deliveries(where: Where) -> None:
    """Delivered parcels told long ago: every re-check done, archived."""
    run_sql(
        where,
        "UPDATE shipments SET rechecks_left=0, next_recheck_at=NULL, "
        "delivered_at='2026-11-03T10:00:00.000+00:00' WHERE status='delivered'",
        "UPDATE subscriptions SET archived_at='2026-11-06T10:00:00.000+00:00' "
        "WHERE shipment_id IN (SELECT id FROM shipments WHERE status='delivered')",
        "UPDATE outbox SET sent_at=created_at WHERE sent_at IS NULL",
    )


def followed_database(
    where: Where,
    tm: FakeTrackingMore,
    *,
    active: int,
    followers: int,
    delivered: int = 0,
    per_chat: int = 4,
    first_serial: int = 10_000_000,
) -> tuple[list[Parcel], list[Parcel]]:
    """`active` parcels in transit, each followed by `followers` private chats that follow
    `per_chat` parcels each, plus `delivered` ones (one follower each) told long ago.
    Returns (active, delivered) parcels."""
    moving = [parcel(first_serial + n) for n in range(active)]
    done = [parcel(first_serial + active + n, delivered=True) for n in range(delivered)]
    slots = range(followers * active)
    follows = [(1_000_000 + slot // per_chat, slot % active) for slot in slots]
    follows += [(2_000_000 + n // per_chat, active + n) for n in range(delivered)]
    chats = [Chat(chat) for chat in sorted({chat for chat, _ in follows})]
    create_schema(where)
    insert_rows(where, chats, [*moving, *done], follows)
    ingest(where, [snapshot(p) for p in [*moving, *done]], notify=False)
    finish_deliveries(where)
    tell_fake(tm, [*moving, *done])
    return moving, done


def scale_database(
    where: Where,
    tm: FakeTrackingMore,
    *,
    shipments: int,
    followers: int,
    per_chat: int = 4,
    first_serial: int = 40_000_000,
) -> tuple[list[Parcel], float]:
    """`shipments` parcels in transit with their two checkpoints stored, each followed by
    `followers` private chats that follow `per_chat` parcels each, as a running bot has them
    after a poll: every row written directly, without the per-batch round trips of
    `Storage.ingest` and the poll. The fake is told the same parcels. Returns the parcels
    and the seconds the writing took."""
    # A parcel's checkpoints depend only on its serial modulo 10,000 (see `parcel`): what
    # the bot stores about the first 10,000 (ingested and polled for real, in a scratch
    # database) is the row of every parcel with the same remainder, but for its id, code
    # and TrackingMore id. So the rows follow whatever the bot writes, new columns included.
    templates = [parcel(first_serial + n) for n in range(min(shipments, 10_000))]
    parcels = [
        Parcel(s10(first_serial + n), templates[n % len(templates)].steps) for n in range(shipments)
    ]
    tell_fake(tm, parcels)
    (ship_columns, ship_rows), (event_columns, event_rows) = _polled_rows(tm, templates)
    at = {name: ship_columns.index(name) for name in ("id", "code", "carrier_id")}
    states: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for index, item in enumerate(parcels):
        row = list(ship_rows[index % len(ship_rows)])
        row[at["id"]], row[at["code"]] = index + 1, item.code
        row[at["carrier_id"]] = tm.tracking(item.code, POSTE)["id"]
        states.append(tuple(row))
        events += [(index + 1, *event) for event in event_rows[index % len(ship_rows)]]
    now = iso_utc()
    slots = followers * shipments
    chats = range(1_000_000, 1_000_000 + -(-slots // per_chat))
    follows = [(chats[slot // per_chat], slot % shipments) for slot in range(slots)]
    create_schema(where)
    began = time.monotonic()
    write_tables(
        where,
        {
            "chats": (
                ("id", "type", "title", "user_language", "created_at"),
                [(chat, "private", None, "it", now) for chat in chats],
            ),
            "shipments": (ship_columns, states),
            "events": (("shipment_id", *event_columns), events),
            "subscriptions": (
                ("chat_id", "shipment_id", "label", "added_by", "added_by_name", "added_at"),
                [(chat, index + 1, _label(index), chat, "Cliente", now) for chat, index in follows],
            ),
        },
    )
    return parcels, time.monotonic() - began


def _polled_rows(
    tm: FakeTrackingMore, items: Sequence[Parcel]
) -> tuple[Rows, tuple[Sequence[str], list[list[tuple[Any, ...]]]]]:
    """The shipments' rows (columns, one row per item in order) and their events' (columns
    without id and shipment_id, the rows of each item) after `Storage.ingest` of their
    first answer and one real poll cycle (which stores TrackingMore's id, the answer's
    signature…), in a scratch SQLite database; the fake already knows the items."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "templates.sqlite3"
        create_schema(path)
        insert_rows(path, [Chat(1)], items, [(1, n) for n in range(len(items))])
        ingest(path, [snapshot(item) for item in items], notify=False)
        child = CycleChild(path, tm)
        try:
            if child.cycle()["changes"]:
                raise RuntimeError("a poll of freshly ingested parcels found changes")
        finally:
            child.close()
        with closing(sqlite3.connect(path)) as db:
            shipments = db.execute("SELECT * FROM shipments ORDER BY id")
            ship_columns = [column[0] for column in shipments.description]
            ship_rows = shipments.fetchall()
            found = db.execute("SELECT * FROM events ORDER BY shipment_id, id")
            names = [column[0] for column in found.description]
            keep = [n for n, name in enumerate(names) if name not in ("id", "shipment_id")]
            by_shipment: dict[int, list[tuple[Any, ...]]] = {}
            owner = names.index("shipment_id")
            for event in found.fetchall():
                by_shipment.setdefault(event[owner], []).append(tuple(event[n] for n in keep))
    event_rows = [by_shipment.get(row[ship_columns.index("id")], []) for row in ship_rows]
    return (ship_columns, ship_rows), ([names[n] for n in keep], event_rows)
