"""Start-up: from starting `python -m bot` to its first getUpdates, on a new database (the
first start runs the migrations) and again on the same one; and the bot's RSS at that point.
One process on either engine."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import (
    BotProcess,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    bot_env,
    proc_status,
)
from bench.engines import Engine


def row(sizes: Sizes, engine: Engine) -> Row:
    seconds, rss = [], 0
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "start") as database,
    ):
        bot = BotProcess(bot_env(tg, tm, database, Path(folder)), Path(folder), "start")
        for _ in range(sizes.starts):
            began = time.monotonic()
            bot.start()
            bot.wait_ready(tg)
            first = min(c["time"] for c in tg.calls("getUpdates") if c["time"] >= began)
            seconds.append(first - began)
            assert bot.pid is not None
            rss = proc_status(bot.pid)["VmRSS"]
            bot.stop()
    later = seconds[1:] or seconds
    return Row(
        "start-up",
        f"`python -m bot` to its first getUpdates, {len(seconds)} starts",
        f"{seconds[0]:.2f} s on a new database, median {statistics.median(later):.2f} s after; "
        f"RSS {rss / 1024:.0f} MiB then",
        "—",
        None,
        "seconds printed",
        "ok",
    )
