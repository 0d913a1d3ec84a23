"""Registrations: many chats paste lists of codes (half of them shared with another chat)
into the real bot; the fake TrackingMore enforces 10 requests/s and 3 creations/s and counts
what was registered. One create, or one slot of a batch create, per distinct shipment."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import (
    TM_CREATES_PER_S,
    TM_REQUESTS_PER_S,
    BotProcess,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    bot_env,
    progress,
    s10,
    verdict,
)

FIRST_CHAT = 5_000_000
_POLL_SECONDS = 0.5


def row(sizes: Sizes) -> Row:
    chats, per_chat = sizes.registration_chats, sizes.registration_codes_per_chat
    blocks = max(1, chats // 2)
    codes = [[s10(30_000_000 + b * per_chat + i) for i in range(per_chat)] for b in range(blocks)]
    distinct = blocks * per_chat
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
    ):
        tm.enforce_limits(per_s=TM_REQUESTS_PER_S, create_per_s=TM_CREATES_PER_S)
        database = Path(folder) / "registrations.sqlite3"
        bot = BotProcess(bot_env(tg, tm, database), Path(folder), "registrations-bot")
        bot.start()
        try:
            bot.wait_ready(tg)
            progress(f"{chats} chats paste {per_chat} codes each ({distinct} distinct)")
            began = time.monotonic()
            for n in range(chats):
                tg.send_text(FIRST_CHAT + n, "\n".join(codes[n % blocks]), language_code="it")
            wait_for_answers(tg, chats, timeout=distinct / TM_CREATES_PER_S + 120)
            seconds = time.monotonic() - began
        finally:
            bot.stop()
        requests, refused = tm.requests, tm.rate_limited_count
        subscriptions, registered = _counts(database)
    calls = Counter(r["endpoint"] for r in requests)
    slots = sum(len(r["numbers"]) for r in requests if r["endpoint"] in ("create", "batch"))
    ratio = slots / distinct
    return Row(
        "registrations",
        f"{subscriptions:,} subscriptions over {distinct:,} shipments, added by {chats} chats "
        "pasting lists",
        f"{slots:,} registered numbers ({calls['create']} creates, {calls['batch']} batches) "
        f"in {seconds:.0f} s, {registered:,} shipments registered, {refused} × 429",
        f"one per distinct shipment: {distinct:,}",
        ratio,
        "ratio 1.00, no 429",
        verdict(slots == distinct and registered == distinct and refused == 0),
    )


def wait_for_answers(tg: FakeTelegram, chats: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len({chat for chat, _ in tg.sent_times()}) < chats:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every chat was answered within {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)


def _counts(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as db:
        subscriptions = db.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0]
        registered = db.execute("SELECT COUNT(*) FROM shipments WHERE registered=1").fetchone()[0]
    return int(subscriptions), int(registered)
