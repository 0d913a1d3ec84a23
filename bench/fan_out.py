"""Fan-out: thousands of notifications due at once, sent by the real bot to a fake Telegram
that enforces Telegram's limits (30 messages/s overall, 1/s per chat, 20/min per group) by
answering 429 — so going faster than allowed shows up as 429s, not as a better number.

Also the cost of the outbox write that follows each accepted message, in process.

On PostgreSQL two replicas share the database: only the leader sends, and the limits hold
for the bot as a whole.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import seed
from bench.common import (
    TG_GROUP_MESSAGES_PER_MIN,
    TG_MESSAGES_PER_S,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    Where,
    bot_env,
    progress,
    verdict,
)
from bench.engines import Engine, running_bots
from bot.storage import Storage

FIRST_PRIVATE = 3_000_000
FIRST_GROUP = -1_001_000_000_000
RATE_TARGET = 0.90
WRITE_TARGET = 0.05
_POLL_SECONDS = 0.5


def seed_fan_out(where: Where, private: int, groups: int, per_group: int) -> int:
    """One parcel per private chat, `per_group` per group, all in transit and then all
    delivered in one poll: one outbox row per follower, in a mixed order. Returns how many."""
    parcels = [seed.parcel(20_000_000 + n) for n in range(private + groups * per_group)]
    chats = [seed.Chat(FIRST_PRIVATE + n) for n in range(private)]
    chats += [seed.Chat(FIRST_GROUP - g, "supergroup", f"Negozio {g}", None) for g in range(groups)]
    follows = [(FIRST_PRIVATE + n, n) for n in range(private)]
    follows += [(FIRST_GROUP - n // per_group, private + n) for n in range(groups * per_group)]
    seed.create_schema(where)
    seed.insert_rows(where, chats, parcels, follows)
    seed.ingest(where, [seed.snapshot(p) for p in parcels], notify=False)
    delivered = [
        seed.snapshot(p, [seed.Step("delivered", "Consegnato", "ROMA", "2026-11-20 10:00:00")])
        for p in parcels
    ]
    random.Random(7).shuffle(delivered)
    return seed.ingest(where, delivered, notify=True)


def rows(sizes: Sizes, engine: Engine) -> list[Row]:
    private, groups, per_group = (
        sizes.fan_out_private,
        sizes.fan_out_groups,
        sizes.fan_out_per_group,
    )
    replicas = engine.replicas()
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "fan-out") as database,
    ):
        progress(f"seeding {private} private + {groups}x{per_group} group notifications")
        total = seed_fan_out(database, private, groups, per_group)
        tg.enforce_limits(
            global_per_s=TG_MESSAGES_PER_S,
            per_chat_per_s=1,
            per_group_per_min=TG_GROUP_MESSAGES_PER_MIN,
        )
        env = bot_env(tg, tm, database, Path(folder))
        with running_bots(env, Path(folder), "fan-out", tg, replicas):
            sent = wait_for_sends(tg, total, timeout=total / TG_MESSAGES_PER_S * 1.5 + 60)
        refused = tg.rate_limited_count
    label = engine.label(replicas)
    return [
        dataclasses.replace(row, engine=label)
        for row in (
            private_row(sent, private, groups, per_group, refused),
            group_row(sent, groups, refused),
        )
    ]


def wait_for_sends(tg: FakeTelegram, total: int, timeout: float) -> list[tuple[int, float]]:
    deadline = time.monotonic() + timeout
    while len(sent := tg.sent_times()) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(sent)} of {total} notifications within {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)
    return sent


def private_row(
    sent: list[tuple[int, float]], private: int, groups: int, per_group: int, refused: int
) -> Row:
    times = sorted(moment for _, moment in sent)
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span if span > 0 else float("inf")
    ratio = rate / TG_MESSAGES_PER_S
    return Row(
        "fan-out, overall",
        f"{private:,} notifications to {private:,} private chats + {groups * per_group} "
        f"to {groups} groups, all due at once",
        f"{len(times):,} messages in {span:.1f} s = {rate:.1f}/s, {refused} × 429",
        f"{TG_MESSAGES_PER_S} messages/s",
        ratio,
        f"≥ {RATE_TARGET:.2f}, no 429",
        verdict(ratio >= RATE_TARGET and refused == 0),
    )


def group_row(sent: list[tuple[int, float]], groups: int, refused: int) -> Row:
    """Per group, what arrived within the minute after its first message."""
    by_group: dict[int, list[float]] = defaultdict(list)
    for chat, moment in sent:
        if chat < 0:
            by_group[chat].append(moment)
    first_minute = [sum(1 for t in times if t - min(times) < 60) for times in by_group.values()]
    worst = min(first_minute, default=0)
    ratio = worst / TG_GROUP_MESSAGES_PER_MIN
    return Row(
        "fan-out, groups",
        f"the same run: {groups} groups with their messages due",
        f"{worst} messages in the first minute of the slowest group, {refused} × 429",
        f"{TG_GROUP_MESSAGES_PER_MIN} messages/min per group",
        ratio,
        f"≥ {RATE_TARGET:.2f}, no 429",
        verdict(ratio >= RATE_TARGET and refused == 0),
    )


def outbox_write_row(sizes: Sizes, engine: Engine) -> Row:
    """The commit after each accepted message (deliberate: a crash repeats at most what was
    in flight), against the 1/30 s that each message slot lasts."""
    count = sizes.outbox_writes
    with (
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "outbox") as database,
    ):
        seed_fan_out(database, count, 0, 1)
        seconds, cpu = asyncio.run(_mark_all_sent(database))
    per_write = seconds / count
    slot = 1 / TG_MESSAGES_PER_S
    return Row(
        "outbox write per message",
        f"{count:,} due notifications fetched and marked sent one by one",
        f"{per_write * 1000:.2f} ms wall, {cpu / count * 1000:.2f} ms CPU per message",
        f"one message slot at {TG_MESSAGES_PER_S}/s = {slot * 1000:.1f} ms",
        per_write / slot,
        f"< {WRITE_TARGET:.2f}",
        verdict(per_write / slot < WRITE_TARGET),
    )


async def _mark_all_sent(database: Where) -> tuple[float, float]:
    storage = await Storage.open(database)
    began, cpu = time.perf_counter(), time.process_time()
    while due := await storage.outbox.due_notifications():
        for item in due:
            await storage.outbox.mark_sent(item.id)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    await storage.close()
    return seconds, cpu
