#!/usr/bin/env python3
"""Benchmark: from a TrackingMore push to the notification reaching (fake) Telegram.

Runs the real bot (`python -m bot`, WEBHOOK_LISTEN on, polls an hour apart so only pushes
tell) against the fake servers; for each of N shipments, each followed by its own chat, moves it
and pushes it signed, then waits for the message. Prints min / median / p95 / max.

    python bench/push_latency.py [--shipments 20]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.telegram import FakeTelegram  # noqa: E402
from fakes.trackingmore import FakeTrackingMore  # noqa: E402
from harness import BotProcess  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
FIRST_CHAT = 4242


def s10(serial: int) -> str:
    """A valid UPU S10 code (check digit computed) for serial 0..99999999."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    check = 5 if check == 11 else 0 if check == 10 else check
    return f"RR{digits}{check}IT"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    with FakeTelegram() as tg, FakeTrackingMore() as tm, tempfile.TemporaryDirectory() as tmp:
        env = {
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TRACKINGMORE_API_KEY": tm.api_key,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TRACKINGMORE_API_BASE_URL": tm.base_url,
            "DATABASE_PATH": f"{tmp}/postino.sqlite3",
            "POLL_INTERVAL_SECONDS": "3600",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "TRACKINGMORE_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }
        bot = BotProcess(env, Path(tmp), "bench-bot")
        bot.start()
        try:
            bot.wait_ready(tg)
            latencies = measure(tg, tm, f"http://127.0.0.1:{port}", args.shipments)
        finally:
            bot.stop()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(
        f"push to message over {len(latencies)} pushes: min {latencies[0] * 1000:.0f} ms, "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    return 0


def measure(tg: FakeTelegram, tm: FakeTrackingMore, web: str, shipments: int) -> list[float]:
    """Each shipment in its own chat: the per-chat pacing (1 message/s) does not count."""
    codes = [s10(10_000_000 + n) for n in range(shipments)]
    for chat, code in enumerate(codes, start=FIRST_CHAT):
        tm.script(code, status="pending")
        tg.send_text(chat, code, language_code="en")
    for chat in range(FIRST_CHAT, FIRST_CHAT + len(codes)):
        tg.wait_for_messages(chat, 1, timeout=60)
    deadline = time.monotonic() + 30
    while httpx.get(f"{web}/healthz").json()["poll_cycle_seconds_ago"] is None:
        if time.monotonic() > deadline:
            raise SystemExit("no poll cycle")
        time.sleep(0.05)
    latencies = []
    for chat, code in enumerate(codes, start=FIRST_CHAT):
        tm.move(code, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
        stamp = str(int(time.time()))
        began = time.monotonic()
        answer = httpx.post(
            f"{web}/trackingmore/webhook",
            json=tm.webhook_payload(code),
            headers={"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, SECRET)},
        )
        answer.raise_for_status()
        tg.wait_for_messages(chat, 2, timeout=30)
        latencies.append(time.monotonic() - began)
    return latencies


if __name__ == "__main__":
    sys.exit(main())
