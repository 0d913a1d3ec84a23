"""The disk full under the database, for real: a small tmpfs holds it, and a filler file
takes the rest. The user is told the bot cannot save, the admins once, nothing is half
written, and once space returns the bot carries on by itself.

Mounting needs root (CI runs as root): without it the test is skipped with the reason, and
with CI=true it fails instead."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE, OTHER = "RR123456785IT", "EE123456785IT"
ALICE, BOB, ADMIN = 1001, 1002, 9001
DISK_SIZE = "4m"
CANNOT_SAVE = "can't save anything right now"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    reason = None
    if os.geteuid() != 0:
        reason = "mounting a small tmpfs for the database needs root"
    else:
        mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(folder)]
        try:
            result = subprocess.run(mount, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                reason = f"cannot mount a tmpfs: {result.stderr.strip()}"
        except OSError as exc:
            reason = f"cannot run mount: {exc}"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Take every byte left on the file system with one file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def alerts(fake_tg: FakeTelegram) -> list[str]:
    return [text for text in fake_tg.texts(ADMIN) if "The database" in text]


def say(fake_tg: FakeTelegram, chat_id: int, text: str) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, text, language_code="en")
    return fake_tg.wait_for_messages(chat_id, before + 1)[before]["text"]


# The bot's SQLite file on a tiny tmpfs, filled up: a PostgreSQL server's disk is its own.
@pytest.mark.sqlite_only
def test_disk_full_is_told_and_recovered_from(
    small_disk: Path,
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
) -> None:
    for code in (CODE, OTHER):
        fake_tm.script(code, status="pending")
    database = small_disk / "postino.sqlite3"
    bot = bot_factory(DATABASE_PATH=str(database), ADMIN_USER_IDS=str(ADMIN))
    say(fake_tg, ADMIN, "/start")
    assert CANNOT_SAVE not in say(fake_tg, BOB, f"/track {OTHER}")  # polled from now on

    filler = fill(small_disk)
    for chat_id in (ALICE, BOB, ALICE):
        answer = say(fake_tg, chat_id, f"/track {CODE}")
        assert CANNOT_SAVE in answer and "Traceback" not in answer
    [alert] = fake_tg.wait_until(lambda f: alerts(f), what="the admin alerted")
    assert "database refuses writes" in alert
    assert "update not handled: the database cannot be written" in bot.log_text()

    filler.unlink()
    fake_tg.wait_until(lambda f: len(alerts(f)) == 2, timeout=20, what="the recovery told")
    assert "takes writes again" in alerts(fake_tg)[1]
    # Nothing of the refused /track was kept: it is a new shipment now, and it works.
    answer = say(fake_tg, ALICE, f"/track {CODE}")
    assert CANNOT_SAVE not in answer and "already" not in answer.lower()
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_until(
        lambda f: any("In transito" in text for text in f.texts(ALICE)), what="the move told"
    )
    bot.settle_after_poll_cycles(1)
    assert len(alerts(fake_tg)) == 2  # once each way
    bot.stop()
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        follows = db.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0]
    assert follows == 2  # Bob's first, Alice's after the recovery; none of the refused ones
