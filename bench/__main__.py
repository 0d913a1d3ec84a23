"""Benchmarks: the bot against the limits of TrackingMore and Telegram, as one table.

    python -m bench [--quick] [--only NAME ...]

Every figure is measured against the fake servers on 127.0.0.1 with the real application
code, and printed as a ratio to the limit it is held against. `--quick` runs tiny sizes: it
only shows that every part still works (the test suite runs it): its rows are judged only
where a tiny workload can tell (counts of requests), the others say "not judged (quick)".
See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from collections.abc import Callable

from bench import fan_out, memory, parsing, poll_cycle, push_latency, registrations, startup
from bench.common import FULL, QUICK, Row, Sizes, progress, ratio_text

Part = Callable[[Sizes], list[Row]]

PARTS: dict[str, tuple[tuple[str, ...], Part]] = {
    "poll": (("carrier requests per poll cycle",), lambda s: [poll_cycle.requests_row(s)]),
    "registrations": (("registrations",), lambda s: [registrations.row(s)]),
    "cpu": (("local cost of one poll cycle",), lambda s: [poll_cycle.cpu_row(s)]),
    "fan-out": (("fan-out, overall", "fan-out, groups"), fan_out.rows),
    "outbox": (("outbox write per message",), lambda s: [fan_out.outbox_write_row(s)]),
    "push": (("push to message",), lambda s: [push_latency.row(s)]),
    "memory": (("memory",), lambda s: [memory.row(s)]),
    "start-up": (("start-up",), lambda s: [startup.row(s)]),
    "parsing": (("parsing hostile messages",), lambda s: [parsing.row(s)]),
    "crash": (
        ("crash repeats",),
        lambda s: [__import__("bench.crash_repeats").crash_repeats.row(s)],
    ),
    "flood": (("one user's flood",), lambda s: [__import__("bench.flood").flood.row(s)]),
}
COLUMNS = ("what", "workload", "measured", "limit", "ratio", "target", "verdict")
# At --quick sizes only counts can be judged: a rate, a CPU cost or a memory growth measured
# on a few dozen items says nothing of the full workload's.
JUDGED_AT_QUICK_SIZES = frozenset({"carrier requests per poll cycle", "registrations"})
NOT_JUDGED = "not judged (quick)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=list(PARTS), help="run only these parts")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rows: list[Row] = []
    failed = False
    for name in args.only or list(PARTS):
        whats, part = PARTS[name]
        began = time.monotonic()
        try:
            rows += part(sizes)
        except Exception:
            traceback.print_exc()
            failed = True
            rows += [Row(what, "", "failed: see above", "", None, "", "ERROR") for what in whats]
        progress(f"{name} done in {time.monotonic() - began:.0f} s")
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
        (r.what, r.workload, r.measured, r.limit, ratio_text(r.ratio), r.target, r.verdict)
        for r in rows
    ]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
