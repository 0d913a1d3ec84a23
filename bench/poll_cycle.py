"""Poll cycles, run by the real Poller in a child process against the fake TrackingMore.

Rows: carrier requests per poll cycle (all that is active, nothing told and terminal) and the
local CPU cost of one cycle with a fifth of the shipments changing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench import seed
from bench.common import (
    REPO,
    TM_REQUESTS_PER_S,
    FakeTrackingMore,
    Row,
    Sizes,
    gets_needed,
    progress,
    verdict,
)

CPU_TARGET = 0.05
CPU_CYCLES = 5


class CycleChild:
    """`bench.cycle_child` in a subprocess: one JSON report per cycle."""

    def __init__(self, database: Path, tm: FakeTrackingMore) -> None:
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
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("cycle\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"cycle child exited with {self._proc.wait()}")
        report: dict[str, Any] = json.loads(line)
        return report

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write("quit\n")
        self._proc.stdin.close()
        if self._proc.wait(timeout=60) != 0:
            raise RuntimeError(f"cycle child exited with {self._proc.returncode}")


def requests_row(sizes: Sizes) -> Row:
    active, delivered = sizes.poll_active, sizes.poll_delivered
    subscriptions = active * sizes.poll_followers
    with FakeTrackingMore() as tm, tempfile.TemporaryDirectory() as folder:
        progress(f"seeding {active} active + {delivered} delivered shipments")
        _, done = seed.followed_database(
            Path(folder) / "poll.sqlite3",
            tm,
            active=active,
            followers=sizes.poll_followers,
            delivered=delivered,
        )
        child = CycleChild(Path(folder) / "poll.sqlite3", tm)
        try:
            tm.clear_requests()
            report = child.cycle()
        finally:
            child.close()
        requests = tm.requests
    by_endpoint = Counter(r["endpoint"] for r in requests)
    told = {p.code for p in done}
    terminal_asked = sum(1 for r in requests for n in r["numbers"] if n in told)
    gets, needed = by_endpoint["get"], gets_needed(active)
    others = sum(by_endpoint.values()) - gets
    ok = gets == needed and terminal_asked == 0 and others == 0 and report["changes"] == 0
    return Row(
        "carrier requests per poll cycle",
        f"{subscriptions:,} subscriptions over {active:,} active shipments "
        f"(+{delivered:,} delivered and told)",
        f"{gets} gets, {terminal_asked} numbers of told terminal ones, {others} other calls",
        f"ceil({active:,}/40) = {needed} gets",
        gets / needed,
        "ratio 1.00",
        verdict(ok),
    )


def cpu_row(sizes: Sizes) -> Row:
    """The median of three cycles, each with a different fifth of the shipments moving."""
    active = sizes.cpu_active
    step = round(1 / sizes.cpu_changing)
    with FakeTrackingMore() as tm, tempfile.TemporaryDirectory() as folder:
        progress(f"seeding {active} active shipments for the CPU cycle")
        moving, _ = seed.followed_database(
            Path(folder) / "cpu.sqlite3", tm, active=active, followers=2
        )
        child = CycleChild(Path(folder) / "cpu.sqlite3", tm)
        try:
            warm = child.cycle()  # nothing new: warms the caches like a running bot's
            reports = []
            for cycle in range(1, CPU_CYCLES + 1):
                seed.move_fake(tm, moving[cycle % step :: step], cycle)
                reports.append(child.cycle())
        finally:
            child.close()
    report = sorted(reports, key=lambda r: r["cpu"])[len(reports) // 2]
    requests = gets_needed(active)
    budget = requests / TM_REQUESTS_PER_S
    ratio = report["cpu"] / budget
    changing = min(r["changes"] for r in reports)
    return Row(
        "local cost of one poll cycle",
        f"{active:,} active shipments, {changing:,} changing, carrier answering at once",
        f"{report['cpu']:.2f} s CPU, median of {CPU_CYCLES} cycles "
        f"(max {max(r['cpu'] for r in reports):.2f} s; {warm['cpu']:.2f} s with nothing new)",
        f"{requests} requests at {TM_REQUESTS_PER_S}/s = {budget:.1f} s",
        ratio,
        f"< {CPU_TARGET:.2f}",
        verdict(ratio < CPU_TARGET and changing == len(moving) // step and warm["changes"] == 0),
    )
