"""The parent's side of `bench.cycle_child`: the child process started on one database,
asked for one poll cycle at a time (used by the poll-cycle, memory and scale benchmarks, and by
`bench.seed` to make its template rows with a real cycle)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Protocol

from bench.common import REPO, FakeTrackingMore, Where


class ServerCpu(Protocol):
    """What a child asks of its database engine (`bench.engines.Engine`): the server's CPU."""

    def server_cpu(self) -> float: ...


class CycleChild:
    """`bench.cycle_child` in a subprocess: one JSON report per cycle."""

    def __init__(
        self, database: Where, tm: FakeTrackingMore, engine: ServerCpu | None = None
    ) -> None:
        self._engine = engine
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.cycle_child", str(database), tm.base_url, tm.api_key],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def cycle(self) -> dict[str, Any]:
        """One cycle's report; `server_cpu` is the PostgreSQL server's CPU meanwhile (0 on
        SQLite, whose work is in the child's own `cpu`)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        server = self._engine.server_cpu() if self._engine else 0.0
        self._proc.stdin.write("cycle\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"cycle child exited with {self._proc.wait()}")
        report: dict[str, Any] = json.loads(line)
        report["server_cpu"] = (self._engine.server_cpu() if self._engine else 0.0) - server
        return report

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write("quit\n")
        self._proc.stdin.close()
        if self._proc.wait(timeout=60) != 0:
            raise RuntimeError(f"cycle child exited with {self._proc.returncode}")
