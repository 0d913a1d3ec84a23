"""`python -m bot doctor` against the fake servers: the checks, the exit code, the masking."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from fakes.telegram import FakeTelegram
from harness import run_cli

pytestmark = pytest.mark.e2e

TM_SECRET = "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f"
TG_SECRET = "tg-webhook-secret-0123456789"


def secrets_of(env: dict[str, str]) -> list[str]:
    token = env["TELEGRAM_BOT_TOKEN"]
    candidates = [
        token,
        token.partition(":")[2],
        env["TRACKINGMORE_API_KEY"],
        env.get("TRACKINGMORE_WEBHOOK_SECRET", ""),
        env.get("TELEGRAM_WEBHOOK_SECRET", ""),
    ]
    return [secret for secret in candidates if secret]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def webhook_env(bot_env: dict[str, str]) -> dict[str, str]:
    port = free_port()
    return {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "TRACKINGMORE_WEBHOOK_SECRET": TM_SECRET,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
    }


def test_doctor_passes_names_the_bot_and_masks_every_secret(
    webhook_env: dict[str, str], fake_tg: FakeTelegram
) -> None:
    result = run_cli(["doctor"], webhook_env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"@{fake_tg.bot_username}" in result.stdout
    assert "all is well" in result.stdout
    assert "will be created on first start" in result.stdout
    assert "TELEGRAM_BOT_TOKEN=123456:****" in result.stdout
    assert "TRACKINGMORE_WEBHOOK_SECRET=****738f" in result.stdout
    assert f"WEBHOOK_LISTEN={webhook_env['WEBHOOK_LISTEN']}" in result.stdout
    for secret in secrets_of(webhook_env):
        assert secret not in output
    assert "/telegram/…" in result.stdout  # the secret path is never shown


def test_doctor_fails_on_a_token_telegram_refuses(bot_env: dict[str, str]) -> None:
    env = {**bot_env, "TELEGRAM_BOT_TOKEN": "123456:WRONG-secret-token-abcdef"}
    result = run_cli(["doctor"], env)
    assert result.returncode == 1
    assert "FAIL  Telegram      TELEGRAM_BOT_TOKEN was refused" in result.stdout
    assert "1 problem(s)" in result.stdout
    for secret in secrets_of(env):
        assert secret not in result.stdout + result.stderr


def test_doctor_fails_on_a_key_trackingmore_refuses(
    bot_env: dict[str, str], fake_tg: FakeTelegram
) -> None:
    env = {**bot_env, "TRACKINGMORE_API_KEY": "tm-revoked-key-987654321"}
    result = run_cli(["doctor"], env)
    assert result.returncode == 1
    assert "FAIL  TrackingMore  TRACKINGMORE_API_KEY was refused" in result.stdout
    assert f"@{fake_tg.bot_username}" in result.stdout  # the other checks still run
    for secret in secrets_of(env):
        assert secret not in result.stdout + result.stderr


def test_doctor_reports_the_schema_and_a_database_from_the_future(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    database = Path(bot_env["DATABASE_PATH"])
    database.parent.mkdir(parents=True)
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version=999")
    result = run_cli(["doctor"], bot_env)
    assert result.returncode == 1
    assert "schema v999, newer than this postino" in result.stdout


def test_doctor_fails_when_the_listen_address_is_taken(bot_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli(["doctor"], {**bot_env, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"})
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout


def test_telegram_webhook_without_listen_address_stops_with_one_line(
    bot_env: dict[str, str],
) -> None:
    result = run_cli(["doctor"], {**bot_env, "TELEGRAM_WEBHOOK_URL": "https://bot.example.com"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "postino: configuration error: TELEGRAM_WEBHOOK_URL needs WEBHOOK_LISTEN "
        "(the host:port the bot listens on, e.g. 0.0.0.0:8080)"
    ]
