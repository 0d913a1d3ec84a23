"""Automatic backups of the running bot (BACKUP_DIR, a period of about a second here): written,
rotated to BACKUP_KEEP, each a sound copy holding the data; a folder that cannot exist alerts
the admins once, and once more when backups work again; `doctor` shows the last one."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import SEND_SETTLE_SECONDS, run_cli

pytestmark = pytest.mark.e2e

CODE = "RR123456785IT"
CHAT, ADMIN = 1001, 777
PERIOD_HOURS = "0.0003"  # 1.08 s
WRITTEN = "backup written to"
FAILED = "automatic backup failed"


def backup_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("postino-*.sqlite3"))


# Automatic backups copy the SQLite file (PostgreSQL is pg_dump's job): they are opened here.
@pytest.mark.sqlite_only
def test_backups_are_written_rotated_checked_and_hold_the_data(
    bot_factory: BotFactory,
    bot_env: dict[str, str],
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "backups"
    env = {"BACKUP_DIR": str(folder), "BACKUP_EVERY_HOURS": PERIOD_HOURS, "BACKUP_KEEP": "2"}
    bot = bot_factory(**env)
    fake_tm.script(CODE, status="pending")
    fake_tg.send_text(CHAT, CODE, language_code="en")
    fake_tg.wait_for_messages(CHAT, 1)  # the shipment is stored
    after_follow = bot.log_count(WRITTEN)
    bot.wait_for_log(WRITTEN, count=after_follow + 3, timeout=20)

    files = backup_files(folder)
    assert len(files) == 2, files  # rotated to BACKUP_KEEP
    assert [p.name for p in folder.iterdir() if p not in files] == []  # no partial copy left
    for file in files:
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            numbers = [row[0] for row in copy.execute("SELECT code FROM shipments")]
        assert numbers == [CODE], file

    doctor = run_cli(["doctor"], {**bot_env, **env})
    line = next(x for x in doctor.stdout.splitlines() if x.split()[1:2] == ["backups"])
    assert "last backup postino-" in line and " s ago, " in line, doctor.stdout
    assert "every 0.0003 h, keeping 2" in line
    assert doctor.stdout.rstrip().endswith("all is well"), doctor.stdout + doctor.stderr


@pytest.mark.sqlite_only  # no automatic backups on PostgreSQL: nothing would fail
def test_a_backup_folder_that_cannot_exist_alerts_the_admin_once_then_recovery(
    bot_factory: BotFactory, fake_tg: FakeTelegram, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file, so nothing can be created under it")
    folder = blocker / "backups"
    bot = bot_factory(
        ADMIN_USER_IDS=str(ADMIN),
        BACKUP_DIR=str(folder),
        BACKUP_EVERY_HOURS=PERIOD_HOURS,
    )
    fake_tg.send_text(ADMIN, "/start", language_code="en")
    fake_tg.wait_for_messages(ADMIN, 1)
    bot.wait_for_log(FAILED, count=1, timeout=20)
    alert = fake_tg.wait_for_messages(ADMIN, 2)[1]["text"]
    assert alert.startswith("💾 <b>Automatic backup failed.</b>")
    assert "BACKUP_DIR" in alert and str(folder) in alert
    bot.wait_for_log(FAILED, count=bot.log_count(FAILED) + 2, timeout=20)
    time.sleep(SEND_SETTLE_SECONDS)
    assert len(fake_tg.texts(ADMIN)) == 2  # failing again and again: still one alert

    blocker.unlink()  # now the folder can be created
    recovered = fake_tg.wait_for_messages(ADMIN, 3, timeout=20)[2]["text"]
    assert recovered.startswith("✅ <b>Automatic backups work again.</b>")
    assert len(backup_files(folder)) >= 1
    assert bot.alive
