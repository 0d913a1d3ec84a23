"""Work on the database file beside (or instead of) the running bot: the online backup, and
the read-only inspection `doctor` makes. Plain sqlite3: these run outside the event loop."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from bot.storage.backups import BackupError, copy_checked
from bot.storage.database import StorageOpenError

logger = logging.getLogger(__name__)


def backup_database(source: Path, target: Path) -> int:
    """Copy the live database with SQLite's online backup API (safe while the bot runs)."""
    if not source.is_file():
        logger.error("no database at %s", source)
        return 1
    if target.exists():
        logger.error("refusing to overwrite %s", target)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        version = copy_checked(source, target)
    except BackupError as exc:
        logger.error("backup written to %s is not usable: %s", target, exc)
        return 1
    print(f"backup written to {target} (schema v{version})")
    return 0


def check_database_location(path: Path) -> None:
    """Fail fast, creating nothing, when the database could not be opened or created at
    `path` (the bot checks this before it asks Telegram anything)."""
    if path.exists():
        if not path.is_file():
            raise StorageOpenError(f"cannot open the database at {path}: not a file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise StorageOpenError(f"cannot open the database at {path}: not readable and writable")
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StorageOpenError(f"cannot open the database at {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageOpenError(f"cannot open the database at {path}: {folder} is not writable")


class DatabaseInspectionError(RuntimeError):
    """The file is not a database SQLite can read (the message says why)."""


def inspect_database(path: Path) -> tuple[int, str]:
    """Schema version and quick check; a write lock taken and released proves writability."""
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            check = str(db.execute("PRAGMA quick_check").fetchone()[0])
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise DatabaseInspectionError(str(exc)) from None
    return version, check
