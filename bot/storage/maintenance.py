"""Maintenance commands that run beside (or instead of) the bot."""

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
