"""Poll cycles, run by the real Poller in a child process against the fake TrackingMore.

Rows: carrier requests per poll cycle (all that is active, nothing told and terminal) and the
local CPU cost of one cycle with a fifth of the shipments changing.

On PostgreSQL the request count is taken from two real bot processes sharing the database
(only the leader may poll), at TrackingMore's real 10 requests/s, cycle by cycle; the CPU
cost adds the server's processes to the child's.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench import seed
from bench.common import (
    TM_CREATES_PER_S,
    TM_REQUESTS_PER_S,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    Where,
    bot_env,
    gets_needed,
    progress,
    verdict,
)
from bench.cycle_runner import CycleChild
from bench.engines import Engine, leader_of, running_bots

CPU_TARGET = 0.05
CPU_CYCLES = 5
# Replicas: cycles counted after the first, and the idle time between two cycles (the
# interval is the cycle's time at 10 requests/s plus this), so that one ends well before
# the next begins.
REPLICA_CYCLES = 2
CYCLE_GAP_SECONDS = 3.0


def requests_row(sizes: Sizes, engine: Engine) -> Row:
    active, delivered = sizes.poll_active, sizes.poll_delivered
    subscriptions = active * sizes.poll_followers
    replicas = engine.replicas()
    with (
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "poll") as database,
    ):
        progress(f"seeding {active} active + {delivered} delivered shipments")
        _, done = seed.followed_database(
            database, tm, active=active, followers=sizes.poll_followers, delivered=delivered
        )
        if replicas > 1:
            cycles, changes, note, fine = _replica_cycles(
                database, tm, Path(folder), replicas, active
            )
        else:
            child = CycleChild(database, tm)
            try:
                tm.clear_requests()
                report = child.cycle()
            finally:
                child.close()
            cycles, changes, note, fine = [tm.requests], report["changes"], "", True
    needed = gets_needed(active)
    told = {p.code for p in done}
    gets, others, terminal_asked = [], 0, 0
    for requests in cycles:
        by_endpoint = Counter(r["endpoint"] for r in requests)
        gets.append(by_endpoint["get"])
        others += sum(by_endpoint.values()) - by_endpoint["get"]
        terminal_asked += sum(1 for r in requests for n in r["numbers"] if n in told)
    ok = fine and set(gets) == {needed} and terminal_asked == 0 and others == 0 and changes == 0
    return Row(
        "carrier requests per poll cycle",
        f"{subscriptions:,} subscriptions over {active:,} active shipments "
        f"(+{delivered:,} delivered and told)",
        f"{' and '.join(map(str, gets))} gets{' (2 cycles)' if len(gets) == 2 else ''}, "
        f"{terminal_asked} numbers of told terminal ones, {others} other calls{note}",
        f"ceil({active:,}/40) = {needed} gets",
        max(gets) / needed,
        "ratio 1.00",
        verdict(ok),
        engine.label(replicas),
    )


def _replica_cycles(
    database: Where, tm: FakeTrackingMore, folder: Path, replicas: int, active: int
) -> tuple[list[list[dict[str, Any]]], int, str, bool]:
    """The requests of each of REPLICA_CYCLES whole cycles after the first, with `replicas`
    bot processes on the database and TrackingMore enforcing its limits; the changes found
    (notifications queued: none expected), a note on who polled, and whether only the
    leader did, without a 429."""
    tm.enforce_limits(per_s=TM_REQUESTS_PER_S, create_per_s=TM_CREATES_PER_S)
    interval = math.ceil(gets_needed(active) / TM_REQUESTS_PER_S + CYCLE_GAP_SECONDS)
    timeout = 3 * interval + 30
    with FakeTelegram() as tg:
        env = bot_env(tg, tm, database, folder, POLL_INTERVAL_SECONDS=str(interval))
        with running_bots(env, folder, "poll", tg, replicas) as bots:
            leader = leader_of(bots)
            standbys = [bot for bot in bots if bot is not leader]
            leader.wait_poll_cycles(1, timeout=timeout)  # the first: start-up calls in it
            cycles, mark = [], len(tm.requests)
            for _ in range(REPLICA_CYCLES):
                leader.wait_poll_cycles(1, timeout=timeout)
                requests = tm.requests
                cycles.append(requests[mark:])
                mark = len(requests)
            polling_standbys = [bot.name for bot in standbys if bot.last_poll_cycle()]
        refused = tm.rate_limited_count
    [(changes,)] = seed.query(database, "SELECT COUNT(*) FROM outbox")
    names = ", ".join(bot.name for bot in standbys)
    note = (
        f"; {refused} × 429; only the leader ({leader.name}) polled, the standby ({names}) "
        "made no cycle"
        if not polling_standbys
        else f"; {refused} × 429; standbys polled too: {', '.join(polling_standbys)}"
    )
    return cycles, int(changes), note, refused == 0 and not polling_standbys


def cpu_row(sizes: Sizes, engine: Engine) -> Row:
    """The median of five cycles, each with a different fifth of the shipments moving."""
    active = sizes.cpu_active
    step = round(1 / sizes.cpu_changing)
    with (
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "cpu") as database,
    ):
        progress(f"seeding {active} active shipments for the CPU cycle")
        moving, _ = seed.followed_database(database, tm, active=active, followers=2)
        child = CycleChild(database, tm, engine)
        try:
            warm = child.cycle()  # nothing new: warms the caches like a running bot's
            reports = []
            for cycle in range(1, CPU_CYCLES + 1):
                seed.move_fake(tm, moving[cycle % step :: step], cycle)
                reports.append(child.cycle())
        finally:
            child.close()
    for report in [warm, *reports]:
        report["total"] = report["cpu"] + report["server_cpu"]
    report = sorted(reports, key=lambda r: r["total"])[len(reports) // 2]
    requests = gets_needed(active)
    budget = requests / TM_REQUESTS_PER_S
    ratio = report["total"] / budget
    changing = min(r["changes"] for r in reports)
    split = (
        f" (bot {report['cpu']:.2f} s + PostgreSQL server {report['server_cpu']:.2f} s)"
        if engine.on_postgres
        else ""
    )
    return Row(
        "local cost of one poll cycle",
        f"{active:,} active shipments, {changing:,} changing, carrier answering at once",
        f"{report['total']:.2f} s CPU{split}, median of {CPU_CYCLES} cycles "
        f"(max {max(r['total'] for r in reports):.2f} s; {warm['total']:.2f} s with nothing new)",
        f"{requests} requests at {TM_REQUESTS_PER_S}/s = {budget:.1f} s",
        ratio,
        f"< {CPU_TARGET:.2f}",
        verdict(ratio < CPU_TARGET and changing == len(moving) // step and warm["changes"] == 0),
    )
