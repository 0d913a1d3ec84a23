"""Unit tests of the self-hosting pieces: push checks, derived secrets, masking, health."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, Settings, load_settings
from bot.ops.configuration import configuration, configuration_groups, configuration_lines
from bot.ops.health import HeartbeatRecord, Thresholds
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.storage import Gauges
from bot.tracking.health import CarrierHealth, PollState
from bot.tracking.pushes import MAX_CLOCK_SKEW_SECONDS, PushGuard, Verdict, signature_of

TOKEN = "123456:AAE-secret-part-of-the-token_xyz"
API_KEY = "tm-live-key-abcdefghijklmnop"
SECRET = "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f"
NOW = 1_700_000_000.0


def env(**extra: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TRACKINGMORE_API_KEY": API_KEY, **extra}


# --- TrackingMore push signatures ------------------------------------------------------


def test_signature_matches_trackingmore_published_test_vector() -> None:
    assert signature_of("1662371528", SECRET) == (
        "a37084ab68ae16b77db1f8463f31be9fcc965e2515e03efecf8139bb1e511b06"
    )


def signed(timestamp: float, secret: str = SECRET) -> tuple[str, str]:
    stamp = str(int(timestamp))
    return stamp, signature_of(stamp, secret)


def test_guard_accepts_a_fresh_signed_push_once() -> None:
    guard = PushGuard(SECRET)
    stamp, signature = signed(NOW - 10)
    assert guard.check(stamp, signature, b"{}", now=NOW) == Verdict.ACCEPTED
    assert guard.check(stamp, signature, b"{}", now=NOW + 1) == Verdict.REPLAYED
    # The signature covers only the timestamp: another push in the same second is not a replay.
    assert guard.check(stamp, signature, b'{"data": 2}', now=NOW + 1) == Verdict.ACCEPTED
    assert guard.check(stamp, signature.upper(), b"{}", now=NOW + 2) == Verdict.REPLAYED


@pytest.mark.parametrize(
    ("timestamp", "signature", "verdict"),
    [
        (None, None, Verdict.UNSIGNED),
        ("1700000000", None, Verdict.UNSIGNED),
        ("1700000000", signature_of("1700000000", "another-secret"), Verdict.FORGED),
        ("1700000000", signature_of("1700000001", SECRET), Verdict.FORGED),
        ("soon", signature_of("soon", SECRET), Verdict.FORGED),
        ("1700000000", "ünïcode", Verdict.FORGED),
        (*signed(NOW - MAX_CLOCK_SKEW_SECONDS - 1), Verdict.STALE),
        (*signed(NOW + MAX_CLOCK_SKEW_SECONDS + 1), Verdict.STALE),
        (*signed(NOW - MAX_CLOCK_SKEW_SECONDS), Verdict.ACCEPTED),
    ],
)
def test_guard_refuses_unsigned_forged_and_stale_pushes(
    timestamp: str | None, signature: str | None, verdict: Verdict
) -> None:
    assert PushGuard(SECRET).check(timestamp, signature, b"{}", now=NOW) == verdict


def test_guard_memory_is_bounded_by_the_time_window() -> None:
    guard = PushGuard(SECRET)
    for second in range(50):
        stamp, signature = signed(NOW + second)
        assert guard.check(stamp, signature, b"{}", now=NOW + second) == Verdict.ACCEPTED
    assert len(guard) == 50
    later = NOW + 49 + 2 * MAX_CLOCK_SKEW_SECONDS + 1
    stamp, signature = signed(later)
    assert guard.check(stamp, signature, b"{}", now=later) == Verdict.ACCEPTED
    assert len(guard) == 1


# --- configuration ---------------------------------------------------------------------


def test_telegram_webhook_needs_a_listen_address() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_URL needs WEBHOOK_LISTEN"):
        load_settings(env(TELEGRAM_WEBHOOK_URL="https://bot.example.com"))


def test_polling_slows_down_when_trackingmore_pushes_but_an_explicit_interval_wins() -> None:
    assert load_settings(env()).poll_interval_seconds == 1800
    assert load_settings(env(WEBHOOK_LISTEN="0.0.0.0:8080")).poll_interval_seconds == 1800
    pushes = env(WEBHOOK_LISTEN="0.0.0.0:8080", TRACKINGMORE_WEBHOOK_SECRET=SECRET)
    assert load_settings(pushes).poll_interval_seconds == 6 * 3600
    assert load_settings({**pushes, "POLL_INTERVAL_SECONDS": "600"}).poll_interval_seconds == 600


def test_telegram_webhook_path_and_secret_reveal_nothing_of_the_token() -> None:
    settings = load_settings(
        env(WEBHOOK_LISTEN="127.0.0.1:8080", TELEGRAM_WEBHOOK_URL="https://bot.example.com/")
    )
    assert settings.telegram_webhook_url == "https://bot.example.com"
    path, token = settings.telegram_webhook_path, settings.telegram_webhook_secret_token
    assert path.startswith("/telegram/") and len(path) > len("/telegram/") + 30
    for part in (TOKEN, TOKEN.partition(":")[2], "123456"):
        assert part not in path and part not in token
    assert token in settings.secrets and path.removeprefix("/telegram/") in settings.secrets
    chosen = load_settings(
        env(WEBHOOK_LISTEN="127.0.0.1:8080", TELEGRAM_WEBHOOK_SECRET="my-own-secret-123")
    )
    assert chosen.telegram_webhook_secret_token == "my-own-secret-123"
    assert chosen.telegram_webhook_path != path


def test_configuration_summary_shows_every_setting_and_no_secret() -> None:
    settings = load_settings(
        env(
            WEBHOOK_LISTEN="0.0.0.0:8080",
            TRACKINGMORE_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_URL="https://bot.example.com",
            TELEGRAM_WEBHOOK_SECRET="telegram-secret-abcdef",
            ALLOWED_USER_IDS="5,3",
        )
    )
    shown = dict(configuration(settings))
    assert set(shown) == {f.name.upper() for f in dataclasses.fields(Settings)}
    assert shown["TELEGRAM_BOT_TOKEN"] == "123456:****"
    assert shown["TRACKINGMORE_API_KEY"] == "****mnop"
    assert shown["WEBHOOK_LISTEN"] == "0.0.0.0:8080"
    assert shown["ALLOWED_USER_IDS"] == "3,5"
    text = "\n".join(configuration_lines(settings))
    for secret in settings.secrets:
        assert secret not in text


def test_start_up_configuration_is_a_line_a_group_with_every_setting_once_and_no_secret() -> None:
    settings = load_settings(
        env(
            WEBHOOK_LISTEN="0.0.0.0:8080",
            TRACKINGMORE_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_URL="https://bot.example.com",
            TELEGRAM_WEBHOOK_SECRET="telegram-secret-abcdef",
        )
    )
    groups = configuration_groups(settings)
    names = [line.partition("=")[0] for _group, lines in groups for line in lines]
    assert sorted(names) == sorted(f.name.upper() for f in dataclasses.fields(Settings))
    assert [group for group, _lines in groups] == [
        "telegram",
        "trackingmore",
        "access",
        "data",
        "web",
        "behaviour",
    ]
    text = "\n".join("; ".join(lines) for _group, lines in groups)
    assert "TELEGRAM_BOT_TOKEN=123456:****" in text
    for secret in settings.secrets:
        assert secret not in text


def test_metrics_allow_takes_addresses_and_cidrs_and_names_itself_when_wrong() -> None:
    default = load_settings(env()).metrics_allow
    assert [str(n) for n in default] == [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ]
    chosen = load_settings(env(METRICS_ALLOW=" 203.0.113.7, 2001:db8::/32 ,")).metrics_allow
    assert [str(n) for n in chosen] == ["203.0.113.7/32", "2001:db8::/32"]
    assert load_settings(env(METRICS_ALLOW="")).metrics_allow == ()
    shown = dict(configuration(load_settings(env(METRICS_ALLOW=""))))
    assert shown["METRICS_ALLOW"] == "(nobody)"
    with pytest.raises(ConfigError, match=r"^METRICS_ALLOW must be .* got 'intranet'$"):
        load_settings(env(METRICS_ALLOW="10.0.0.0/8,intranet"))


# --- health and metrics ----------------------------------------------------------------


def test_heartbeat_problems_name_what_is_old_or_missing() -> None:
    thresholds = Thresholds(telegram=300, poll_cycle=5400)
    fresh = HeartbeatRecord(pid=1, started_at=NOW - 60, telegram_ok_at=NOW - 5)
    assert fresh.problems(thresholds, NOW) == ["no poll cycle completed yet"]
    fresh.poll_cycle_at = NOW - 60
    assert fresh.problems(thresholds, NOW) == []
    assert fresh.problems(thresholds, NOW + 400) == ["no Telegram round-trip for 405 s"]
    assert fresh.problems(thresholds, NOW + 6000) == [
        "no Telegram round-trip for 6005 s",
        "no poll cycle completed for 6060 s",
    ]
    fresh.stopped_at = NOW
    assert fresh.problems(thresholds, NOW) == ["the bot has stopped"]


def test_a_heartbeat_without_a_telegram_answer_yet_is_starting() -> None:
    record = HeartbeatRecord(pid=1, started_at=NOW - 12, note="Telegram not reachable: boom")
    assert record.starting and record.state == "starting"
    thresholds = Thresholds(telegram=300, poll_cycle=5400)
    expected = "starting: waiting for Telegram's first answer (12 s since start; Telegram not"
    assert record.problems(thresholds, NOW)[0].startswith(expected)
    assert record.report(thresholds, NOW)["status"] == "starting"
    record.telegram_ok_at = NOW
    assert not record.starting
    assert record.report(thresholds, NOW)["problems"] == ["no poll cycle completed yet"]


def test_thresholds_follow_the_poll_interval_but_telegram_stays_tight() -> None:
    assert Thresholds.of(load_settings(env())) == Thresholds(telegram=300, poll_cycle=5400)
    tight = load_settings(env(HEALTH_MAX_AGE_SECONDS="60"))
    assert Thresholds.of(tight) == Thresholds(telegram=60, poll_cycle=60)


def test_metrics_registries_are_independent_and_render_prometheus_text() -> None:
    first, second = Metrics(), Metrics()
    first.count_webhook("trackingmore", "forged")
    poll = PollState(cycles=3, last_success_wallclock=NOW, health=CarrierHealth.DOWN)
    inputs = ScrapeInputs(
        gauges=Gauges({"transit": 2, "delivered": 1}, 4, 1, 0, None),
        api_calls={("get", "ok"): 7, ("create", "CarrierUnavailable"): 1},
        poll=poll,
        heartbeat=HeartbeatRecord(pid=1, started_at=NOW),
        notifications_given_up=0,
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(first.render(inputs).decode())
        for s in family.samples
    }
    assert samples[("postino_shipments", (("status", "transit"),))] == 2
    assert samples[("postino_chats", (("state", "paused"),))] == 1
    assert (
        samples[("postino_trackingmore_api_calls_total", (("endpoint", "get"), ("result", "ok")))]
        == 7
    )
    assert samples[("postino_trackingmore_health", (("state", "down"),))] == 1
    assert samples[("postino_poll_cycles_total", ())] == 3
    assert (
        samples[
            ("postino_webhook_requests_total", (("result", "forged"), ("source", "trackingmore")))
        ]
        == 1
    )
    second_text = second.render(inputs).decode()
    assert 'result="forged"' not in second_text
