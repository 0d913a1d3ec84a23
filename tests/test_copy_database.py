"""`python -m bot copy-database URL`: a SQLite database the bot wrote, copied into an empty
PostgreSQL database, reads the same there; anything else is refused in one line, and a
failed copy leaves the target as it was."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from harness import run_cli
from postgres import PASSWORD

from bot.core.shipments import Checkpoint, Snapshot
from bot.storage import MIGRATIONS, SCHEMA_VERSION, Storage

pytestmark = pytest.mark.full

ENV = {
    "TELEGRAM_BOT_TOKEN": "123456:TEST-secret-token",
    "TRACKINGMORE_API_KEY": "tm-test-key-0123456789",
}
POSTE = "poste-italiane"
CODES = ("RR123456785IT", "EE123456785IT", "CC123456785IT", "RA123456785IT")
TABLE_LINE = re.compile(r"^([a-z_]+): (\d+) rows$", re.MULTILINE)
SUMMARY = re.compile(r"^copied (\d+) rows of (\d+) tables in (\d+\.\d) s ", re.MULTILINE)
CHATS = (1, 2, -100123)


def snapshot(code: str, status: str, *events: tuple[str, str, datetime]) -> Snapshot:
    checkpoints = tuple(
        Checkpoint(d, loc, when, when.isoformat(), status) for d, loc, when in events
    )
    return Snapshot(POSTE, code, status, carrier_id=f"tm-{code}", checkpoints=checkpoints)


async def seed(path: Path) -> None:
    """A little of everything the bot writes, through its own storage API."""
    storage = await Storage.open(path)
    try:
        for chat in CHATS:
            kind = "private" if chat > 0 else "group"
            await storage.chats.touch_chat(chat, kind, None if chat > 0 else "Negozio", "it")
        await storage.chats.set_chat_language(2, "en")
        await storage.chats.set_notify_mode(-100123, "final")
        await storage.chats.set_quiet_hours(1, "22:00", "07:30")
        await storage.chats.set_digest(2, "08:00", "2026-11-20")
        await storage.follows.follow(1, POSTE, CODES[0], "mamma", 1, "Ada")
        await storage.follows.follow(2, POSTE, CODES[0], None, 2, "Bo")
        await storage.follows.follow(2, POSTE, CODES[1], "scarpe", 2, "Bo")
        await storage.follows.follow(-100123, POSTE, CODES[2], "ordine 17", 5, "Cy")
        shipment, _ = await storage.follows.follow(-100123, POSTE, CODES[3], None, 5, "Cy")
        await storage.follows.set_muted(-100123, shipment.id, True)
        await storage.shipments.mark_registered([(POSTE, code) for code in CODES])
        start = datetime(2026, 11, 18, 9, 30)
        await storage.changes.ingest([snapshot(code, "pending") for code in CODES], notify=False)
        await storage.changes.ingest(
            [
                snapshot(CODES[0], "transit", ("Accettato", "MILANO", start)),
                snapshot(
                    CODES[1],
                    "transit",
                    ("In transito", "BOLOGNA", start + timedelta(hours=20)),
                    ("Accettato", "ROMA", start),
                ),
                snapshot(
                    CODES[2],
                    "delivered",
                    ("Consegnato", "TORINO, via Po 1", start + timedelta(days=2)),
                    ("In consegna", "TORINO", start + timedelta(days=1, hours=20)),
                    ("Accettato", "NAPOLI", start),
                ),
            ]
        )
        [first, *_] = await storage.outbox.due_notifications()
        await storage.outbox.mark_sent(first.id)
        await storage.follows.set_archived(
            -100123,
            (await storage.shipments.get_shipment(POSTE, CODES[2])).id,
            True,  # type: ignore[union-attr]
        )
        await storage.reports.add_api_usage("2026-11-20", {("get", "ok"): 41, ("create", "ok"): 4})
    finally:
        await storage.close()


def sqlite_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order, with its columns in the table's order."""
    with closing(sqlite3.connect(path)) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {name: sorted(db.execute(f"SELECT * FROM {name}"), key=repr) for name in names}


async def postgres_tables(url: str, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        found = {}
        for name in names:
            columns = await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = $1 ORDER BY ordinal_position",
                name,
            )
            select = ", ".join(c[0] for c in columns)
            rows = await conn.fetch(f"SELECT {select} FROM {name}")
            found[name] = sorted((tuple(r) for r in rows), key=repr)
        return found
    finally:
        await conn.close()


def copy(path: Path, url: str) -> tuple[int, str, str]:
    result = run_cli(["copy-database", url], {**ENV, "DATABASE_PATH": str(path)}, timeout=120)
    return result.returncode, result.stdout, result.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("postino: ")
    return lines[0]


async def readable(storage: Storage) -> dict[str, Any]:
    """What the bot reads of its data, through its own API."""
    read: dict[str, Any] = {"gauges": await storage.reports.gauges()}
    read["totals"] = await storage.reports.totals()
    read["usage"] = await storage.reports.api_usage("2026-11-20")
    for chat in CHATS:
        read[f"chat {chat}"] = await storage.chats.get_chat(chat)
        read[f"follows {chat}"] = await storage.follows.list_followed(chat, archived=None)
        read[f"desk {chat}"] = await storage.reports.desk_rows(chat, archived=True)
    for code in CODES:
        shipment = await storage.shipments.get_shipment(POSTE, code)
        assert shipment is not None
        read[code] = shipment
        read[f"events {code}"] = await storage.follows.events(shipment.id)
    read["due"] = [(n.id, n.chat_id, n.notice) for n in await storage.outbox.due_notifications()]
    return read


async def test_copy_reads_the_same_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    await seed(path)
    source = sqlite_tables(path)
    assert {len(source[t]) > 0 for t in ("events", "outbox", "subscriptions", "api_usage")} == {
        True
    }

    code, out, err = copy(path, postgres_url)

    assert code == 0, err
    assert PASSWORD not in out + err
    assert f"{postgres_url.replace(PASSWORD, '****')}" in out
    printed = {table: int(rows) for table, rows in TABLE_LINE.findall(out)}
    assert printed == {table: len(rows) for table, rows in source.items()}
    [(total, tables, _seconds)] = SUMMARY.findall(out)
    assert (int(total), int(tables)) == (sum(printed.values()), len(printed))
    # Parents before children.
    order = list(printed)
    assert order.index("chats") < order.index("subscriptions")
    assert order.index("shipments") < min(order.index(t) for t in ("events", "outbox"))

    # Row for row the same data, every table.
    assert await postgres_tables(postgres_url, list(source)) == source

    # And the bot reads the same through its API on both engines.
    before = await Storage.open(path)
    after = await Storage.open(postgres_url)
    try:
        assert await after.schema_version() == SCHEMA_VERSION
        assert await readable(after) == await readable(before)

        # New rows continue after the copied ids (the sequences were reset).
        max_ids = {t: max(r[0] for r in source[t]) for t in ("shipments", "events", "outbox")}
        await after.chats.touch_chat(7, "private", None, "it")
        shipment, new = await after.follows.follow(7, POSTE, "RB123456785IT", None, 7, "Di")
        assert new and shipment.id == max_ids["shipments"] + 1
        moment = datetime(2026, 11, 22, 8, 0)
        await after.changes.ingest([snapshot("RB123456785IT", "transit", ("Via", "BARI", moment))])
        rows = await postgres_tables(postgres_url, ["events", "outbox"])
        assert max(r[0] for r in rows["events"]) == max_ids["events"] + 1
        assert max(r[0] for r in rows["outbox"]) == max_ids["outbox"] + 1
    finally:
        await before.close()
        await after.close()

    # A second copy into what is now a used database is refused, and changes nothing.
    kept = await postgres_tables(postgres_url, list(source))
    code, out, err = copy(path, postgres_url)
    assert code == 1
    line = one_line(err)
    assert "not empty" in line and "chats" in line
    assert PASSWORD not in out + err
    assert await postgres_tables(postgres_url, list(source)) == kept


async def test_a_failed_copy_leaves_the_target_empty(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    await seed(path)
    with closing(sqlite3.connect(path)) as db:  # an event of a shipment that is gone
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute(
            "INSERT INTO events (shipment_id, fingerprint, description, seen_at) "
            "VALUES (999, 'f', 'orphan', '2026-11-20T10:00:00Z')"
        )
        db.commit()

    code, out, err = copy(path, postgres_url)

    assert code == 1
    line = one_line(err)
    assert "copying events failed" in line and "foreign key" in line, line
    assert PASSWORD not in out + err
    names = list(sqlite_tables(path))
    assert all(rows == [] for rows in (await postgres_tables(postgres_url, names)).values())
    # The target was migrated but holds nothing: fixed, the source copies into it.
    with closing(sqlite3.connect(path)) as db:
        db.execute("DELETE FROM events WHERE shipment_id = 999")
        db.commit()
    code, out, err = copy(path, postgres_url)
    assert code == 0, err


async def test_a_value_postgresql_cannot_take_is_named(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    await seed(path)
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE shipments SET registered = 'yes' WHERE code = ?", (CODES[1],))
        db.execute("UPDATE shipments SET rechecks_left = '3' WHERE code = ?", (CODES[0],))
        db.commit()
    code, _, err = copy(path, postgres_url)
    assert code == 1
    assert "shipments.registered holds 'yes'" in one_line(err)


async def test_an_older_sqlite_schema_is_migrated_in_the_copy_only(
    tmp_path: Path, postgres_url: str
) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        for step in MIGRATIONS[:3]:
            db.executescript(step)
        db.execute("PRAGMA user_version=3")
        db.execute(
            "INSERT INTO chats (id, type, created_at) VALUES (5, 'private', '2026-01-01T00:00Z')"
        )
        db.commit()
    code, out, err = copy(path, postgres_url)
    assert code == 0, err
    assert f"migrated from schema v3 to v{SCHEMA_VERSION}" in out
    assert "chats: 1 rows" in out
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3  # the source untouched


async def test_a_newer_target_schema_is_refused(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    await seed(path)
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE postino_schema (version INTEGER NOT NULL)")
        await conn.execute(f"INSERT INTO postino_schema VALUES ({SCHEMA_VERSION + 1})")
    finally:
        await conn.close()
    code, _, err = copy(path, postgres_url)
    assert code == 1
    assert f"schema v{SCHEMA_VERSION + 1}, newer" in one_line(err)


def test_no_source_database_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    code, _, err = copy(missing, f"postgresql://postino:{PASSWORD}@127.0.0.1:1/postino")
    assert code == 1
    assert f"no SQLite database at {missing}" in one_line(err)
    assert not missing.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://postino:{PASSWORD}@db/postino",
        f"postgresql://postino:{PASSWORD}@/postino",
        f"postgresql://postino:{PASSWORD}@db:99999/postino",
        f"postgresql://postino:{PASSWORD}@db:5432",
        "",
    ],
)
def test_a_malformed_url_is_refused_in_one_line(tmp_path: Path, url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    code, out, err = copy(path, url)
    assert code == 2
    line = one_line(err)
    assert "copy-database" in line and "postgresql://user:password@host" in line
    assert PASSWORD not in out + err
    assert not path.exists()


def test_a_refused_password_is_one_line_without_it(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "postino.sqlite3"
    with closing(sqlite3.connect(path)):
        pass
    wrong = "wrong-" + PASSWORD
    code, out, err = copy(path, postgres_url.replace(PASSWORD, wrong))
    assert code == 1
    line = one_line(err)
    assert "refused the user name or password" in line and "DATABASE_URL" not in line
    assert wrong not in out + err


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "postino.sqlite3"
    with closing(sqlite3.connect(path)):
        pass
    code, out, err = copy(path, f"postgresql://postino:{PASSWORD}@127.0.0.1:1/postino")
    assert code == 1
    assert "not reachable" in one_line(err)
    assert PASSWORD not in out + err
