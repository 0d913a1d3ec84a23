"""One postino per SQLite file: the lock beside the database, held by real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.database import StorageOpenError
from bot.storage.instance_lock import InstanceLock

REPO = Path(__file__).resolve().parents[1]
# Takes the lock, says so, then holds it until told to let go (a line on stdin) or killed.
HOLDER = """
import sys
from pathlib import Path
from bot.storage.instance_lock import InstanceLock
lock = InstanceLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""
# Tries once and prints what happened.
ATTEMPT = """
import sys
from pathlib import Path
from bot.storage.database import StorageOpenError
from bot.storage.instance_lock import InstanceLock
try:
    InstanceLock.acquire(Path(sys.argv[1])).release()
except StorageOpenError as exc:
    print(exc)
    sys.exit(3)
print("acquired")
"""


class Holder:
    """A `python -c` process holding the lock of `database`."""

    def __init__(self, database: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expect("locked")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def expect(self, line: str) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == line

    def tell(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "postino.sqlite3"


@pytest.fixture
def holder(database: Path) -> Iterator[Holder]:
    running = Holder(database)
    yield running
    running.stop()


def attempt(database: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ATTEMPT, str(database)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def refusal(database: Path, pid: int) -> str:
    return (
        f"another postino is already running on DATABASE_PATH={database} (pid {pid}); "
        "stop it first, or use PostgreSQL (DATABASE_URL) to run several replicas"
    )


def test_a_second_process_is_refused_in_one_line(database: Path, holder: Holder) -> None:
    lock_file = database.with_name("postino.sqlite3.lock")
    assert lock_file.read_text() == f"{holder.pid}\n"
    result = attempt(database)
    assert (result.returncode, result.stdout) == (3, refusal(database, holder.pid) + "\n")
    with pytest.raises(StorageOpenError) as refused:
        InstanceLock.acquire(database)
    assert str(refused.value) == refusal(database, holder.pid)
    assert lock_file.read_text() == f"{holder.pid}\n"  # a refused attempt leaves the pid be


def test_release_lets_the_next_one_in(database: Path, holder: Holder) -> None:
    holder.tell()
    holder.expect("released")
    lock = InstanceLock.acquire(database)
    try:
        assert lock.held and lock.path.read_text() == f"{os.getpid()}\n"
        assert attempt(database).returncode == 3
    finally:
        lock.release()
    lock.release()  # idempotent
    assert not lock.held and lock.path.exists()  # the file stays: deleting it would race
    assert attempt(database).stdout == "acquired\n"
    with InstanceLock.acquire(database) as again:
        assert again.held
    assert not again.held


def test_a_killed_holder_frees_the_lock(database: Path, holder: Holder) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.proc.wait(timeout=10)
    with InstanceLock.acquire(database) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"  # the dead one's pid is replaced


def test_two_locks_in_one_process_conflict_too(database: Path) -> None:
    with InstanceLock.acquire(database), pytest.raises(StorageOpenError, match="already running"):
        InstanceLock.acquire(database)


def test_an_unusable_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageOpenError, match="cannot open the lock file") as refused:
        InstanceLock.acquire(tmp_path / "file" / "postino.sqlite3")
    assert "\n" not in str(refused.value)
