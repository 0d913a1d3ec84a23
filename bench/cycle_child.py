"""A child process that runs the bot's real poll cycle and measures only itself.

    python -m bench.cycle_child DATABASE TRACKINGMORE_URL API_KEY

DATABASE is a SQLite file or a `postgresql://` URL.

The real `Poller`, `Storage` and `TrackingMoreClient`, wired as `bot.app` wires them, with the
client's limiter raised so the fake answers as fast as it can: the cost measured is the bot's
own, not the wait for TrackingMore's 10 requests/s. The fake lives in the parent, so its work
is not counted here. Each line `cycle` on stdin runs one cycle and answers one JSON line
(CPU and wall seconds, RSS and peak RSS in KiB, changes found); `quit` ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from bot.carrier import TrackingMoreClient
from bot.core.couriers import CourierBook
from bot.storage import Storage
from bot.tracking.couriers import CourierDirectory
from bot.tracking.poller import Poller
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import Registrar

UNLIMITED_PER_S = 100_000


def rss() -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


async def serve(database: Path | str, base_url: str, api_key: str) -> None:
    storage = await Storage.open(database)
    carrier = TrackingMoreClient(
        base_url,
        api_key,
        requests_per_second=UNLIMITED_PER_S,
        creates_per_second=UNLIMITED_PER_S,
    )
    recorder = ChangeRecorder(storage, lambda: None)
    couriers = CourierDirectory(carrier, CourierBook())
    poller = Poller(storage, carrier, recorder, Registrar(storage, carrier, recorder), couriers)
    loop = asyncio.get_running_loop()
    while (command := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) == "cycle":
        before = poller.state.changes_found
        cpu, wall = time.process_time(), time.perf_counter()
        await poller.run_cycle()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        report = {
            "cpu": cpu,
            "wall": wall,
            "changes": poller.state.changes_found - before,
            "batches": poller.state.batches,
            "errors": poller.state.consecutive_failures,
            **rss(),
        }
        print(json.dumps(report), flush=True)
    await carrier.aclose()
    await storage.close()
    if command and command != "quit":
        raise SystemExit(f"unknown command {command!r}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="cycle_child %(levelname)s %(message)s")
    database, base_url, api_key = sys.argv[1:4]
    where = database if database.startswith(("postgresql://", "postgres://")) else Path(database)
    asyncio.run(serve(where, base_url, api_key))


if __name__ == "__main__":
    main()
