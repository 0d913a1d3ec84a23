"""End to end: the bot's web server (WEBHOOK_LISTEN) with the real bot and the fake servers.

TrackingMore pushes (signed, forged, stale, replayed), a push and a poll seeing the same
change, Telegram in webhook mode, `/healthz`, `/metrics` and `python -m bot health`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BotFactory, _assert_no_secrets, _stop
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import (
    HANDLER_SETTLE_SECONDS,
    SEND_SETTLE_SECONDS,
    BotProcess,
    free_port,
    run_cli,
    wait_for,
)
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

CODE = "RR123456785IT"
CHAT = 1001
TM_SECRET = "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f"
TG_SECRET = "tg-webhook-secret-0123456789"


class Web:
    """The bot's web server as seen from outside."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def push(
        self,
        body: Any,
        *,
        secret: str = TM_SECRET,
        timestamp: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        stamp = str(int(time.time() if timestamp is None else timestamp))
        signed = {"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, secret)}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.post_push(raw, signed if headers is None else headers)

    def post_push(self, raw: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.base}/trackingmore/webhook",
            content=raw,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.base}/healthz", timeout=10)


@pytest.fixture
def web_port() -> int:
    return free_port()


@pytest.fixture
def web(web_port: int) -> Web:
    return Web(web_port)


@pytest.fixture
def push_env(bot_env: dict[str, str], web_port: int) -> dict[str, str]:
    return {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{web_port}",
        "TRACKINGMORE_WEBHOOK_SECRET": TM_SECRET,
    }


def follow(fake_tg: FakeTelegram, fake_tm: FakeTrackingMore) -> None:
    fake_tm.script(CODE, status="pending")
    fake_tg.send_text(CHAT, CODE, language_code="en")
    assert "Now tracking" in fake_tg.wait_for_messages(CHAT, 1)[0]["text"]


def wait_first_poll_cycle(web: Web) -> None:
    """With POLL_INTERVAL_SECONDS=3600 nothing is polled after this (until a restart)."""
    wait_for(lambda: web.health().json()["poll_cycle_seconds_ago"] is not None, "a poll cycle")


def texts(fake_tg: FakeTelegram) -> list[str]:
    return fake_tg.texts(CHAT)


def assert_quiet(bot: BotProcess, fake_tg: FakeTelegram, count: int, cycles: int = 2) -> None:
    """Nothing more is sent: ``cycles`` more poll cycles ran (0: the pushes being waited for
    were stored already) and the sender had its few milliseconds."""
    if cycles:
        bot.wait_poll_cycles(cycles)
    time.sleep(SEND_SETTLE_SECONDS)
    assert len(texts(fake_tg)) == count, texts(fake_tg)


def wait_for_log(bot: BotProcess, fragment: str, count: int = 1) -> None:
    bot.wait_for_log(fragment, count)


PUSH_STORED = "TrackingMore push: "
PUSH_REFUSED = "TrackingMore push refused"


def assert_secrets_absent(bot: BotProcess, *secrets: str) -> None:
    log = bot.log_text()
    for secret in secrets:
        assert secret not in log


# --- TrackingMore pushes ---------------------------------------------------------------


def test_a_push_is_told_at_once_and_the_poll_that_sees_it_later_stays_quiet(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    bot = bot_factory(**{**push_env, "POLL_INTERVAL_SECONDS": "3600"})
    follow(fake_tg, fake_tm)
    wait_first_poll_cycle(web)
    gets_before = fake_tm.count("get")

    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    answer = web.push(fake_tm.webhook_payload(CODE))
    assert answer.status_code == 200
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    # Told because of the push, which is a hint: the bot asked TrackingMore about that one
    # shipment right away instead of waiting an hour for the next poll.
    assert fake_tm.count("get") == gets_before + 1
    assert fake_tm.requests[-1]["numbers"] == [CODE]

    bot.restart()  # the start-up poll sees the same change
    bot.wait_ready(fake_tg)
    fake_tm.wait_for_requests("get", gets_before + 1)
    assert_quiet(bot, fake_tg, 2, cycles=1)  # the start-up poll: the only one for an hour
    assert_secrets_absent(bot, TM_SECRET)


def test_a_poll_then_a_push_of_the_same_change_tells_it_once(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    bot = bot_factory(**push_env)  # POLL_INTERVAL_SECONDS=1 from bot_env: polls win
    follow(fake_tg, fake_tm)
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]

    assert web.push(fake_tm.webhook_payload(CODE)).status_code == 200
    wait_for_log(bot, "TrackingMore push: 1 tracking(s), 0 change(s)")
    assert_quiet(bot, fake_tg, 2)


def test_pushes_racing_polls_tell_each_change_once(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    bot = bot_factory(**push_env)
    follow(fake_tg, fake_tm)
    steps = [
        ("transit", "In transito", "2026-11-20 09:30:00", "In transit"),
        ("pickup", "In consegna", "2026-11-21 08:05:00", "Out for delivery"),
        ("delivered", "Consegnato", "2026-11-21 12:40:00", "Delivered"),
    ]
    for seen, (status, detail, when, label) in enumerate(steps, start=1):
        fake_tm.move(CODE, status, detail, "ROMA", time=when)
        assert web.push(fake_tm.webhook_payload(CODE)).status_code == 200
        assert label in fake_tg.wait_for_messages(CHAT, seen + 1)[seen]["text"]
        wait_for_log(bot, PUSH_STORED, count=seen)
        assert_quiet(bot, fake_tg, seen + 1)


def test_forged_stale_replayed_and_malformed_pushes_are_refused(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    bot = bot_factory(**{**push_env, "POLL_INTERVAL_SECONDS": "3600"})
    follow(fake_tg, fake_tm)
    wait_first_poll_cycle(web)
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    payload = fake_tm.webhook_payload(CODE)
    now = time.time()
    stamp = str(int(now))

    refused = {
        "forged": web.push(payload, secret="not-the-secret"),
        "unsigned": web.post_push(json.dumps(payload).encode(), {}),
        "stale": web.push(payload, timestamp=now - 310),
        "future": web.push(payload, timestamp=now + 310),
        "malformed": web.push(b"{not json"),
        "no data": web.push({"meta": {"code": 200}}),
    }
    assert {name: r.status_code for name, r in refused.items()} == {
        "forged": 401,
        "unsigned": 401,
        "stale": 401,
        "future": 401,
        "malformed": 400,
        "no data": 400,
    }
    wait_for_log(bot, PUSH_REFUSED, count=len(refused))  # refused at once, nothing stored
    assert_quiet(bot, fake_tg, 1, cycles=0)

    headers = {"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, TM_SECRET)}
    raw = json.dumps(payload).encode()
    assert web.post_push(raw, headers).status_code == 200
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    assert web.post_push(raw, headers).status_code == 401  # the same request again

    metrics = web.metrics()

    def pushes(result: str) -> float:
        key = ("postino_webhook_requests_total", (("result", result), ("source", "trackingmore")))
        return metrics.get(key, 0)

    assert [pushes(r) for r in ("accepted", "forged", "unsigned", "stale", "replayed")] == [
        1,
        1,
        1,
        2,
        1,
    ]
    assert pushes("malformed") == 2
    wait_for_log(bot, PUSH_REFUSED, count=len(refused) + 1)
    wait_for_log(bot, PUSH_STORED)
    assert_quiet(bot, fake_tg, 2, cycles=0)


def test_pushes_about_unknown_or_older_states_change_nothing(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    bot = bot_factory(**{**push_env, "POLL_INTERVAL_SECONDS": "3600"})
    follow(fake_tg, fake_tm)
    wait_first_poll_cycle(web)
    fake_tm.script("RR000000010IT", status="transit")
    assert web.push(fake_tm.webhook_payload("RR000000010IT")).status_code == 200

    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    older = fake_tm.webhook_payload(CODE)
    fake_tm.move(CODE, "pickup", "In consegna", "ROMA", time="2026-11-21 08:05:00")
    assert web.push(fake_tm.webhook_payload(CODE)).status_code == 200
    assert "Out for delivery" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    # TrackingMore retries a failed push for days: a late one must not turn the clock back.
    assert web.push(older).status_code == 200
    wait_for_log(bot, "TrackingMore push: 1 tracking(s), 0 change(s)", count=2)
    assert_quiet(bot, fake_tg, 2, cycles=0)


def test_a_pushed_body_is_not_believed_over_trackingmore(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    """The signature covers only the timestamp: a body made up by someone must not be told."""
    bot = bot_factory(**{**push_env, "POLL_INTERVAL_SECONDS": "3600"})
    follow(fake_tg, fake_tm)
    wait_first_poll_cycle(web)
    invented = fake_tm.webhook_payload(CODE)
    invented["data"]["delivery_status"] = "delivered"
    invented["data"]["origin_info"]["trackinfo"].insert(
        0,
        {
            "checkpoint_date": "2026-11-22 10:00:00",
            "tracking_detail": "Consegnato al vicino <b>Mallory</b>",
            "location": "ROMA",
            "checkpoint_delivery_status": "delivered",
        },
    )
    assert web.push(invented).status_code == 200
    wait_for_log(bot, "TrackingMore push: 1 tracking(s), 0 change(s)")
    assert_quiet(bot, fake_tg, 1, cycles=0)


# --- Telegram webhook mode -------------------------------------------------------------


@pytest.fixture
def webhook_bot(
    bot_env: dict[str, str], tmp_path: Path, fake_tg: FakeTelegram, web_port: int
) -> Iterator[BotProcess]:
    env = {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{web_port}",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{web_port}",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
    }
    bot = BotProcess(env, tmp_path, "webhook-bot")
    bot.start()
    try:
        wait_for(lambda: fake_tg.calls("setWebhook") or not bot.alive, "setWebhook")
        assert bot.alive, bot.log_tail()
        yield bot
    finally:
        error = _stop(bot)
        _assert_no_secrets([bot])
        assert_secrets_absent(bot, TG_SECRET)
        assert not error, error


def test_telegram_webhook_mode_takes_updates_with_the_right_secret_only(
    webhook_bot: BotProcess, fake_tg: FakeTelegram, web: Web
) -> None:
    [call] = fake_tg.calls("setWebhook")
    url, params = call["params"]["url"], call["params"]
    assert url.startswith(f"{web.base}/telegram/")
    assert params["secret_token"] == TG_SECRET
    assert TG_SECRET not in url and fake_tg.token.partition(":")[2] not in url
    assert set(params["allowed_updates"]) >= {"message", "callback_query", "my_chat_member"}

    update = fake_tg.send_text(CHAT, "/start", language_code="en")
    secret_header = "X-Telegram-Bot-Api-Secret-Token"
    wrong = httpx.post(url, json=update, headers={secret_header: "guess"}, timeout=10)
    missing = httpx.post(url, json=update, timeout=10)
    elsewhere = httpx.post(
        f"{web.base}/telegram/guess", json=update, headers={secret_header: TG_SECRET}, timeout=10
    )
    garbage = httpx.post(url, json=["no", "update"], headers={secret_header: TG_SECRET}, timeout=10)
    assert (wrong.status_code, missing.status_code, elsewhere.status_code) == (403, 403, 404)
    assert garbage.status_code == 400
    time.sleep(HANDLER_SETTLE_SECONDS)  # refused at once: no update reached a handler
    assert fake_tg.texts(CHAT) == []

    right = httpx.post(url, json=update, headers={secret_header: TG_SECRET}, timeout=10)
    assert right.status_code == 200
    assert fake_tg.wait_for_messages(CHAT, 1)[0]["text"].startswith("👋 <b>Hi, I'm postino!</b>")
    assert fake_tg.calls("getUpdates") == []  # webhook mode never long-polls


# --- health and metrics ----------------------------------------------------------------


def test_metrics_and_healthz_describe_the_running_bot(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    started = time.time()
    bot_factory(**push_env)
    follow(fake_tg, fake_tm)
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_for_messages(CHAT, 2)

    def settled() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        metrics = web.metrics()
        done = metrics[("postino_outbox_pending", ())] == 0
        return metrics if done and metrics[("postino_poll_cycles_total", ())] >= 2 else None

    metrics = wait_for(settled, "the outbox to drain")
    assert metrics[("postino_shipments", (("status", "transit"),))] == 1
    assert metrics[("postino_chats", (("state", "active"),))] == 1
    assert metrics[("postino_chats", (("state", "paused"),))] == 0
    api = "postino_trackingmore_api_calls_total"
    assert metrics[(api, (("endpoint", "create"), ("result", "ok")))] == 1
    assert metrics[(api, (("endpoint", "get"), ("result", "ok")))] >= 1
    assert metrics[("postino_outbox_oldest_pending_age_seconds", ())] == 0
    assert metrics[("postino_last_successful_poll_timestamp_seconds", ())] >= started
    assert metrics[("postino_telegram_last_ok_timestamp_seconds", ())] >= started
    assert metrics[("postino_notification_latency_seconds_count", ())] == 1
    assert metrics[("postino_trackingmore_health", (("state", "ok"),))] == 1

    health = web.health()
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_health_command_and_healthz_follow_the_bot_life(
    bot_factory: BotFactory,
    bot_env: dict[str, str],
    fake_tm: FakeTrackingMore,
    push_env: dict[str, str],
    web: Web,
) -> None:
    never_started = run_cli(["health"], bot_env)
    assert never_started.returncode == 1 and "no heartbeat" in never_started.stdout

    bot = bot_factory(**push_env)
    wait_for(lambda: run_cli(["health"], push_env).returncode == 0, "a healthy heartbeat")
    doctor = run_cli(["doctor"], push_env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "is the running bot" in doctor.stdout

    bot.stop()
    stopped = run_cli(["health"], push_env)
    assert stopped.returncode == 1 and "stopped" in stopped.stdout

    # With a tight limit and polls an hour apart, the bot soon reports itself unhealthy.
    tight = {**push_env, "HEALTH_MAX_AGE_SECONDS": "1", "POLL_INTERVAL_SECONDS": "3600"}
    bot_factory(**tight)

    def overdue() -> bool:
        answer = web.health()
        problems = " ".join(answer.json()["problems"])
        return answer.status_code == 503 and "no poll cycle completed for" in problems

    wait_for(overdue, "/healthz to report the poll cycle overdue")
    assert run_cli(["health"], tight).returncode == 1
