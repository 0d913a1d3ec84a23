"""Several replicas of the real bot on one real PostgreSQL database: one leads (long polling,
the poll cycle, the sender), the others stand by and take over within 15 s when it dies;
in webhook mode every replica answers updates, each once; the account's and the bot's
limits hold for all of them together."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import _assert_no_secrets, _stop
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import HANDLER_SETTLE_SECONDS, BotProcess, free_port, run_cli, wait_for

from bot.core.shipments import Snapshot
from bot.storage import Storage

pytestmark = [pytest.mark.e2e, pytest.mark.full]

CODE = "RR123456785IT"
POSTE = "poste-italiane"
TAKEOVER_LIMIT = 15.0
TG_SECRET = "tg-webhook-secret-0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Replicas:
    """Bot processes sharing one PostgreSQL database, stopped (and checked) at the end."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.started: list[BotProcess] = []

    def start(self, name: str, **overrides: str) -> BotProcess:
        bot = BotProcess({**self.env, "REPLICA_NAME": name, **overrides}, self.tmp_path, name)
        self.started.append(bot)
        bot.start()
        return bot

    def close(self) -> None:
        errors = [error for bot in self.started if (error := _stop(bot))]
        _assert_no_secrets(self.started)
        assert not errors, "\n".join(errors)


@pytest.fixture
def replicas(bot_env: dict[str, str], postgres_url: str, tmp_path: Path) -> Iterator[Replicas]:
    group = Replicas({**bot_env, "DATABASE_URL": postgres_url}, tmp_path)
    try:
        yield group
    finally:
        group.close()


def leads(bot: BotProcess) -> bool:
    return bot.log_count("leads (poll cycle") > 0


def test_one_replica_long_polls_and_a_standby_takes_over_within_15_s(
    replicas: Replicas, fake_tg: FakeTelegram
) -> None:
    first = replicas.start("one")
    first.wait_ready(fake_tg)
    second = replicas.start("two")
    second.wait_for_log("stands by")
    fake_tg.send_text(1001, "/start", language_code="en")
    fake_tg.wait_for_messages(1001, 1)
    time.sleep(2 * HANDLER_SETTLE_SECONDS)
    assert fake_tg.conflict_count == 0  # never two getUpdates at once
    assert not leads(second)

    first.kill()
    killed_at = time.monotonic()
    wait_for(lambda: leads(second), "the standby to take the lead", timeout=TAKEOVER_LIMIT + 5)
    second.wait_ready(fake_tg)
    took = time.monotonic() - killed_at
    print(f"\nlong polling taken over {took:.1f} s after the leader died")
    assert took <= TAKEOVER_LIMIT
    fake_tg.send_text(1002, "/start", language_code="en")
    fake_tg.wait_for_messages(1002, 1)
    assert len([m for m in fake_tg.messages(1001) if m["method"] == "sendMessage"]) == 1


def test_webhook_updates_spread_over_replicas_are_answered_once_each(
    replicas: Replicas, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    ports = [free_port(), free_port()]
    bots = [
        replicas.start(
            name,
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{ports[0]}",
            TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        )
        for name, port in zip(("one", "two"), ports, strict=True)
    ]
    for bot in bots:
        wait_for(lambda b=bot: leads(b) or b.log_count("stands by"), f"{bot.name}'s role")
    [webhook_url] = {str(call["params"]["url"]) for call in fake_tg.calls("setWebhook")}
    path = webhook_url.removeprefix(f"http://127.0.0.1:{ports[0]}")
    headers = {SECRET_HEADER: TG_SECRET}
    chats = list(range(2001, 2011))
    with httpx.Client(timeout=10) as client:
        for index, chat in enumerate(chats):
            update = fake_tg.send_text(chat, "/start", language_code="en")
            # Spread over the replicas; the first also sent again to the other (a retry the
            # load balancer gave to another replica).
            targets = ports if index == 0 else [ports[index % 2]]
            for port in targets:
                response = client.post(
                    f"http://127.0.0.1:{port}{path}", json=update, headers=headers
                )
                assert response.status_code == 200
    for chat in chats:
        fake_tg.wait_for_messages(chat, 1)
    time.sleep(2 * HANDLER_SETTLE_SECONDS)
    answered = Counter(m["chat_id"] for m in fake_tg.messages() if m["method"] == "sendMessage")
    assert {chat: answered[chat] for chat in chats} == dict.fromkeys(chats, 1)

    # A code sent to the standby: it registers it itself and confirms the status.
    [standby_port] = [port for bot, port in zip(bots, ports, strict=True) if not leads(bot)]
    fake_tm.script(CODE, status="transit")
    update = fake_tg.send_text(3001, CODE, language_code="en")
    with httpx.Client(timeout=10) as client:
        response = client.post(
            f"http://127.0.0.1:{standby_port}{path}", json=update, headers=headers
        )
    assert response.status_code == 200
    [confirmation] = fake_tg.wait_for_messages(3001, 1)
    assert (
        confirmation["text"].startswith("✅ Now tracking") and "In transit" in confirmation["text"]
    )


async def _seed(url: str, followers: int) -> None:
    storage = await Storage.open(url)
    try:
        for chat_id in range(10_000, 10_000 + followers):
            await storage.chats.touch_chat(chat_id, "private", None, "en")
            await storage.follows.follow(chat_id, POSTE, CODE, None, chat_id, "user")
        await storage.changes.ingest([Snapshot(POSTE, CODE, "pending")], notify=False)
    finally:
        await storage.close()


async def _marked_sent(url: str) -> int:
    storage = await Storage.open(url)
    try:
        row = await storage.database.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL"
        )
        return int(row[0]) if row else 0
    finally:
        await storage.close()


def told(fake_tg: FakeTelegram) -> Counter[int]:
    return Counter(
        m["chat_id"]
        for m in fake_tg.messages()
        if m["method"] == "sendMessage" and "In transit" in m["text"]
    )


def test_sigkill_of_the_sending_replica_mid_fan_out_is_finished_by_another(
    replicas: Replicas, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    followers = 200
    url = replicas.env["DATABASE_URL"]
    asyncio.run(_seed(url, followers))
    fake_tg.enforce_limits()
    first = replicas.start("one")
    first.wait_ready(fake_tg)
    second = replicas.start("two")
    second.wait_for_log("stands by")
    fake_tm.script(CODE, status="pending")
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_until(lambda f: sum(told(f).values()) >= 40, timeout=30, what="fan-out under way")
    first.kill()
    killed_at = time.monotonic()
    delivered_at_kill = sum(told(fake_tg).values())
    assert delivered_at_kill < followers, "the fan-out finished before the kill"
    in_flight = delivered_at_kill - asyncio.run(_marked_sent(url))

    wait_for(
        lambda: sum(told(fake_tg).values()) > delivered_at_kill,
        "the standby to send",
        timeout=TAKEOVER_LIMIT + 5,
    )
    resumed_after = time.monotonic() - killed_at
    fake_tg.wait_until(lambda f: len(told(f)) == followers, timeout=30, what="every follower told")
    counts = told(fake_tg)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nleader killed after {delivered_at_kill}/{followers}; the standby sent again "
        f"{resumed_after:.1f} s later; {in_flight} in flight, {duplicates} repeated, "
        f"{fake_tg.rate_limited_count} answered 429"
    )
    assert resumed_after <= TAKEOVER_LIMIT
    assert len(counts) == followers
    assert duplicates <= in_flight
    assert fake_tg.rate_limited_count == 0


def test_only_the_leader_polls_and_the_account_limits_hold_together(
    replicas: Replicas, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """120 shipments are 3 batches a cycle: polled by the leader alone, never twice in a
    cycle; /track on the standby registers through the same shared pace (0 × 429)."""
    url = replicas.env["DATABASE_URL"]
    asyncio.run(_seed_many(url, 120))
    fake_tm.enforce_limits()
    first = replicas.start("one", POLL_INTERVAL_SECONDS="2")
    first.wait_ready(fake_tg)
    second = replicas.start("two", POLL_INTERVAL_SECONDS="2")
    second.wait_for_log("stands by")
    first.wait_for_log("poll cycle done: 3 batches", count=3, timeout=30)
    assert second.log_count("poll cycle done") == 0
    per_code = Counter(
        code for r in fake_tm.requests if r["endpoint"] == "get" for code in r["numbers"]
    )
    cycles = first.log_count("poll cycle done")
    print(f"\n{cycles} cycles logged by the leader, {fake_tm.rate_limited_count} × 429")
    assert fake_tm.rate_limited_count == 0
    assert max(per_code.values(), default=0) <= cycles + 1


async def _seed_many(url: str, count: int) -> None:
    storage = await Storage.open(url)
    try:
        await storage.chats.touch_chat(1001, "private", None, "en")
        codes = [f"RR{100000000 + n:09d}IT" for n in range(count)]
        for code in codes:
            await storage.follows.follow(1001, POSTE, code, None, 1001, "user")
        await storage.changes.ingest([Snapshot(POSTE, c, "transit") for c in codes], notify=False)
    finally:
        await storage.close()


def test_a_wrong_database_password_stops_start_up_in_one_line_without_it(
    bot_env: dict[str, str], postgres_url: str
) -> None:
    wrong = postgres_url.replace(":postino-test-pw@", ":not-the-password-42@")
    result = run_cli([], {**bot_env, "DATABASE_URL": wrong}, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "refused the user name or password" in last and "DATABASE_URL" in last
    assert "not-the-password-42" not in result.stderr + result.stdout


def test_an_unreachable_database_at_start_is_waited_for(
    bot_env: dict[str, str], tmp_path: Path, fake_tg: FakeTelegram
) -> None:
    """PostgreSQL starting beside the bot (compose): retried with backoff, never a crash;
    SIGTERM while waiting stops it cleanly."""
    url = f"postgresql://postino:secret-pw-123@127.0.0.1:{free_port()}/postino"
    bot = BotProcess({**bot_env, "DATABASE_URL": url}, tmp_path, "waiting")
    bot.start()
    try:
        bot.wait_for_log("is not reachable", count=2, timeout=20)
        assert bot.alive
    finally:
        returncode, _ = bot.stop()
    assert returncode == 1  # as when stopped while Telegram is not reachable yet
    assert "stopped before the database could be reached" in bot.log_text()
    assert "secret-pw-123" not in bot.log_text()
    assert "Traceback" not in bot.log_text()
