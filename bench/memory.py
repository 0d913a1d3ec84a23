"""Memory over many poll cycles: a large database polled again and again by the real Poller
in a child process (bench.cycle_child), RSS read after each cycle.

At TrackingMore's 10 requests/s one cycle of 50,000 shipments lasts 125 s; the child's client
limiter is raised instead, so 20 cycles take minutes, not most of an hour, and the memory held
between cycles is the same either way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import seed
from bench.common import FakeTrackingMore, Row, Sizes, progress, verdict
from bench.cycle_runner import CycleChild
from bench.engines import Engine

# Growth between the 2nd and the last cycle that still counts as none: allocator noise.
GROWTH_TOLERANCE = 0.03


def row(sizes: Sizes, engine: Engine) -> Row:
    """RSS of the polling process only: on PostgreSQL the server's memory is its own."""
    shipments, cycles = sizes.memory_shipments, sizes.memory_cycles
    subscriptions = shipments * sizes.memory_followers
    moving_count = max(1, round(shipments * sizes.memory_moving))
    with (
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "memory") as database,
    ):
        progress(f"seeding {subscriptions} subscriptions over {shipments} shipments")
        moving, _ = seed.followed_database(
            database, tm, active=shipments, followers=sizes.memory_followers
        )
        child = CycleChild(database, tm)
        try:
            samples = []
            for cycle in range(1, cycles + 1):
                seed.move_fake(
                    tm, moving[(cycle * moving_count) % shipments :][:moving_count], cycle
                )
                tm.clear_requests()
                samples.append(child.cycle())
                progress(f"memory cycle {cycle}: {samples[-1]}")
        finally:
            child.close()
    second, last = samples[min(1, len(samples) - 1)]["VmRSS"], samples[-1]["VmRSS"]
    peak = max(s["VmHWM"] for s in samples)
    growth = (last - second) / second
    return Row(
        "memory",
        f"{subscriptions:,} subscriptions over {shipments:,} shipments, {cycles} poll cycles, "
        f"{moving_count:,} moving each",
        f"peak RSS {peak / 1024:.0f} MiB; after cycle 2 {second / 1024:.1f} MiB, "
        f"after cycle {cycles} {last / 1024:.1f} MiB ({growth:+.1%})",
        "—",
        None,
        f"no growth after cycle 2 (< {GROWTH_TOLERANCE:.0%})",
        verdict(growth < GROWTH_TOLERANCE),
    )
