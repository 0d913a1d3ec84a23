"""Ingest: a batch of snapshots diffed against what is stored, and the changes written with
their events and outbox rows in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.lifecycle import Notice, after_recheck, first_recheck, is_told_to
from bot.core.shipments import Change, Checkpoint, Snapshot, Status, diff
from bot.core.times import iso_utc, utcnow
from bot.storage.connection import Connection
from bot.storage.database import Repository, write_all
from bot.storage.records import encode_notice

# Changed shipments whose subscribers are read in one statement (SQLite allows 32,766
# parameters; a poll batch has 40).
_SUBSCRIBERS_CHUNK = 500


class Changes(Repository):
    """Where what the carrier says becomes stored history and queued notifications."""

    async def ingest(
        self,
        snapshots: Sequence[Snapshot],
        *,
        unchanged: Sequence[int] = (),
        notify: bool = True,
    ) -> list[Change]:
        """Store what is new in these snapshots, and queue one notification per chat and change.

        Events, the new status and the outbox rows are written in one transaction, so a
        crash either keeps all of a change or none of it; the diff runs under the same
        lock, so two paths seeing the same change (poll and push) store it once. Each kind
        of write is one statement for the whole batch: a poll cycle ingests 40 at a time.
        `unchanged` are the ids of shipments of the same poll that TrackingMore answered
        exactly as last time: their poll is recorded in the same transaction.
        """
        if not snapshots and not unchanged:
            return []
        now = iso_utc()
        async with self._transaction() as db:
            changes = await self._ingest_snapshots(db, snapshots, now, notify=notify)
            await self._record_unchanged(db, unchanged, now)
        return changes

    async def _ingest_snapshots(
        self, db: Connection, snapshots: Sequence[Snapshot], now: str, *, notify: bool
    ) -> list[Change]:
        if not snapshots:
            return []
        changes: list[Change] = []
        polled: list[tuple[Any, ...]] = []
        rechecked: list[_Stored] = []
        stored = await self._load_for_diff(db, snapshots)
        for snapshot in snapshots:
            entry = stored.get((snapshot.courier, snapshot.code))
            if entry is None:
                continue
            polled.append(
                (
                    now,
                    snapshot.carrier_id,
                    snapshot.signature,
                    snapshot.expected_delivery,
                    snapshot.signed_by,
                    snapshot.transit_days,
                    entry.id,
                )
            )
            change = diff(
                entry.id,
                entry.status,
                entry.fingerprints,
                snapshot,
                entry.substatus or "",
                entry.expected_delivery or "",
            )
            if change is not None:
                changes.append(change)
            elif entry.status == Status.DELIVERED:
                rechecked.append(entry)
        await write_all(
            db,
            "UPDATE shipments SET registered=1, last_polled_at=?, "
            "carrier_id=COALESCE(NULLIF(?, ''), carrier_id), "
            "carrier_signature=NULLIF(?, ''), expected_delivery=NULLIF(?, ''), "
            "signed_by=NULLIF(?, ''), transit_days=? WHERE id=?",
            polled,
        )
        await self._count_rechecks(db, rechecked)
        await self._store_changes(db, changes, now, notify=notify)
        return changes

    async def _record_unchanged(
        self, db: Connection, shipment_ids: Sequence[int], now: str
    ) -> None:
        """Nothing to diff, but the poll counts (a delivered shipment due for a re-check has
        had it)."""
        if not shipment_ids:
            return
        marks = ",".join("?" * len(shipment_ids))
        rows = await db.execute_fetchall(
            "SELECT id, status, rechecks_left, next_recheck_at FROM shipments "
            f"WHERE id IN ({marks}) AND status = 'delivered'",
            list(shipment_ids),
        )
        await self._count_rechecks(
            db, [_Stored(row[0], row[1], row[2], row[3], set(), None, None) for row in rows]
        )
        await write_all(
            db,
            "UPDATE shipments SET last_polled_at=? WHERE id=?",
            [(now, shipment_id) for shipment_id in shipment_ids],
        )

    async def _load_for_diff(
        self, db: Connection, snapshots: Sequence[Snapshot]
    ) -> dict[tuple[str, str], _Stored]:
        keys = list({(s.courier, s.code) for s in snapshots})
        values = ",".join("(?, ?)" for _ in keys)
        params = [part for key in keys for part in key]
        # A join, not `(courier, code) IN (VALUES …)`: SQLite scans the whole table for that.
        # execute_fetchall: one hop to aiosqlite's thread, where `async for` makes one per row.
        rows = await db.execute_fetchall(
            f"WITH k(courier, code) AS (VALUES {values}) "
            "SELECT sh.id, sh.courier, sh.code, sh.status, sh.rechecks_left, sh.next_recheck_at, "
            "sh.substatus, sh.expected_delivery "
            "FROM k JOIN shipments sh ON sh.courier = k.courier AND sh.code = k.code "
            f"ORDER BY sh.id{db.for_update('sh')}",
            params,
        )
        by_id = {
            row[0]: _Stored(row[0], row[3], row[4], row[5], set(), row[6], row[7]) for row in rows
        }
        keyed = {(row[1], row[2]): by_id[row[0]] for row in rows}
        if by_id:
            marks = ",".join("?" * len(by_id))
            events = await db.execute_fetchall(
                f"SELECT shipment_id, fingerprint FROM events WHERE shipment_id IN ({marks})",
                list(by_id),
            )
            for shipment_id, fingerprint in events:
                by_id[shipment_id].fingerprints.add(fingerprint)
        return keyed

    async def _count_rechecks(self, db: Connection, entries: Sequence[_Stored]) -> None:
        """Delivered shipments were looked at again and had not changed."""
        moment = utcnow()
        now, updates = iso_utc(moment), []
        for entry in entries:
            if entry.rechecks_left <= 0 or (entry.next_recheck_at and entry.next_recheck_at > now):
                continue
            left, next_at = after_recheck(entry.rechecks_left, moment)
            updates.append((left, iso_utc(next_at) if next_at else None, entry.id))
        await write_all(
            db, "UPDATE shipments SET rechecks_left=?, next_recheck_at=? WHERE id=?", updates
        )

    async def _track_deliveries(self, db: Connection, changes: Sequence[Change], now: str) -> None:
        """Delivered: schedule the re-checks. No longer delivered (a return): active again."""
        rechecks, first_at = first_recheck(utcnow())
        delivered = [
            (now, rechecks, iso_utc(first_at), c.shipment_id)
            for c in changes
            if c.new_status == Status.DELIVERED and c.old_status != Status.DELIVERED
        ]
        returned = [
            (c.shipment_id,)
            for c in changes
            if c.old_status == Status.DELIVERED and c.new_status != Status.DELIVERED
        ]
        await write_all(
            db,
            "UPDATE shipments SET delivered_at=?, rechecks_left=?, next_recheck_at=? WHERE id=?",
            delivered,
        )
        await write_all(
            db,
            "UPDATE shipments SET delivered_at=NULL, rechecks_left=0, next_recheck_at=NULL "
            "WHERE id=?",
            returned,
        )
        await write_all(
            db, "UPDATE subscriptions SET archived_at=NULL WHERE shipment_id=?", returned
        )

    async def _store_changes(
        self, db: Connection, changes: Sequence[Change], now: str, *, notify: bool
    ) -> None:
        if not changes:
            return
        await db.executemany(
            "INSERT INTO events (shipment_id, fingerprint, occurred_at, raw_time, "
            "status, substatus, description, location, seen_at) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            [_event_row(c.shipment_id, cp, now) for c in changes for cp in c.new_checkpoints],
        )
        await db.executemany(
            "UPDATE shipments SET status=?, substatus=?, last_change_at=?, "
            "latest_event_at=CASE WHEN CAST(? AS TEXT) IS NOT NULL AND (latest_event_at IS NULL "
            "    OR ? > latest_event_at) THEN ? ELSE latest_event_at END WHERE id=?",
            [_status_row(c, now) for c in changes],
        )
        await self._track_deliveries(db, changes, now)
        if not notify:
            return
        await self._queue_notifications(db, changes, now)

    async def _queue_notifications(
        self, db: Connection, changes: Sequence[Change], now: str
    ) -> None:
        """One outbox row per chat that hears about each change: muted subscriptions and
        paused chats hear nothing, and the chat's `/notify` mode decides the rest."""
        told = {c.shipment_id: c for c in changes if c.worth_telling}
        ids = list(told)
        rows: list[tuple[Any, ...]] = []
        notices: dict[int, str] = {}
        for start in range(0, len(ids), _SUBSCRIBERS_CHUNK):
            chunk = ids[start : start + _SUBSCRIBERS_CHUNK]
            subscribers = await db.execute_fetchall(
                "SELECT s.chat_id, s.shipment_id, c.notify_mode FROM subscriptions s "
                "JOIN chats c ON c.id = s.chat_id "
                f"WHERE s.shipment_id IN ({','.join('?' * len(chunk))}) "
                "AND c.blocked_at IS NULL AND s.muted = 0 ORDER BY s.shipment_id, s.chat_id",
                chunk,
            )
            for chat_id, shipment_id, notify_mode in subscribers:
                change = told[shipment_id]
                if not is_told_to(change, notify_mode):
                    continue
                if shipment_id not in notices:
                    notices[shipment_id] = encode_notice(Notice.of(change))
                rows.append((chat_id, shipment_id, notices[shipment_id], now, now))
        await write_all(
            db,
            "INSERT INTO outbox (chat_id, shipment_id, payload, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )


@dataclass
class _Stored:
    """A shipment as the diff needs it."""

    id: int
    status: str | None
    rechecks_left: int
    next_recheck_at: str | None
    fingerprints: set[str]
    substatus: str | None  # the shown status depends on it (pickup002: ready for pickup)
    expected_delivery: str | None  # a new date is told


def _status_row(change: Change, now: str) -> tuple[Any, ...]:
    latest = next((c for c in change.new_checkpoints if c.occurred_at), None)
    latest_at = _iso_local(latest.occurred_at) if latest else None
    return (
        change.new_status,
        change.substatus,
        now,
        latest_at,
        latest_at,
        latest_at,
        change.shipment_id,
    )


def _iso_local(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _event_row(shipment_id: int, checkpoint: Checkpoint, now: str) -> tuple[Any, ...]:
    return (
        shipment_id,
        checkpoint.fingerprint,
        _iso_local(checkpoint.occurred_at),
        checkpoint.raw_time,
        checkpoint.status,
        checkpoint.substatus,
        checkpoint.description,
        checkpoint.location,
        now,
    )
