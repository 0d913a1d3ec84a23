"""One postino per SQLite file: an exclusive `flock` on `<database file>.lock` beside it.

SQLite has one writer, and two bots on one file would both poll TrackingMore and both send
every notification. The lock is the kernel's: it goes with the process, however that ends
(SIGKILL included), so a crash never leaves a stale lock behind. The file itself stays (it is
never deleted, which would let two processes lock two different files of the same name); it
holds the pid of the holder, for humans. PostgreSQL runs several replicas and needs no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from bot.storage.database import StorageOpenError

LOCK_SUFFIX = ".lock"


def lock_path_for(database_path: Path) -> Path:
    """`postino.sqlite3` → `postino.sqlite3.lock`, in the same folder."""
    return database_path.with_name(database_path.name + LOCK_SUFFIX)


class InstanceLock:
    """Held from :meth:`acquire` until :meth:`release` (or the process's end)."""

    def __init__(self, database_path: Path, path: Path, fd: int) -> None:
        self.database_path = database_path
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database_path: Path) -> InstanceLock:
        """Lock `database_path` for this process, or raise `StorageOpenError` (one line)
        when another process holds it. Creates the folder and the lock file if needed."""
        path = lock_path_for(database_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # No O_TRUNC: the pid written by the holder must survive a refused attempt.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageOpenError(
                f"cannot open the lock file of the database at {database_path}: {exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StorageOpenError(
                f"another postino is already running on DATABASE_PATH={database_path} "
                f"(pid {holder}); stop it first, or use PostgreSQL (DATABASE_URL) to run "
                "several replicas"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageOpenError(f"cannot lock {path}: {exc}") from None
        with contextlib.suppress(OSError):  # the pid is for humans: the lock is what counts
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(database_path, path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close (idempotent). The file stays: deleting it would race a newcomer."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    """The holder's pid as it wrote it, or "unknown" (not written yet, or unreadable)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
