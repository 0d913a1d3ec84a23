#!/usr/bin/env python3
"""Benchmark: from a TrackingMore push to the notification reaching (fake) Telegram.

Runs the real bot (`python -m bot`, WEBHOOK_LISTEN on, polls an hour apart so only pushes
tell) against the fake servers; for each of N shipments, each followed by its own chat, moves it
and pushes it signed, then waits for the message. Prints min / median / p95 / max.

On PostgreSQL (in `python -m bench`) two replicas share the database, as behind a load
balancer: the pushes alternate between them, and the ones the standby takes are told by the
leader's sender.

    python bench/push_latency.py [--shipments 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    bot_env,
    free_port,
    percentile,
    s10,
)
from bench.engines import SQLITE, Engine, leader_of, running_bots  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
FIRST_CHAT = 4242
PUSH_SPACING_SECONDS = 0.25


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=20)
    args = parser.parse_args()
    latencies = sorted(seconds for _, seconds in run(args.shipments, Engine(SQLITE)))
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(
        f"push to message over {len(latencies)} pushes: min {latencies[0] * 1000:.0f} ms, "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    return 0


def row(sizes: Sizes, engine: Engine) -> Row:
    replicas = engine.replicas()
    measured = run(sizes.pushes, engine, replicas)
    by_role: dict[str, list[float]] = {}
    for role, seconds in measured:
        by_role.setdefault(role, []).append(seconds)
    parts = []
    for role, latencies in by_role.items():
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        through = f"{len(latencies)} through the {role}: " if replicas > 1 else ""
        parts.append(f"{through}p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    spread = ", alternating between the replicas" if replicas > 1 else ""
    return Row(
        "push to message",
        f"{len(measured)} signed TrackingMore pushes, 4/s, each about a shipment 1 chat "
        f"follows{spread}",
        "; ".join(parts),
        "—",
        None,
        "p50 and p99 printed",
        "ok",
        engine.label(replicas),
    )


def run(shipments: int, engine: Engine, replicas: int = 1) -> list[tuple[str, float]]:
    """The real bot with pushes on and polls an hour apart, so only pushes tell: (the role
    of the replica that took the push, seconds to the message) per push."""
    ports = [free_port() for _ in range(replicas)]
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as tmp,
        engine.database(Path(tmp), "push") as database,
    ):
        env = bot_env(tg, tm, database, Path(tmp), TRACKINGMORE_WEBHOOK_SECRET=SECRET)

        def listen(n: int) -> dict[str, str]:
            return {"WEBHOOK_LISTEN": f"127.0.0.1:{ports[n]}"}

        with running_bots(env, Path(tmp), "push", tg, replicas, listen) as bots:
            leading = bots.index(leader_of(bots)) if replicas > 1 else 0
            webs = [
                (
                    "leader" if n == leading else "standby",
                    f"http://127.0.0.1:{port}",
                )
                for n, port in enumerate(ports)
            ]
            return measure(tg, tm, webs, shipments)


def measure(
    tg: FakeTelegram, tm: FakeTrackingMore, webs: list[tuple[str, str]], shipments: int
) -> list[tuple[str, float]]:
    """Each shipment in its own chat: the per-chat pacing (1 message/s) does not count.
    `webs` are (role, base URL) of the replicas; the leader's first."""
    codes = [s10(10_000_000 + n) for n in range(shipments)]
    for chat, code in enumerate(codes, start=FIRST_CHAT):
        tm.script(code, status="pending")
        tg.send_text(chat, code, language_code="en")
    for chat in range(FIRST_CHAT, FIRST_CHAT + len(codes)):
        tg.wait_for_messages(chat, 1, timeout=60)
    leader = next(web for role, web in webs if role == "leader")
    deadline = time.monotonic() + 30
    while httpx.get(f"{leader}/healthz").json()["poll_cycle_seconds_ago"] is None:
        if time.monotonic() > deadline:
            raise SystemExit("no poll cycle")
        time.sleep(0.05)
    latencies = []
    with httpx.Client() as client:  # one client: making one costs ~20 ms, not the bot's time
        for n, (chat, code) in enumerate(enumerate(codes, start=FIRST_CHAT)):
            role, web = webs[n % len(webs)]
            # Each push costs the bot one get: back to back they would queue behind
            # TrackingMore's 10 requests/s and measure that limit, not the bot.
            time.sleep(PUSH_SPACING_SECONDS)
            tm.move(code, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
            stamp = str(int(time.time()))
            began = time.monotonic()
            answer = client.post(
                f"{web}/trackingmore/webhook",
                json=tm.webhook_payload(code),
                headers={"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, SECRET)},
            )
            answer.raise_for_status()
            tg.wait_for_messages(chat, 2, timeout=30)
            latencies.append((role, time.monotonic() - began))
    return latencies


if __name__ == "__main__":
    sys.exit(main())
