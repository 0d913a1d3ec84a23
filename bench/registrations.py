"""Registrations: many chats paste lists of codes (half of them shared with another chat)
into the real bot; the fake TrackingMore enforces 10 requests/s and 3 creations/s and counts
what was registered. One create, or one slot of a batch create, per distinct shipment.
On PostgreSQL two replicas share the database (and TrackingMore's limits)."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

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
    progress,
    s10,
    verdict,
)
from bench.engines import Engine, running_bots

FIRST_CHAT = 5_000_000
_POLL_SECONDS = 0.5


def row(sizes: Sizes, engine: Engine) -> Row:
    chats, per_chat = sizes.registration_chats, sizes.registration_codes_per_chat
    blocks = max(1, chats // 2)
    codes = [[s10(30_000_000 + b * per_chat + i) for i in range(per_chat)] for b in range(blocks)]
    distinct = blocks * per_chat
    replicas = engine.replicas()
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "registrations") as database,
    ):
        tm.enforce_limits(per_s=TM_REQUESTS_PER_S, create_per_s=TM_CREATES_PER_S)
        env = bot_env(tg, tm, database, Path(folder))
        with running_bots(env, Path(folder), "registrations", tg, replicas):
            progress(f"{chats} chats paste {per_chat} codes each ({distinct} distinct)")
            began = time.monotonic()
            for n in range(chats):
                tg.send_text(FIRST_CHAT + n, "\n".join(codes[n % blocks]), language_code="it")
            wait_for_answers(tg, chats, timeout=distinct / TM_CREATES_PER_S + 120)
            seconds = time.monotonic() - began
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
        engine.label(replicas),
    )


def wait_for_answers(tg: FakeTelegram, chats: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len({chat for chat, _ in tg.sent_times()}) < chats:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every chat was answered within {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)


def _counts(database: Where) -> tuple[int, int]:
    [(subscriptions, registered)] = seed.query(
        database,
        "SELECT (SELECT COUNT(*) FROM subscriptions), "
        "(SELECT COUNT(*) FROM shipments WHERE registered=1)",
    )
    return int(subscriptions), int(registered)
