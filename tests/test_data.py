"""Data safety: migrations from every older schema with data in it, online backup, restore."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import run_cli

from bot.storage import MIGRATIONS, SCHEMA_VERSION, Storage, StorageOpenError

# Data as each schema version held it. A new migration adds its version here.
SEEDS: dict[int, str] = {
    1: """
    INSERT INTO chats (id, type, title, language, user_language, created_at)
        VALUES (1001, 'private', 'Ada', NULL, 'it', '2026-01-01T00:00:00.000+00:00'),
               (-2001, 'group', 'Shop', 'en', NULL, '2026-01-01T00:00:00.000+00:00');
    INSERT INTO shipments (id, courier, code, carrier_id, registered, status, substatus,
                           latest_event_at, last_change_at, created_at)
        VALUES (1, 'poste-italiane', 'RR123456785IT', 'tm1', 1, 'transit', 'transit001',
                '2026-01-02T09:30:00', '2026-01-02T09:31:00.000+00:00',
                '2026-01-01T00:00:00.000+00:00');
    INSERT INTO events (shipment_id, fingerprint, occurred_at, raw_time, status, substatus,
                        description, location, seen_at)
        VALUES (1, 'f1', '2026-01-02T09:30:00', '2026-01-02 09:30:00', 'transit', '',
                'In transito', 'BOLOGNA', '2026-01-02T09:31:00.000+00:00');
    INSERT INTO subscriptions (chat_id, shipment_id, label, added_by, added_by_name, added_at)
        VALUES (1001, 1, 'Scarpe', 1001, 'Ada', '2026-01-01T00:00:00.000+00:00'),
               (-2001, 1, 'Ordine 7', 5, 'Bo', '2026-01-01T00:00:00.000+00:00');
    INSERT INTO outbox (chat_id, shipment_id, payload, created_at, next_attempt_at)
        VALUES (1001, 1, '{"status": "transit", "events": []}',
                '2026-01-02T09:31:00.000+00:00', '2026-01-02T09:31:00.000+00:00');
    """,
    2: """
    INSERT INTO api_usage (day, endpoint, result, count) VALUES ('2026-01-02', 'get', 'ok', 7);
    """,
    3: """
    UPDATE chats SET notify_mode = 'important', quiet_start = '22:00', quiet_end = '07:30',
                     digest_time = '08:30' WHERE id = -2001;
    UPDATE subscriptions SET muted = 1 WHERE chat_id = -2001;
    """,
    5: """
    INSERT INTO seen_updates (update_id, seen_at) VALUES (77, '2026-01-02T09:31:00.000+00:00');
    INSERT INTO replicas (name, role, pid, started_at, seen_at)
        VALUES ('a', 'leader', 1, '2026-01-02T09:00:00.000+00:00',
                '2026-01-02T09:31:00.000+00:00');
    """,
    4: """
    UPDATE shipments SET carrier_signature = '0123456789abcdef01234567' WHERE id = 1;
    """,
    6: """
    UPDATE shipments SET expected_delivery = '2026-12-03', signed_by = 'Ada', transit_days = 2
        WHERE id = 1;
    """,
    7: """
    INSERT INTO forum_topics (chat_id, thread_id, name, seen_at)
        VALUES (-2001, 42, 'Ordini', '2026-01-02T09:31:00.000+00:00');
    UPDATE subscriptions SET thread_id = 42 WHERE chat_id = -2001;
    """,
    8: """
    INSERT INTO desk_links (token_hash, chat_id, user_id, user_name, created_at, expires_at)
        VALUES ('ab12', 1001, 1001, 'Ada', '2026-01-02T09:31:00.000+00:00',
                '2026-01-02T09:41:00.000+00:00');
    INSERT INTO desk_sessions (id_hash, chat_id, user_id, user_name, created_at, last_seen_at)
        VALUES ('cd34', -2001, 5, 'Bo', '2026-01-02T09:31:00.000+00:00',
                '2026-01-02T09:31:00.000+00:00');
    """,
    9: """
    INSERT INTO forum_topics (chat_id, thread_id, name, seen_at, closed_at)
        VALUES (-2001, 43, '', '2026-01-02T09:31:00.000+00:00', '2026-01-02T09:31:00.000+00:00');
    """,
}


def build_database(path: Path, version: int) -> None:
    """A database as postino at `version` left it, with that version's data in it."""
    with sqlite3.connect(path) as db:
        for step in range(1, version + 1):
            db.executescript(MIGRATIONS[step - 1])
            db.executescript(SEEDS[step])
        db.execute(f"PRAGMA user_version={version}")


def test_every_version_has_seed_data() -> None:
    assert sorted(SEEDS) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_migration_from_every_version_keeps_the_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.sqlite3"
    build_database(path, version)

    async def check() -> None:
        storage = await Storage.open(path)
        try:
            assert await storage.schema_version() == SCHEMA_VERSION
            [followed] = await storage.follows.list_followed(1001)
            assert (followed.label, followed.shipment.status) == ("Scarpe", "transit")
            details = (followed.shipment.expected_delivery, followed.shipment.transit_days)
            assert details == (("2026-12-03", 2) if version >= 6 else (None, None))
            [group_followed] = await storage.follows.list_followed(-2001)
            assert group_followed.label == "Ordine 7"
            assert group_followed.thread_id == (42 if version >= 7 else None)
            topic = await storage.topics.name(-2001, 42)
            assert topic == ("Ordini" if version >= 7 else None)
            assert await storage.topics.name(-2001, 43) is None  # seen closed, never named
            [event] = await storage.follows.events(followed.shipment.id)
            assert event.description == "In transito"
            [pending] = await storage.outbox.due_notifications()
            assert pending.chat_id == 1001
            chat = await storage.chats.get_chat(-2001)
            assert chat is not None and chat.language == "en"
        finally:
            await storage.close()

    asyncio.run(check())


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    build_database(path, SCHEMA_VERSION)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StorageOpenError, match="newer than this postino"):
        asyncio.run(Storage.open(path))


@pytest.mark.e2e
@pytest.mark.sqlite_only  # SQLite's online backup, restored by copying the file back
def test_online_backup_and_restore(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
    tmp_path: Path,
) -> None:
    bot = bot_factory()
    fake_tg.send_text(1001, "RR123456785IT Scarpe", language_code="en")
    fake_tg.wait_for_messages(1001, 1)

    backup = tmp_path / "backups" / "postino-backup.sqlite3"
    result = run_cli(["backup", str(backup)], bot_env)  # while the bot runs
    assert result.returncode == 0, result.stderr
    assert f"schema v{SCHEMA_VERSION}" in result.stdout
    again = run_cli(["backup", str(backup)], bot_env)
    assert again.returncode == 1  # never overwrites

    # Lose the data, then restore as the README says: stop, copy back, drop -wal/-shm, start.
    fake_tg.send_text(1001, "/remove RR123456785IT", language_code="en")
    fake_tg.wait_for_messages(1001, 2)
    bot.stop()
    database = Path(bot_env["DATABASE_PATH"])
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(backup.read_bytes())
    bot.start()
    bot.wait_ready(fake_tg)
    fake_tg.send_text(1001, "/list", language_code="en")
    assert "Scarpe" in fake_tg.wait_for_messages(1001, 3)[2]["text"]
