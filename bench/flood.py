"""Flood: one user sends 50 messages in 10 s while another chat asks for /list every half
second; the second chat's answer time is what the flood must not spoil. The flooding user
gets a bounded number of answers (the per-user window in the access gate) and one note."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import (
    QUICK,
    BotProcess,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    bot_env,
    progress,
    verdict,
)
from bench.engines import Engine
from bot.core.flood import USER_UPDATES_LIMIT, USER_WINDOW_SECONDS

FLOODER, OTHER = 5001, 5002
FLOOD = 50
FLOOD_SECONDS = 10.0
QUICK_FLOOD_SECONDS = 3.0
PROBE_EVERY = 0.5
TARGET_SECONDS = 1.0


def row(sizes: Sizes, engine: Engine) -> Row:
    """One bot process on either engine (the flood window is counted in the database)."""
    seconds = QUICK_FLOOD_SECONDS if sizes == QUICK else FLOOD_SECONDS
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "flood") as database,
    ):
        bot = BotProcess(bot_env(tg, tm, database, Path(folder)), Path(folder), "flood")
        bot.start()
        try:
            bot.wait_ready(tg)
            latencies = flood(tg, seconds)
            tg.wait_for_updates_taken(timeout=30)
            time.sleep(1.0)  # the last answers of the flood
        finally:
            bot.stop()
        answered = len(tg.texts(FLOODER))
    progress(f"flood: {answered} answers to the flooder, other chat {max(latencies):.2f} s worst")
    worst, median = max(latencies), statistics.median(latencies)
    bound = USER_UPDATES_LIMIT + 1
    return Row(
        "one user's flood",
        f"{FLOOD} messages from one user in {seconds:.0f} s, another chat's /list every "
        f"{PROBE_EVERY} s",
        f"other chat answered in {median * 1000:.0f} ms median, {worst * 1000:.0f} ms worst; "
        f"flooder got {answered} answers",
        f"{USER_UPDATES_LIMIT} answers / {USER_WINDOW_SECONDS:.0f} s + 1 note; "
        f"{TARGET_SECONDS:.0f} s answer",
        worst / TARGET_SECONDS,
        f"≤ 1.00, ≤ {bound} answers",
        verdict(worst <= TARGET_SECONDS and answered <= bound),
    )


def flood(tg: FakeTelegram, seconds: float) -> list[float]:
    """Send the flood, probing the other chat meanwhile; the probes' answer times."""
    latencies: list[float] = []
    began = time.monotonic()
    next_probe = began
    for n in range(FLOOD):
        while time.monotonic() < began + n * seconds / FLOOD:
            if time.monotonic() >= next_probe:
                latencies.append(probe(tg))
                next_probe += PROBE_EVERY
            time.sleep(0.005)
        tg.send_text(FLOODER, "/list")
    latencies.append(probe(tg))
    return latencies


def probe(tg: FakeTelegram) -> float:
    before = len(tg.texts(OTHER))
    asked = time.monotonic()
    tg.send_text(OTHER, "/list")
    tg.wait_for_messages(OTHER, before + 1, timeout=30)
    return time.monotonic() - asked
