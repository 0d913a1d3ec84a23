"""Benchmarks: the bot against the limits of TrackingMore and Telegram, as one table.

    python -m bench [--quick] [--engine sqlite|postgresql|both] [--only NAME ...] [NAME ...]
    python -m bench scale            # the optional part: a million subscriptions

Every figure is measured against the fake servers on 127.0.0.1 with the real application
code, and printed as a ratio to the limit it is held against. `--quick` runs tiny sizes: it
only shows that every part still works (the test suite runs it): its rows are judged only
where a tiny workload can tell (counts of requests), the others say "not judged (quick)".
Each part that has a database runs on each engine asked for (both by default when the
PostgreSQL binaries are on the PATH), on PostgreSQL with two replicas where only one may do
the work. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    desk,
    fan_out,
    memory,
    parsing,
    poll_cycle,
    push_latency,
    registrations,
    scale,
    startup,
)
from bench.common import FULL, QUICK, Row, Sizes, progress, ratio_text
from bench.engines import CHOICES, Engine, default_choice, engines, postgres_missing

Part = Callable[[Sizes, Engine], list[Row]]

PARTS: dict[str, tuple[tuple[str, ...], Part]] = {
    "poll": (("carrier requests per poll cycle",), lambda s, e: [poll_cycle.requests_row(s, e)]),
    "registrations": (("registrations",), lambda s, e: [registrations.row(s, e)]),
    "cpu": (("local cost of one poll cycle",), lambda s, e: [poll_cycle.cpu_row(s, e)]),
    "fan-out": (("fan-out, overall", "fan-out, groups"), fan_out.rows),
    "outbox": (("outbox write per message",), lambda s, e: [fan_out.outbox_write_row(s, e)]),
    "push": (("push to message",), lambda s, e: [push_latency.row(s, e)]),
    "memory": (("memory",), lambda s, e: [memory.row(s, e)]),
    "start-up": (("start-up",), lambda s, e: [startup.row(s, e)]),
    "parsing": (("parsing hostile messages",), lambda s, e: [parsing.row(s)]),
    "crash": (
        ("crash repeats",),
        lambda s, e: [__import__("bench.crash_repeats").crash_repeats.row(s, e)],
    ),
    "flood": (("one user's flood",), lambda s, e: [__import__("bench.flood").flood.row(s, e)]),
    "desk": (("desk page: shipments API", "desk page: first render"), desk.rows),
}
# Run only when named: minutes of seeding and polling a million subscriptions per engine.
OPTIONAL_PARTS: dict[str, tuple[tuple[str, ...], Part]] = {
    "scale": (scale.WHATS, scale.rows),
}
# Parts without a database: run once, whatever the engines.
NO_DATABASE = frozenset({"parsing"})
COLUMNS = ("what", "engine", "workload", "measured", "limit", "ratio", "target", "verdict")
# At --quick sizes only counts can be judged: a rate, a CPU cost or a memory growth measured
# on a few dozen items says nothing of the full workload's.
JUDGED_AT_QUICK_SIZES = frozenset({"carrier requests per poll cycle", "registrations"})
NOT_JUDGED = "not judged (quick)"


def main(argv: list[str] | None = None) -> int:
    every = {**PARTS, **OPTIONAL_PARTS}
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--engine",
        choices=CHOICES,
        default=None,
        help="the database engines to run on (default: both when PostgreSQL is installed)",
    )
    parser.add_argument("--only", nargs="+", choices=list(every), help="run only these parts")
    parser.add_argument("parts", nargs="*", metavar="PART", help="the same as --only")
    args = parser.parse_args(argv)
    if unknown := [name for name in args.parts if name not in every]:
        parser.error(f"unknown part {unknown[0]!r}: choose from {', '.join(every)}")
    choice = args.engine or default_choice()
    if choice != "sqlite" and (reason := postgres_missing()) is not None:
        parser.error(f"--engine {choice}: {reason}")
    sizes = QUICK if args.quick else FULL
    names = [*(args.only or []), *args.parts] or list(PARTS)
    rows: list[Row] = []
    failed = False
    runs = engines(choice)
    try:
        for name in dict.fromkeys(names):
            whats, part = every[name]
            for engine in runs[:1] if name in NO_DATABASE else runs:
                began = time.monotonic()
                label = "—" if name in NO_DATABASE else engine.label()
                try:
                    found = part(sizes, engine)
                except Exception:
                    traceback.print_exc()
                    failed = True
                    found = [Row(w, "", "failed: see above", "", None, "", "ERROR") for w in whats]
                rows += [dataclasses.replace(r, engine=r.engine or label) for r in found]
                progress(f"{name} on {label} done in {time.monotonic() - began:.0f} s")
    finally:
        for engine in runs:
            engine.close()
    print(table(judged(rows, quick=args.quick)))
    return 1 if failed else 0


def judged(rows: list[Row], *, quick: bool) -> list[Row]:
    """At quick sizes, the rows a tiny workload cannot judge say so instead of a verdict."""
    if not quick:
        return rows
    return [
        row
        if row.what in JUDGED_AT_QUICK_SIZES or row.verdict == "ERROR"
        else dataclasses.replace(row, verdict=NOT_JUDGED)
        for row in rows
    ]


def table(rows: list[Row]) -> str:
    cells = [
        (
            r.what,
            r.engine,
            r.workload,
            r.measured,
            r.limit,
            ratio_text(r.ratio),
            r.target,
            r.verdict,
        )
        for r in rows
    ]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
