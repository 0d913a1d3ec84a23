"""Automatic backups (BACKUP_DIR): an online copy of the live database, checked, then rotated.

Plain sqlite3 on a connection of its own, so it runs in a worker thread beside the bot's
aiosqlite connection (WAL: the copy never blocks the bot's writes). A copy is written under a
`.partial` name, passes `PRAGMA integrity_check` and only then takes its final name
`postino-YYYYMMDD-HHMMSS.sqlite3` (UTC): a half-written or damaged copy never looks like a
backup, and rotation keeps the newest `keep` of those names only — nothing else in the folder
is ever touched.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "postino-"
SUFFIX = ".sqlite3"
_PARTIAL = ".partial"
_STAMP = "%Y%m%d-%H%M%S"
_NAME = re.compile(r"^postino-(\d{8}-\d{6})(?:-(\d+))?\.sqlite3$")


class BackupError(RuntimeError):
    """The backup could not be written or failed its check; the message is one line."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime  # UTC, from the name
    size: int
    sequence: int = 1  # the n of `…-n.sqlite3`: two backups in one second

    def age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.taken_at).total_seconds())


def copy_checked(source: Path, target: Path) -> int:
    """SQLite's online backup of `source` into the new file `target`, then its integrity
    check; returns the copy's schema version. The copy is a single file (rollback journal)."""
    with closing(sqlite3.connect(source, timeout=10)) as src:
        src.execute("PRAGMA busy_timeout=5000")
        with closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
            check = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
    if check != "ok":
        raise BackupError(f"the copy failed its integrity check: {check}")
    return version


def write_backup(source: Path, folder: Path, keep: int, now: datetime | None = None) -> Backup:
    """One backup of `source` into `folder` (created if needed), then rotation to `keep`."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        final = _free_name(folder, moment)
        partial = final.with_name(final.name + _PARTIAL)
        partial.unlink(missing_ok=True)
        try:
            copy_checked(source, partial)
            partial.replace(final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        rotate(folder, keep)
        return Backup(final, moment, final.stat().st_size)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"cannot write a backup into {folder}: {exc}") from None


def backups(folder: Path) -> list[Backup]:
    """The backups in `folder`, oldest first (an unreadable or missing folder: none)."""
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match:
            continue
        try:
            taken = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
            size = entry.stat().st_size
        except (ValueError, OSError):
            continue
        found.append(Backup(entry, taken, size, int(match[2] or 1)))
    return sorted(found, key=lambda b: (b.taken_at, b.sequence))


def newest_backup(folder: Path) -> Backup | None:
    found = backups(folder)
    return found[-1] if found else None


def rotate(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (and leftover partial copies)."""
    removed = []
    for old in backups(folder)[:-keep] if keep > 0 else []:
        old.path.unlink(missing_ok=True)
        removed.append(old.path)
    for leftover in folder.glob(f"{PREFIX}*{SUFFIX}{_PARTIAL}"):
        leftover.unlink(missing_ok=True)
    return removed


def _free_name(folder: Path, moment: datetime) -> Path:
    """`postino-<stamp>.sqlite3`, or `…-2.sqlite3` when two backups share a second."""
    stem = f"{PREFIX}{moment.strftime(_STAMP)}"
    candidate, number = folder / f"{stem}{SUFFIX}", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}{SUFFIX}"
    return candidate
