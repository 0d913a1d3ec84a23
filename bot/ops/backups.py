"""Automatic backups (BACKUP_DIR, every BACKUP_EVERY_HOURS, the newest BACKUP_KEEP kept).

The job copies the database in a worker thread (`bot.storage.backups`: SQLite's online
backup, an integrity check of the copy, rotation), so the bot never waits for it. The first
backup comes a period after start, or when the newest backup already in the folder turns a
period old (at once when it is older): restarts do not push backups back. Every outcome goes
to `on_outcome` (`None` on success, else the reason), which alerts the admins once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.storage.backups import Backup, BackupError, newest_backup, write_backup

logger = logging.getLogger(__name__)

Outcome = Callable[[str | None], Awaitable[None]]
# At start a backup that is due waits this long, so it never competes with start-up.
DUE_AT_START_DELAY_SECONDS = 1.0


class AutomaticBackups:
    def __init__(
        self,
        database: Path,
        folder: Path,
        *,
        every_seconds: float,
        keep: int,
        on_outcome: Outcome,
    ) -> None:
        self.database = database
        self.folder = folder
        self.every_seconds = every_seconds
        self.keep = keep
        self._on_outcome = on_outcome
        self.last: Backup | None = None

    @classmethod
    def of(cls, settings: Settings, on_outcome: Outcome) -> AutomaticBackups:
        """The backups BACKUP_DIR, BACKUP_EVERY_HOURS and BACKUP_KEEP ask for."""
        assert settings.backup_dir is not None
        return cls(
            settings.database_path,
            settings.backup_dir,
            every_seconds=settings.backup_every_seconds,
            keep=settings.backup_keep,
            on_outcome=on_outcome,
        )

    async def first_delay(self) -> float:
        """Seconds from now to the first backup."""
        newest = await asyncio.to_thread(newest_backup, self.folder)
        return first_delay(newest, self.every_seconds, datetime.now(UTC))

    async def run_job(self, _context: object) -> None:
        try:
            backup = await asyncio.to_thread(write_backup, self.database, self.folder, self.keep)
        except BackupError as exc:
            logger.error("automatic backup failed: %s", exc)
            await self._on_outcome(str(exc))
            return
        except Exception as exc:  # a backup must never take the bot down
            logger.exception("automatic backup failed")
            await self._on_outcome(f"{type(exc).__name__}: {exc}")
            return
        self.last = backup
        logger.info(
            "backup written to %s (%.1f MB, integrity ok; keeping the newest %d)",
            backup.path,
            backup.size / 1e6,
            self.keep,
        )
        await self._on_outcome(None)


def first_delay(newest: Backup | None, every_seconds: float, now: datetime) -> float:
    """A period after start without backups; else when the newest turns a period old."""
    if newest is None:
        return every_seconds
    remaining = every_seconds - newest.age_seconds(now)
    return max(DUE_AT_START_DELAY_SECONDS, min(every_seconds, remaining))
