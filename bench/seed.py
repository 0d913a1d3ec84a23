"""Databases of realistic size, written fast: the real schema (migrated by `Storage.open`),
chats, shipments and subscriptions by executemany, and the shipments' events and states
through `Storage.ingest`, so every row is what the bot itself would have stored.

The fake TrackingMore is told the same parcels, so a first poll finds nothing new.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import POSTE, FakeTrackingMore, s10
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


def create_schema(path: Path) -> None:
    async def run() -> None:
        await (await Storage.open(path)).close()

    asyncio.run(run())


def insert_rows(
    path: Path,
    chats: Sequence[Chat],
    parcels: Sequence[Parcel],
    follows: Iterable[tuple[int, int]],
) -> None:
    """Chats, shipments (ids 1…n in `parcels` order, registered) and (chat id, shipment
    index) subscriptions, in one transaction."""
    now = iso_utc()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO chats (id, type, title, user_language, created_at) VALUES (?,?,?,?,?)",
            [(c.id, c.type, c.title, c.user_language, now) for c in chats],
        )
        db.executemany(
            "INSERT INTO shipments (id, courier, code, registered, created_at) "
            "VALUES (?, ?, ?, 1, ?)",
            [(index + 1, POSTE, item.code, now) for index, item in enumerate(parcels)],
        )
        db.executemany(
            "INSERT INTO subscriptions (chat_id, shipment_id, label, added_by, added_by_name, "
            "added_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(chat, index + 1, _label(index), chat, "Cliente", now) for chat, index in follows],
        )


def _label(index: int) -> str | None:
    return f"ordine {index}" if index % 3 == 0 else None


def ingest(path: Path, snapshots: Sequence[Snapshot], *, notify: bool) -> int:
    """Store the snapshots as a poll would; returns how many changes were found."""

    async def run() -> int:
        storage = await Storage.open(path)
        found = 0
        for start in range(0, len(snapshots), INGEST_CHUNK):
            chunk = snapshots[start : start + INGEST_CHUNK]
            found += len(await storage.changes.ingest(chunk, notify=notify))
        await storage.close()
        return found

    return asyncio.run(run())


def finish_deliveries(path: Path) -> None:
    """Delivered parcels told long ago: every re-check done, archived."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE shipments SET rechecks_left=0, next_recheck_at=NULL, "
            "delivered_at='2026-11-03T10:00:00.000+00:00' WHERE status='delivered'"
        )
        db.execute(
            "UPDATE subscriptions SET archived_at='2026-11-06T10:00:00.000+00:00' "
            "WHERE shipment_id IN (SELECT id FROM shipments WHERE status='delivered')"
        )
        db.execute("UPDATE outbox SET sent_at=created_at WHERE sent_at IS NULL")


def followed_database(
    path: Path,
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
    create_schema(path)
    insert_rows(path, chats, [*moving, *done], follows)
    ingest(path, [snapshot(p) for p in [*moving, *done]], notify=False)
    finish_deliveries(path)
    tell_fake(tm, [*moving, *done])
    return moving, done
