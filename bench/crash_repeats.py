"""Crash repeats: the real bot SIGKILLed in the middle of a fan-out, again and again, with
Telegram answering one message at a time. A message is marked sent only after Telegram
accepted it, so a kill repeats what Telegram had in its hands (here: the one message it was
answering) — and only that if every earlier accepted message was marked by then.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
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
from bench.fan_out import seed_fan_out

RUNS = 10
QUICK_RUNS = 2
FOLLOWERS = 200
ANSWER_SECONDS = 0.005  # Telegram answering one message at a time, quicker than 30/s
_POLL_SECONDS = 0.05


def row(sizes: Sizes, engine: Engine) -> Row:
    """One bot process on either engine, killed and started again."""
    runs = QUICK_RUNS if sizes == QUICK else RUNS
    chats = min(FOLLOWERS, sizes.fan_out_private)
    results = []
    for run in range(runs):
        results.append(one_run(chats, engine))
        progress(f"crash run {run + 1}/{runs}: {results[-1][0]} lost, {results[-1][1]} repeated")
    lost = sum(r[0] for r in results)
    repeated = [r[1] for r in results]
    worst = max(repeated)
    return Row(
        "crash repeats",
        f"{runs} × SIGKILL a third into a fan-out to {chats} chats, Telegram answering "
        "one message at a time",
        f"{lost} lost; repeated per run: {', '.join(map(str, repeated))}",
        "1 message in Telegram's hands",
        float(worst),
        "0 lost, ≤ 1.00",
        verdict(lost == 0 and worst <= 1),
    )


def one_run(chats: int, engine: Engine) -> tuple[int, int]:
    """(lost, repeated) of one kill and restart."""
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "crash") as database,
    ):
        total = seed_fan_out(database, chats, 0, 0)
        tg.answer_one_at_a_time(ANSWER_SECONDS)
        bot = BotProcess(bot_env(tg, tm, database, Path(folder)), Path(folder), "crash-bot")
        bot.start()
        try:
            bot.wait_ready(tg)
            tg.wait_until(
                lambda f: len(f.sent_times()) >= total // 3, timeout=60, what="a third told"
            )
            bot.kill()
            bot.start()
            bot.wait_ready(tg)
            deadline = time.monotonic() + 60 + total * ANSWER_SECONDS * 2
            while len({chat for chat, _ in tg.sent_times()}) < total:
                if time.monotonic() > deadline:
                    break
                time.sleep(_POLL_SECONDS)
        finally:
            if bot.alive:
                bot.stop()
        counts = Counter(chat for chat, _ in tg.sent_times())
    return total - len(counts), sum(n - 1 for n in counts.values())
