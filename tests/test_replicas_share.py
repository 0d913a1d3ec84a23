"""Replicas sharing one database share what they know: two `Storage` objects opened on the
same database stand for two replicas behind a load balancer. A user's flood allowance, a
replayed TrackingMore push and a Telegram update sent twice to the webhook are each one
thing for both. Runs on SQLite (everyday) and PostgreSQL (`pytest --full`)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.ext import ApplicationHandlerStop

from bot.config import load_settings
from bot.core.flood import USER_UPDATES_LIMIT, Admission, SlowDownNotes, window_slices
from bot.handlers.access import _flood_gate
from bot.ops.health import Heartbeat
from bot.ops.housekeeping import prune_coordination
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.ops.webserver import WebServer
from bot.storage import Storage
from bot.tracking.pushes import PushGuard, Verdict, signature_of

ALICE, BOB = 1001, 1002
PUSH_SECRET = "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f"
TG_SECRET = "tg-webhook-secret-0123456789"
TOKEN = "123456:AAE-secret-part-of-the-token_xyz"


@pytest.fixture
async def replicas(database: Path | str) -> AsyncIterator[tuple[Storage, Storage]]:
    first = await Storage.open(database)
    second = await Storage.open(database)
    yield first, second
    await second.close()
    await first.close()


# --- the flood allowance -------------------------------------------------------------------


async def test_two_replicas_count_one_window_per_user(replicas: tuple[Storage, Storage]) -> None:
    notes = [SlowDownNotes(), SlowDownNotes()]
    current, oldest = window_slices(1_700_000_005.5)
    verdicts = []
    for n in range(USER_UPDATES_LIMIT + 6):
        replica = n % 2
        hits = await replicas[replica].coordination.count_hit(ALICE, current, oldest)
        verdicts.append(notes[replica].admit(ALICE, hits))
    assert verdicts.count(Admission.ANSWER) == USER_UPDATES_LIMIT
    assert verdicts[USER_UPDATES_LIMIT] == Admission.WARN
    # The note is kept by the process: each replica warns once an episode, at most.
    assert verdicts.count(Admission.WARN) == 2
    assert await replicas[1].coordination.count_hit(BOB, current, oldest) == 1


async def test_the_window_slides_by_the_second(replicas: tuple[Storage, Storage]) -> None:
    first, second = (storage.coordination for storage in replicas)
    for second_of_window in range(11):
        current, oldest = window_slices(1_700_000_000 + second_of_window)
        await first.count_hit(ALICE, current, oldest)
    # At ...10 the window is ...00 to ...10: all eleven; at ...11 the first has left it.
    assert await second.count_hit(ALICE, *window_slices(1_700_000_010.9)) == 12
    assert await second.count_hit(ALICE, *window_slices(1_700_000_011.0)) == 12
    assert await second.count_hit(ALICE, *window_slices(1_700_000_030.0)) == 1


def _gate_context(storage: Storage) -> Any:
    settings = SimpleNamespace(default_language="en")
    services = SimpleNamespace(storage=storage, settings=settings)
    return SimpleNamespace(services=services, bot_data={})


class _Message:
    def __init__(self) -> None:
        self.replies: list[str] = []

    async def reply_text(self, text: str, **_kwargs: Any) -> None:
        self.replies.append(text)


async def test_the_flood_gate_holds_one_limit_across_replicas(
    replicas: tuple[Storage, Storage],
) -> None:
    contexts = [_gate_context(storage) for storage in replicas]
    answered, notes = 0, []
    for n in range(USER_UPDATES_LIMIT + 10):
        message = _Message()
        user = SimpleNamespace(id=ALICE, language_code="en")
        update = SimpleNamespace(effective_user=user, message=message, callback_query=None)
        try:
            await _flood_gate(update, contexts[n % 2])  # type: ignore[arg-type]
        except ApplicationHandlerStop:
            notes += message.replies
        else:
            answered += 1
    assert answered == USER_UPDATES_LIMIT  # not twice the limit with two replicas
    assert 1 <= len(notes) <= 2 and all("slow down" in note for note in notes)


# --- TrackingMore pushes -------------------------------------------------------------------


async def test_a_signed_push_is_accepted_once_by_replicas_sharing_a_database(
    replicas: tuple[Storage, Storage],
) -> None:
    guards = [
        PushGuard(PUSH_SECRET, first_sighting=storage.coordination.first_sighting_of_push)
        for storage in replicas
    ]
    stamp = str(int(time.time()))
    signature = signature_of(stamp, PUSH_SECRET)
    body = b'{"meta": {"code": 200}, "data": {}}'
    assert await guards[0].admit(stamp, signature, body) == Verdict.ACCEPTED
    assert await guards[1].admit(stamp, signature, body) == Verdict.REPLAYED
    assert await guards[1].admit(stamp, signature.upper(), body) == Verdict.REPLAYED
    assert await guards[0].admit(stamp, signature, body) == Verdict.REPLAYED
    # Another body in the same second is another push; the pure checks come first.
    assert await guards[1].admit(stamp, signature, b"{}") == Verdict.ACCEPTED
    assert await guards[1].admit(stamp, "0" * 64, b"[]") == Verdict.FORGED
    stale = str(int(time.time()) - 1000)
    assert await guards[1].admit(stale, signature_of(stale, PUSH_SECRET), b"") == Verdict.STALE


# --- Telegram updates in webhook mode ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _no_ingest(_trackings: list[Any]) -> list[Any]:
    return []


async def _no_scrape() -> ScrapeInputs:
    raise AssertionError("not scraped here")


def _web_server(storage: Storage | None, tmp_path: Path) -> tuple[WebServer, asyncio.Queue[object]]:
    port = _free_port()
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TRACKINGMORE_API_KEY": "tm-live-key-abcdefghijklmnop",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        },
        env_file=tmp_path / "absent.env",
    )
    updates: asyncio.Queue[object] = asyncio.Queue()
    server = WebServer(
        settings,
        Heartbeat(tmp_path / f"heartbeat-{port}.json"),
        Metrics(),
        bot=Bot(TOKEN),
        updates=updates,
        ingest_pushed=_no_ingest,
        scrape=_no_scrape,
        first_update_sighting=storage.coordination.first_sighting_of_update if storage else None,
    )
    return server, updates


def _update(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 7,
            "date": int(time.time()),
            "chat": {"id": ALICE, "type": "private"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
            "text": "/list",
        },
    }


async def _post(server: WebServer, update: dict[str, Any]) -> int:
    host, port = server._settings.webhook_listen or ("", 0)
    url = f"http://{host}:{port}{server._settings.telegram_webhook_path}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=update, headers=headers, timeout=10)
    return response.status_code


async def test_an_update_posted_twice_to_replicas_is_queued_once(
    replicas: tuple[Storage, Storage], tmp_path: Path
) -> None:
    servers = [_web_server(storage, tmp_path) for storage in replicas]
    for server, _ in servers:
        await server.start()
    try:
        statuses = [await _post(servers[n % 2][0], _update(500)) for n in range(3)]
        statuses.append(await _post(servers[1][0], _update(501)))
    finally:
        for server, _ in servers:
            await server.stop()
    assert statuses == [200, 200, 200, 200]  # a repeat is answered: Telegram stops retrying
    queued = [queue.get_nowait() for _, queue in servers for _ in range(queue.qsize())]
    assert sorted(update.update_id for update in queued) == [500, 501]  # type: ignore[attr-defined]


async def test_without_a_shared_memory_every_update_is_queued(tmp_path: Path) -> None:
    server, updates = _web_server(None, tmp_path)
    await server.start()
    try:
        assert [await _post(server, _update(500)) for _ in range(2)] == [200, 200]
    finally:
        await server.stop()
    assert updates.qsize() == 2


# --- housekeeping --------------------------------------------------------------------------


async def test_housekeeping_forgets_old_hit_windows_and_keeps_fresh_sightings(
    replicas: tuple[Storage, Storage],
) -> None:
    first, second = replicas
    now = time.time()
    old, fresh = window_slices(now - 7200), window_slices(now)
    await first.coordination.count_hit(ALICE, *old)
    await first.coordination.count_hit(ALICE, *fresh)
    assert await first.coordination.first_sighting_of_update(42)
    assert await first.coordination.first_sighting_of_push("key")
    await prune_coordination(second, now=now)
    assert not await second.coordination.first_sighting_of_update(42)  # a day is kept
    assert not await second.coordination.first_sighting_of_push("key")
    # The old window is gone: counted again from nothing, while the fresh one stayed.
    assert await second.coordination.count_hit(ALICE, old[0], old[0]) == 1
    assert await second.coordination.count_hit(ALICE, *fresh) == 2


@pytest.mark.full
async def test_rows_queued_on_one_replica_wake_the_leaders_sender(postgres_url: str) -> None:
    """LISTEN/NOTIFY: the standby that stored a change rings, the leader's sender wakes at
    once instead of at its idle check."""
    from bot.storage.leases import OutboxSignal
    from bot.storage.postgres import PostgresDatabase

    leader = await Storage.open(postgres_url)
    standby = await Storage.open(postgres_url)
    assert isinstance(leader.database, PostgresDatabase)
    assert isinstance(standby.database, PostgresDatabase)
    woken = asyncio.Event()
    listening = OutboxSignal(leader.database)
    try:
        await listening.listen(woken.set)
        await OutboxSignal(standby.database).ring()
        await asyncio.wait_for(woken.wait(), 5)  # no sender here: only the ring wakes it
        woken.clear()
        await listening.close()
        await OutboxSignal(standby.database).ring()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(woken.wait(), 0.5)  # a replica no longer leading
    finally:
        await listening.close()
        await leader.close()
        await standby.close()
