"""The database engines a benchmark runs on: SQLite (a file) or PostgreSQL (a throwaway
server of the test suite's, `tests/postgres.py`), and the bot processes that share one.

    python -m bench --engine sqlite|postgresql|both

`Engine.database` gives a new database (a path or a `postgresql://` URL); `running_bots`
starts the real `python -m bot` on it, as several replicas on PostgreSQL where a part says
so. The PostgreSQL server runs with the settings of the `postgres:15` image that
docker-compose.postgres.yml deploys (fsync, synchronous_commit and full_page_writes on,
128 MB of shared buffers), not the test suite's durability-off ones: a commit costs here
what it costs there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import BotProcess, FakeTelegram, Where
from bench.seed import query

if TYPE_CHECKING:
    from postgres import PostgresServer

SQLITE, POSTGRESQL = "sqlite", "postgresql"
CHOICES = (SQLITE, POSTGRESQL, "both")
# The postgres:15 image's defaults where the test helper turns durability off for speed.
DEPLOYED_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "128MB",
}
# Replicas on one PostgreSQL database where a part has work that only one of them may do.
REPLICAS = 2
_ROLES_TIMEOUT_SECONDS = 30.0
_POLL_SECONDS = 0.1


def postgres_missing() -> str | None:
    """None when a PostgreSQL server can be started here, else why not."""
    from postgres import postgres_available

    return postgres_available()


def default_choice() -> str:
    return "both" if postgres_missing() is None else SQLITE


@dataclass
class Engine:
    name: str  # SQLITE or POSTGRESQL
    _server: PostgresServer | None = field(default=None, repr=False)
    _databases: int = 0

    @property
    def on_postgres(self) -> bool:
        return self.name == POSTGRESQL

    def label(self, replicas: int = 1) -> str:
        if not self.on_postgres:
            return "SQLite"
        return "PostgreSQL" if replicas == 1 else f"PostgreSQL, {replicas} replicas"

    def replicas(self, wanted: int = REPLICAS) -> int:
        """How many bot processes share the database: one on SQLite (it refuses a second)."""
        return wanted if self.on_postgres else 1

    @contextmanager
    def database(self, folder: Path, name: str) -> Iterator[Where]:
        """A new, empty database: a file in `folder`, or a database on the server (dropped
        afterwards, with whatever still holds a connection to it)."""
        if not self.on_postgres:
            yield folder / f"{name}.sqlite3"
            return
        server = self.server()
        self._databases += 1
        dbname = f"bench_{name.replace('-', '_')}_{self._databases}"
        url = server.create_database(dbname)
        try:
            yield url
        finally:
            server.drop_database(dbname)

    def server(self) -> PostgresServer:
        if self._server is None:
            from postgres import PostgresServer

            self._server = PostgresServer(DEPLOYED_SETTINGS).start()
        return self._server

    def server_cpu(self) -> float:
        """CPU seconds the PostgreSQL server has spent so far, all its processes (backends,
        autovacuum, WAL writer…) and those that have exited; 0 on SQLite, which runs in the
        bot's process and is counted there."""
        if self._server is None or not self._server.alive:
            return 0.0
        process = self._server._process  # the postmaster (the helper's child, not a daemon)
        assert process is not None
        return _server_cpu_seconds(process.pid)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def engines(choice: str) -> list[Engine]:
    if choice == "both":
        return [Engine(SQLITE), Engine(POSTGRESQL)]
    return [Engine(choice)]


def _server_cpu_seconds(postmaster: int) -> float:
    """The postmaster's CPU, its live children's (each backend is a child, in a session of
    its own), and that of the children it has reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # After the command's closing parenthesis: state, ppid, …, utime, stime, cutime,
        # cstime (the 3rd, 4th and 14th–17th fields of stat).
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, parent = int(entry.name), int(fields[1])
        if pid != postmaster and parent != postmaster:
            continue
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        total += utime + stime
        if pid == postmaster:
            total += cutime + cstime
    return total / ticks


@contextmanager
def running_bots(
    env: Mapping[str, str],
    folder: Path,
    name: str,
    tg: FakeTelegram,
    count: int = 1,
    per_replica: Callable[[int], Mapping[str, str]] | None = None,
) -> Iterator[list[BotProcess]]:
    """`count` processes of the real bot on one database (REPLICA_NAME `name-1`, `name-2`…,
    `per_replica(n)` added to the n-th one's environment), yielded once one of them long
    polls Telegram and, with several, every one has reported its role in the database's
    `replicas` table. Stopped after, the last started first."""
    bots = []
    for n in range(count):
        extra = dict(per_replica(n) if per_replica else {})
        replica = f"{name}-{n + 1}"
        bots.append(BotProcess({**env, "REPLICA_NAME": replica, **extra}, folder, replica))
    try:
        for bot in bots:
            bot.start()
        bots[0].wait_ready(tg)  # a getUpdates after the first start: whoever leads
        if count > 1:
            _wait_for_roles(bots)
        yield bots
    finally:
        for bot in reversed(bots):
            if bot.alive:
                bot.stop()


def roles(bots: list[BotProcess]) -> dict[str, str]:
    """Replica name to role ("leader", "standby"), as the replicas last reported them."""
    rows = query(bots[0].env["DATABASE_URL"], "SELECT name, role FROM replicas")
    return {str(name): str(role) for name, role in rows}


def _wait_for_roles(bots: list[BotProcess]) -> None:
    deadline = time.monotonic() + _ROLES_TIMEOUT_SECONDS
    while True:
        for bot in bots:
            if not bot.alive:
                raise RuntimeError(f"{bot.name} exited\n{bot.log_tail()}")
        found = roles(bots)
        if {bot.name for bot in bots} <= set(found):
            if sorted(found.values()).count("leader") != 1:
                raise RuntimeError(f"not one leader among the replicas: {found}")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"replicas not reported after 30 s: {found}")
        time.sleep(_POLL_SECONDS)


def leader_of(bots: list[BotProcess]) -> BotProcess:
    found = roles(bots)
    return next(bot for bot in bots if found.get(bot.name) == "leader")
