"""TrackingMore misbehaving: every fault is survived and the next good cycle tells everything."""

from __future__ import annotations

import time

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import SEND_SETTLE_SECONDS

# No process needed: the bot runs in the test process (see tests/inprocess.py).
pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CODE = "RR123456785IT"
CHAT, ADMIN = 1001, 777


def follow(fake_tg: FakeTelegram, fake_tm: FakeTrackingMore) -> None:
    fake_tm.script(CODE, status="pending")
    fake_tg.send_text(CHAT, CODE, language_code="en")
    assert "Now tracking" in fake_tg.wait_for_messages(CHAT, 1)[0]["text"]


def get_statuses(fake_tm: FakeTrackingMore) -> list[int | None]:
    return [r["status"] for r in fake_tm.requests if r["endpoint"] == "get"]


def get_count_after(fake_tm: FakeTrackingMore, moment: float) -> int:
    return sum(1 for r in fake_tm.requests if r["endpoint"] == "get" and r["time"] >= moment)


@pytest.mark.parametrize(
    "fault",
    ["http500", "http502", "http503", "timeout:3", "garbage", "truncated", "missing_fields"],
)
def test_fault_on_get_is_survived_and_changes_arrive_later(
    fault: str, bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory(CARRIER_TIMEOUT_SECONDS="1")
    follow(fake_tg, fake_tm)
    fake_tm.fail_next(fault, times=2, endpoint="get")
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tm.move(CODE, "pickup", "In consegna", "ROMA", time="2026-11-21 08:05:00")

    [_, message] = fake_tg.wait_for_messages(CHAT, 2, timeout=25)
    # Both checkpoints that happened during the outage are told, in one message.
    assert "<b>Out for delivery</b>" in message["text"]
    assert "In transito" in message["text"] and "In consegna" in message["text"]
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(CHAT)) == 2
    assert bot.alive
    assert fake_tm.count("create") == 1  # nothing was registered twice


def test_connection_refused_is_survived(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory()
    follow(fake_tg, fake_tm)
    fake_tm.go_offline()
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    bot.settle_after_poll_cycles(2)  # cycles that failed to connect
    assert bot.alive and len(fake_tg.texts(CHAT)) == 1
    assert "ConnectError" in bot.log_text() or "Connect" in bot.log_text()
    fake_tm.go_online()
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2, timeout=15)[1]["text"]


def test_rate_limit_pauses_polling_without_a_storm(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory()
    follow(fake_tg, fake_tm)
    fake_tm.wait_for_requests("get", 1)
    fake_tm.fail_next("http429", times=1, endpoint="get")  # with Retry-After: 1
    fake_tm.fail_next("meta:429:429", times=1, endpoint="get")  # no header: default pause
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    # Two 429s in a row: after the second (no Retry-After) the bot waits the default
    # 60 s, i.e. no further request in the next few 1-second cycles.
    fake_tm.wait_until(lambda f: get_statuses(f).count(429) >= 2, what="two 429s")
    assert get_statuses(fake_tm).count(429) == 2
    second_429 = max(r["time"] for r in fake_tm.requests if r["status"] == 429)
    # Three more 1-second cycles that skip polling because of the pause.
    paused = "polling paused for"
    bot.wait_for_log(paused, bot.log_count(paused) + 3)
    time.sleep(SEND_SETTLE_SECONDS)
    assert get_count_after(fake_tm, second_429 + 0.01) == 0
    assert len(fake_tg.texts(CHAT)) == 1


def test_auth_failure_alerts_admin_once_and_recovers(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory(ADMIN_USER_IDS=str(ADMIN), CARRIER_DOWN_ALERT_CYCLES="2")
    fake_tg.send_text(ADMIN, "/start", language_code="en")
    fake_tg.wait_for_messages(ADMIN, 1)
    follow(fake_tg, fake_tm)

    fake_tm.set_auth_broken(True)
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    alert = fake_tg.wait_for_messages(ADMIN, 2, timeout=10)[1]["text"]
    assert "TrackingMore refused the API key" in alert
    requests_during = len(fake_tm.requests)
    bot.settle_after_poll_cycles(3)  # several cycles: one request each at most, no new alert
    assert len(fake_tg.texts(ADMIN)) == 2
    assert len(fake_tm.requests) - requests_during <= 4
    assert len(fake_tg.texts(CHAT)) == 1

    fake_tm.set_auth_broken(False)
    assert "works again" in fake_tg.wait_for_messages(ADMIN, 3, timeout=10)[2]["text"]
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2, timeout=10)[1]["text"]


def test_quota_exhausted_alerts_admin_in_their_language(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory(ADMIN_USER_IDS=f"{ADMIN},778")
    fake_tg.send_text(ADMIN, "/start", language_code="it")
    fake_tg.wait_for_messages(ADMIN, 1)
    follow(fake_tg, fake_tm)
    fake_tm.fail_next("meta4190", times=3, endpoint="get")
    alert = fake_tg.wait_for_messages(ADMIN, 2, timeout=10)[1]["text"]
    assert "Quota di TrackingMore esaurita" in alert
    assert "funziona di nuovo" in fake_tg.wait_for_messages(ADMIN, 3, timeout=10)[2]["text"]


def test_carrier_down_for_n_cycles_alerts_once(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory(ADMIN_USER_IDS=str(ADMIN), CARRIER_DOWN_ALERT_CYCLES="3")
    fake_tg.send_text(ADMIN, "/start", language_code="en")
    fake_tg.wait_for_messages(ADMIN, 1)
    follow(fake_tg, fake_tm)
    fake_tm.set_down(True)
    alert = fake_tg.wait_for_messages(ADMIN, 2, timeout=15)[1]["text"]
    assert "unreachable for 3 poll cycles" in alert
    bot.settle_after_poll_cycles(2)
    assert len(fake_tg.texts(ADMIN)) == 2
    fake_tm.set_down(False)
    assert "works again" in fake_tg.wait_for_messages(ADMIN, 3, timeout=10)[2]["text"]


def test_registration_while_carrier_is_down_happens_later(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    fake_tm.set_down(True)
    fake_tg.send_text(CHAT, f"{CODE} Scarpe", language_code="en")
    answer = fake_tg.wait_for_messages(CHAT, 1)[0]["text"]
    assert "The tracking service isn't answering right now" in answer
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    fake_tm.set_down(False)
    notification = fake_tg.wait_for_messages(CHAT, 2, timeout=15)[1]["text"]
    assert "<b>Scarpe</b>" in notification and "In transit" in notification
    assert fake_tm.registered() == [("poste-italiane", CODE)]
