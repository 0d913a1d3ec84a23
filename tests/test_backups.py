"""Automatic backups without the bot: the copy, its check, the names, rotation, the schedule,
the variables, and what `doctor` says about them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.ops.backups import DUE_AT_START_DELAY_SECONDS, first_delay
from bot.ops.doctor import Level, check_backups
from bot.storage.backups import Backup, BackupError, backups, newest_backup, write_backup

BASE = {"TELEGRAM_BOT_TOKEN": "123456:ABCdef-ghijk_LMNOP", "TRACKINGMORE_API_KEY": "tm-key-123456"}
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "postino.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES ('kept')")
        db.execute("PRAGMA user_version=7")
    return path


def test_a_backup_is_a_checked_single_file_copy_with_the_data(
    database: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "deep" / "backups"
    backup = write_backup(database, folder, keep=3, now=NOW)
    assert backup.path == folder / "postino-20261126-093000.sqlite3"
    assert backup.taken_at == NOW and backup.size == backup.path.stat().st_size
    assert sorted(p.name for p in folder.iterdir()) == [backup.path.name]  # no -wal, no partial
    with sqlite3.connect(backup.path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA user_version").fetchone()[0] == 7
        assert copy.execute("SELECT x FROM t").fetchall() == [("kept",)]
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_rotation_keeps_the_newest_and_touches_nothing_else(database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    mine = folder / "postino-before-upgrade.sqlite3"
    mine.write_text("the user's own copy")
    for hour in range(5):
        write_backup(database, folder, keep=2, now=NOW + timedelta(hours=hour))
    write_backup(database, folder, keep=2, now=NOW + timedelta(hours=4))  # same second
    names = [b.path.name for b in backups(folder)]
    assert names == ["postino-20261126-133000.sqlite3", "postino-20261126-133000-2.sqlite3"]
    assert mine.read_text() == "the user's own copy"
    newest = newest_backup(folder)
    assert newest is not None and newest.sequence == 2


def test_a_folder_that_cannot_exist_raises_one_line(database: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BackupError) as raised:
        write_backup(database, blocker / "backups", keep=7, now=NOW)
    assert str(raised.value).startswith(f"cannot write a backup into {blocker / 'backups'}: ")
    assert "\n" not in str(raised.value)
    with pytest.raises(BackupError, match="no database at"):
        write_backup(tmp_path / "missing.sqlite3", tmp_path / "b", keep=7)


def test_first_backup_a_period_after_start_or_when_the_newest_turns_a_period_old() -> None:
    day = 86400.0
    assert first_delay(None, day, NOW) == day

    def taken(hours_ago: float) -> Backup:
        return Backup(Path("x"), NOW - timedelta(hours=hours_ago), 1)

    assert first_delay(taken(6), day, NOW) == pytest.approx(18 * 3600)
    assert first_delay(taken(30), day, NOW) == DUE_AT_START_DELAY_SECONDS  # overdue: at start
    assert first_delay(taken(-2), day, NOW) == day  # from the future (clock moved): a period


def test_backup_variables_defaults_and_checks(tmp_path: Path) -> None:
    defaults = load_settings(BASE)
    assert (defaults.backup_dir, defaults.backup_every_hours, defaults.backup_keep) == (
        None,
        24,
        7,
    )
    chosen = load_settings(
        {**BASE, "BACKUP_DIR": str(tmp_path), "BACKUP_EVERY_HOURS": "0.001", "BACKUP_KEEP": "2"}
    )
    assert chosen.backup_dir == tmp_path and chosen.backup_every_seconds == pytest.approx(3.6)
    file = tmp_path / "file"
    file.write_text("")
    for name, value in [
        ("BACKUP_DIR", str(file)),
        ("BACKUP_EVERY_HOURS", "0"),
        ("BACKUP_EVERY_HOURS", "daily"),
        ("BACKUP_KEEP", "0"),
        ("BACKUP_KEEP", "1.5"),
    ]:
        with pytest.raises(ConfigError) as raised:
            load_settings({**BASE, name: value})
        assert str(raised.value).startswith(name), (name, value)


def test_doctor_shows_the_last_backup_and_its_age(database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    settings = load_settings({**BASE, "BACKUP_DIR": str(folder)})
    assert check_backups(settings, NOW).detail.startswith("none yet;")
    write_backup(database, folder, keep=7, now=NOW)
    found = check_backups(settings, NOW + timedelta(hours=3))
    assert found.level == Level.OK
    assert found.detail.startswith("last backup postino-20261126-093000.sqlite3, 3 h ago")
    late = check_backups(settings, NOW + timedelta(days=3))
    assert late.level == Level.WARN and "overdue" in late.detail
    off = check_backups(load_settings(BASE))
    assert off.level == Level.OK and "BACKUP_DIR not set" in off.detail
    blocker = tmp_path / "file"
    blocker.write_text("")
    broken = check_backups(load_settings({**BASE, "BACKUP_DIR": str(blocker / "b")}))
    assert broken.level == Level.FAIL and "cannot be created" in broken.detail
