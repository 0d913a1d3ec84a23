"""Work on the database file beside (or instead of) the running bot: the online backup, and
the read-only inspection `doctor` makes. Plain sqlite3: these run outside the event loop."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

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
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.execute("PRAGMA busy_timeout=5000")
        src.backup(dst)
        version = dst.execute("PRAGMA user_version").fetchone()[0]
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
    if check != "ok":
        logger.error("backup written to %s failed its integrity check: %s", target, check)
        return 1
    print(f"backup written to {target} (schema v{version})")
    return 0


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
