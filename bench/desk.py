"""The web desk on a busy chat: 2,000 shipments (100 at --quick) written straight into the
database with the bot's storage API (no TrackingMore registrations), then the real
`python -m bot` on it with its web server on.

- server: `GET /desk/api/chats/{id}/shipments`, the full answer (no If-None-Match), over one
  keep-alive connection from 127.0.0.1, p50 and p99 of 50 requests; held against 200 ms, the
  time under which a 2 s poll of the page (and a person clicking) feels instant. The 304 answer
  to the same poll is printed beside it (what an open page costs the bot every 2 s).
- browser: the page opened as the Mini App (initData signed with the bot's token) in headless
  Chromium (Debian's, through Playwright), from navigation to the table holding every row,
  p50 of 5 loads; held against 2 s, the wait after which a page counts as slow to open.

Skipped with the reason (a row saying so) when Playwright or Chromium is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

from bench.common import (
    FULL,
    POSTE,
    BotProcess,
    FakeTelegram,
    FakeTrackingMore,
    Row,
    Sizes,
    Where,
    bot_env,
    free_port,
    percentile,
    s10,
    verdict,
)
from bench.engines import Engine
from bot.core.shipments import Checkpoint, Snapshot
from bot.storage import Storage

CHAT = 4242  # a private chat: its id is its user's
SERVER_LIMIT_MS = 200.0
RENDER_LIMIT_MS = 2000.0
REQUESTS = 50
LOADS = 5
EVENTS = 5
# A realistic spread of statuses: mostly moving, some delivered, a few needing someone.
STATUSES = (
    ["transit"] * 10 + ["delivered"] * 5 + ["pending"] * 2 + ["exception", "undelivered", "pickup"]
)


def shipments_for(sizes: Sizes) -> int:
    return 2_000 if sizes == FULL else 100


def repeats(sizes: Sizes) -> tuple[int, int]:
    """(requests, page loads): --quick only shows the part still works."""
    return (REQUESTS, LOADS) if sizes == FULL else (10, 2)


def rows(sizes: Sizes, engine: Engine) -> list[Row]:
    count = shipments_for(sizes)
    with (
        FakeTelegram() as tg,
        FakeTrackingMore() as tm,
        tempfile.TemporaryDirectory() as folder,
        engine.database(Path(folder), "desk") as database,
    ):
        began = time.monotonic()
        asyncio.run(_seed(database, count))
        seeded = time.monotonic() - began
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = bot_env(
            tg,
            tm,
            database,
            Path(folder),
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            PUBLIC_BASE_URL=base,
        )
        bot = BotProcess(env, Path(folder), "desk")
        bot.start()
        try:
            bot.wait_ready(tg)
            init = _init_data(tg.token, CHAT)
            requests, loads = repeats(sizes)
            full, not_modified, (json_bytes, wire_bytes, plain_p50) = _server_times(
                base, init, count, requests
            )
            render = _render_times(base, init, count, loads)
        finally:
            bot.stop()
    workload = f"one chat with {count:,} shipments × {EVENTS} events (seeded in {seeded:.0f} s)"
    p50, p99 = percentile(full, 0.50), percentile(full, 0.99)
    server_row = Row(
        "desk page: shipments API",
        workload,
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(full)} full answers; "
        f"304 p50 {percentile(not_modified, 0.50):.1f} ms; {json_bytes / 1e6:.1f} MB of JSON, "
        f"{wire_bytes / 1e3:.0f} kB gzipped (p50 without gzip: {plain_p50:.0f} ms)",
        f"{SERVER_LIMIT_MS:.0f} ms (p99)",
        p99 / SERVER_LIMIT_MS,
        "ratio ≤ 1",
        verdict(p99 <= SERVER_LIMIT_MS),
    )
    if isinstance(render, str):
        render_row = Row(
            "desk page: first render", workload, render, "—", None, "skipped", "skipped"
        )
    else:
        median = statistics.median(render)
        render_row = Row(
            "desk page: first render",
            workload,
            f"p50 {median:.0f} ms (max {max(render):.0f}) over {len(render)} loads in "
            "headless Chromium, navigation to every row in the table",
            f"{RENDER_LIMIT_MS:.0f} ms (p50)",
            median / RENDER_LIMIT_MS,
            "ratio ≤ 1",
            verdict(median <= RENDER_LIMIT_MS),
        )
    return [server_row, render_row]


async def _seed(where: Where, count: int) -> None:
    storage = await Storage.open(where)
    try:
        await storage.chats.touch_chat(CHAT, "private", None, "en")
        codes = [s10(60_000_000 + i) for i in range(count)]
        for i, code in enumerate(codes):
            label = f"Cliente {i:04d}" if i % 3 else None
            await storage.follows.follow(CHAT, POSTE, code, label, CHAT, "Ada")
        start = datetime(2026, 11, 1, 8, 0)
        snapshots = []
        for i, code in enumerate(codes):
            status = STATUSES[i % len(STATUSES)]
            checkpoints = tuple(
                Checkpoint(
                    f"Evento {j} della spedizione",
                    "CMP BOLOGNA" if j % 2 else "ROMA",
                    start + timedelta(hours=j, minutes=i % 60),
                    status=status if j == EVENTS - 1 else "transit",
                )
                for j in reversed(range(EVENTS))
            )
            snapshots.append(Snapshot(POSTE, code, status, checkpoints=checkpoints))
        for at in range(0, len(snapshots), 200):
            await storage.changes.ingest(snapshots[at : at + 200], notify=False)
    finally:
        await storage.close()


def _init_data(token: str, user_id: int) -> str:
    """Mini App initData, signed as Telegram documents it."""
    fields = {
        "auth_date": str(int(time.time())),
        "query_id": "AAHbench",
        "user": json.dumps({"id": user_id, "first_name": "Ada", "language_code": "en"}),
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def _server_times(
    base: str, init: str, count: int, requests: int
) -> tuple[list[float], list[float], tuple[int, int, float]]:
    """Full (gzipped) answers' and 304s' round trips (ms); the answer's bytes as JSON and on
    the wire, and the p50 of the same answer without gzip."""
    path = f"/desk/api/chats/{CHAT}/shipments"
    headers = {"Authorization": f"tma {init}"}
    full: list[float] = []
    identity: list[float] = []  # the same answer asked for without gzip: its cost, this run
    not_modified: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        first = client.get(path)
        first.raise_for_status()
        assert len(first.json()["rows"]) == count, "the desk does not show every shipment"
        sizes = (len(first.content), first.num_bytes_downloaded)
        for _ in range(requests):
            began = time.perf_counter()
            plain = client.get(path, headers={"Accept-Encoding": "identity"})
            identity.append(1000 * (time.perf_counter() - began))
            plain.raise_for_status()
            began = time.perf_counter()
            answer = client.get(path)
            full.append(1000 * (time.perf_counter() - began))
            answer.raise_for_status()
            etag = answer.headers.get("ETag", "")
            began = time.perf_counter()
            again = client.get(path, headers={"If-None-Match": etag})
            if again.status_code == 304:
                not_modified.append(1000 * (time.perf_counter() - began))
    return full, not_modified or [float("nan")], (*sizes, percentile(identity, 0.50))


def _render_times(base: str, init: str, count: int, loads: int) -> list[float] | str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: the playwright package is not installed"
    if chromium is None:
        return "skipped: no chromium on the PATH"
    url = f"{base}/desk/#tgWebAppData={quote(init, safe='')}&tgWebAppVersion=8.0"
    times: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            for _ in range(loads + 1):  # the first load warms the browser's own caches up
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                handle = page.wait_for_function(
                    "n => document.querySelectorAll('#rows tr.row').length === n"
                    " && performance.now()",
                    arg=count,
                    timeout=60_000,
                )
                times.append(float(handle.json_value()))
                page.close()
        finally:
            browser.close()
    return times[1:]
