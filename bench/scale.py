"""Scale: a million subscriptions over half a million shipments, on each engine. Optional:
`python -m bench scale` (minutes per engine; see BENCHMARKS.md for how long).

The database is written directly (`seed.scale_database`: executemany in one transaction on
SQLite, COPY on PostgreSQL, then VACUUM ANALYZE there) as a running bot has it after its
first poll, each answer's signature stored; the fake TrackingMore knows every parcel and
answers at once. The poll cycles are the real `Poller`'s in a child process
(`bench.cycle_child`) with its limiter raised, as in the memory row: whole cycles over
every shipment, each with 1 % of them moving. Rows:

- the database's size per subscription (SQLite: the file; PostgreSQL: `pg_database_size`)
  as seeded, and what the measured cycles added per change;
- the poll cycle's CPU per 10,000 shipments (on PostgreSQL the server's processes added),
  against the 25 s that 250 requests take at TrackingMore's 10/s;
- the polling process's RSS across the measured cycles;
- the rows each cycle writes, per table (PostgreSQL's statistics; SQLite: rows added).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import seed
from bench.common import (
    TM_REQUESTS_PER_S,
    FakeTrackingMore,
    Row,
    Sizes,
    Where,
    gets_needed,
    progress,
    verdict,
)
from bench.cycle_runner import CycleChild
from bench.engines import Engine
from bench.poll_cycle import CPU_TARGET

WHATS = (
    "scale: database size",
    "scale: poll-cycle CPU",
    "scale: memory",
    "scale: rows written per cycle",
)
PER = 10_000  # shipments the CPU figure is given for
GROWTH_TOLERANCE = 0.03
STATS_SETTLE_SECONDS = 1.0
_TABLES = ("shipments", "events", "subscriptions", "chats", "outbox")


def rows(sizes: Sizes, engine: Engine) -> list[Row]:
    shipments, followers = sizes.scale_shipments, sizes.scale_followers
    subscriptions = shipments * followers
    moving_count = max(1, round(shipments * sizes.scale_moving))
    with (
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "scale") as database,
    ):
        seed.create_schema(database)
        empty = _size(database)
        progress(f"scale on {engine.label()}: seeding {subscriptions:,} subscriptions")
        began = time.monotonic()
        parcels, writing = seed.scale_database(
            database, tm, shipments=shipments, followers=followers
        )
        seeded_in = time.monotonic() - began
        vacuumed = time.monotonic()
        seed.vacuum(database)
        vacuumed = time.monotonic() - vacuumed
        counts = _counts(database)
        seeded_bytes, seeded_table = _size(database), _relation_size(database, "shipments")
        progress(
            f"scale: seeded in {seeded_in:.0f} s ({writing:.0f} s writing), vacuumed in "
            f"{vacuumed:.0f} s: {counts}, "
            f"{seeded_bytes / 2**20:.0f} MiB; {_table_sizes(database)}"
        )
        before, written = _counts(database), _written(database)
        samples = _cycles(database, tm, engine, parcels, sizes.scale_cycles, moving_count)
        after, written = _counts(database), _delta(_written(database), written)
        final_bytes, final_table = _size(database), _relation_size(database, "shipments")
        progress(f"scale: after the cycles {_table_sizes(database)}")
    cycles = len(samples)
    changes = sum(s["changes"] for s in samples)
    return [
        _size_row(
            engine,
            shipments,
            counts,
            (seeded_in, writing, vacuumed),
            (empty, seeded_bytes, final_bytes),
            (seeded_table, final_table),
            changes,
        ),
        _cpu_row(engine, shipments, moving_count, samples),
        _memory_row(shipments, subscriptions, samples),
        _writes_row(engine, shipments, cycles, changes, before, after, written),
    ]


def _cycles(
    database: Where,
    tm: FakeTrackingMore,
    engine: Engine,
    parcels: list[seed.Parcel],
    count: int,
    moving: int,
) -> list[dict[str, Any]]:
    """`count` cycles in one child process (which then exits: PostgreSQL's statistics of
    its connections are complete once they close), `moving` parcels moving before each."""
    child = CycleChild(database, tm, engine)
    samples = []
    try:
        for cycle in range(1, count + 1):
            start = (cycle * moving) % len(parcels)
            seed.move_fake(tm, parcels[start : start + moving], cycle)
            tm.clear_requests()
            samples.append(child.cycle())
            progress(f"scale: cycle {cycle}: {_brief(samples[-1])}")
    finally:
        child.close()
    return samples


def _brief(report: dict[str, Any]) -> str:
    return (
        f"{report['cpu']:.1f} s CPU + server {report['server_cpu']:.1f} s, {report['wall']:.0f} s "
        f"wall, {report['changes']} changes, {report['batches']} batches, "
        f"RSS {report['VmRSS'] / 1024:.1f} MiB"
    )


def _size_row(
    engine: Engine,
    shipments: int,
    counts: dict[str, int],
    seconds: tuple[float, float, float],
    sizes: tuple[int, int, int],
    table: tuple[int, int],
    changes: int,
) -> Row:
    """Bytes per subscription over what the empty schema takes (PostgreSQL's catalogs: 7 MiB
    or so); what the cycles added per change outside the shipments table (events, outbox
    rows: the history), and the shipments table's growth apart (on PostgreSQL the dead
    versions of the rows every poll updates, until vacuum reuses their space)."""
    (seeded_in, writing, vacuumed), (empty, seeded, final) = seconds, sizes
    vacuum = f", then VACUUM ANALYZE {vacuumed:.0f} s" if engine.on_postgres else ""
    subscriptions = counts["subscriptions"]
    what = "file" if not engine.on_postgres else "pg_database_size"
    outside = (final - table[1]) - (seeded - table[0])  # the history: events, outbox rows
    grown = outside / changes if changes else 0.0
    return Row(
        "scale: database size",
        f"{subscriptions:,} subscriptions over {shipments:,} shipments, "
        f"{counts['chats']:,} chats, {counts['events']:,} checkpoints; seeded in "
        f"{seeded_in:.0f} s, {writing:.0f} s of it writing{vacuum}",
        f"{what} {seeded / 2**20:,.0f} MiB ({empty / 2**20:.1f} MiB empty) = "
        f"{(seeded - empty) / subscriptions:,.0f} bytes per subscription; after the cycles "
        f"{final / 2**20:,.0f} MiB: {grown:+,.0f} bytes per change outside the shipments "
        f"table, which went {table[0] / 2**20:,.0f} → {table[1] / 2**20:,.0f} MiB",
        "—",
        None,
        "bytes printed",
        "ok",
    )


def _cpu_row(
    engine: Engine,
    shipments: int,
    moving: int,
    samples: list[dict[str, Any]],
) -> Row:
    """The median cycle. Each must find exactly the shipments moved: a first cycle that
    finds none on a database written directly shows its rows are what the bot writes, and
    one as cheap as the others that the stored signatures are right (else it parses every
    answer)."""
    totals = [s["cpu"] + s["server_cpu"] for s in samples]
    median = statistics.median(totals)
    per = median * PER / shipments
    budget = gets_needed(PER) / TM_REQUESTS_PER_S
    ratio = per / budget
    bot = statistics.median(s["cpu"] for s in samples) * PER / shipments
    split = f" (bot {bot:.2f} s + server {per - bot:.2f} s)" if engine.on_postgres else ""
    walls = statistics.median(s["wall"] for s in samples)
    exact = all(s["changes"] == moving for s in samples)
    return Row(
        "scale: poll-cycle CPU",
        f"{len(samples)} whole cycles over {shipments:,} shipments, {moving:,} moving each, "
        "carrier answering at once",
        f"{per:.2f} s CPU per {PER:,} shipments{split}; a cycle {median:.1f} s CPU "
        f"(the first {totals[0]:.1f} s), {walls:.0f} s wall (median)",
        f"{gets_needed(PER)} requests at {TM_REQUESTS_PER_S}/s = {budget:.1f} s per {PER:,}",
        ratio,
        f"< {CPU_TARGET:.2f}",
        verdict(ratio < CPU_TARGET and exact),
    )


def _memory_row(shipments: int, subscriptions: int, samples: list[dict[str, Any]]) -> Row:
    rss = [s["VmRSS"] for s in samples]
    second, last = rss[min(1, len(rss) - 1)], rss[-1]
    growth = (last - second) / second
    return Row(
        "scale: memory",
        f"the polling process over {subscriptions:,} subscriptions / {shipments:,} shipments, "
        f"{len(samples)} cycles",
        f"RSS after each cycle {', '.join(f'{v / 1024:.1f}' for v in rss)} MiB "
        f"({growth:+.1%} from the 2nd), peak {max(s['VmHWM'] for s in samples) / 1024:.0f} MiB",
        "—",
        None,
        f"no growth after cycle 2 (< {GROWTH_TOLERANCE:.0%})",
        verdict(growth < GROWTH_TOLERANCE),
    )


def _writes_row(
    engine: Engine,
    shipments: int,
    cycles: int,
    changes: int,
    before: dict[str, int],
    after: dict[str, int],
    written: dict[str, tuple[int, int, int]],
) -> Row:
    """Rows a cycle: on PostgreSQL every insert, update and delete (its statistics), on
    SQLite the rows added. Per change: all but the one update of every polled shipment."""
    per_cycle = changes / cycles
    if engine.on_postgres:
        parts = [
            f"{table} {ins / cycles:,.0f} inserted, {upd / cycles:,.0f} updated"
            + (f", {dele / cycles:,.0f} deleted" if dele else "")
            for table, (ins, upd, dele) in written.items()
            if ins + upd + dele >= cycles  # not the schema check of each start
        ]
        total = sum(sum(v) for v in written.values() if sum(v) >= cycles) / cycles
        beyond = total - shipments
        what = "rows"
        polled = f" besides one update per shipment polled ({shipments:,})"
    else:
        added = {t: after[t] - before[t] for t in _TABLES if after[t] != before[t]}
        parts = [f"{table} {n / cycles:,.0f} added" for table, n in added.items()]
        total = sum(added.values()) / cycles
        beyond = total
        what = "rows added (updates not counted on SQLite: the same statements)"
        polled = ""
    return Row(
        "scale: rows written per cycle",
        f"the same cycles: {per_cycle:,.0f} changes a cycle, each shipment followed by "
        f"{after['subscriptions'] // shipments} chats",
        "; ".join(parts) + f": {total:,.0f} {what} a cycle = "
        f"{beyond / (per_cycle or 1):,.1f} per change{polled}",
        "—",
        None,
        "printed",
        "ok",
    )


def _relation_size(database: Where, table: str) -> int:
    """A table's bytes with its indexes."""
    if isinstance(database, Path):
        try:
            [(size,)] = seed.query(
                database,
                "SELECT SUM(pgsize) FROM dbstat WHERE name = '" + table + "' OR name IN "
                f"(SELECT name FROM sqlite_master WHERE tbl_name = '{table}')",
            )
        except Exception:  # SQLite built without the dbstat table
            return 0
        return int(size or 0)
    [(size,)] = seed.query(database, f"SELECT pg_total_relation_size('{table}')")
    return int(size)


def _counts(database: Where) -> dict[str, int]:
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in _TABLES)
    [values] = seed.query(database, sql)
    return dict(zip(_TABLES, map(int, values), strict=True))


def _size(database: Where) -> int:
    if isinstance(database, Path):
        return sum(
            p.stat().st_size for p in database.parent.glob(database.name + "*") if p.is_file()
        )
    [(size,)] = seed.query(database, "SELECT pg_database_size(current_database())")
    return int(size)


def _table_sizes(database: Where) -> str:
    if isinstance(database, Path):
        try:
            found = seed.query(
                database,
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8",
            )
        except Exception:  # SQLite built without the dbstat table
            return "(no dbstat)"
    else:
        found = seed.query(
            database,
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "ORDER BY 2 DESC LIMIT 6",
        )
    return ", ".join(f"{name} {int(size) / 2**20:.0f} MiB" for name, size in found)


def _written(database: Where) -> dict[str, tuple[int, int, int]]:
    """PostgreSQL's count of rows inserted, updated and deleted per table; {} on SQLite."""
    if isinstance(database, Path):
        return {}
    time.sleep(STATS_SETTLE_SECONDS)  # the exited child's backends flush theirs as they end
    found = seed.query(
        database,
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables",
    )
    return {str(name): (int(i), int(u), int(d)) for name, i, u, d in found}


def _delta(
    after: dict[str, tuple[int, int, int]], before: dict[str, tuple[int, int, int]]
) -> dict[str, tuple[int, int, int]]:
    delta = {}
    for table, (ins, upd, dele) in sorted(after.items()):
        was = before.get(table, (0, 0, 0))
        delta[table] = (ins - was[0], upd - was[1], dele - was[2])
    return delta
