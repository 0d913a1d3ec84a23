"""`python -m bot doctor` against the fake servers: the checks, the exit code, the masking;
on PostgreSQL (a real server in the full run) read-only: the schema, the replicas."""

from __future__ import annotations

import re
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from fakes.telegram import FakeTelegram
from harness import free_port, run_cli
from postgres import run_async

from bot.storage import SCHEMA_VERSION, Storage

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


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
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


# --- PostgreSQL ------------------------------------------------------------------------


def _database_line(stdout: str) -> str:
    [line] = [line for line in stdout.splitlines() if re.match(r"\S+\s+database\s", line)]
    return line


def test_doctor_on_an_unreachable_postgres_fails_in_one_line(bot_env: dict[str, str]) -> None:
    password = "pg-password-never-shown"
    url = f"postgresql://postino:{password}@127.0.0.1:{free_port()}/postino"
    result = run_cli(["doctor"], {**bot_env, "DATABASE_URL": url})
    assert result.returncode == 1
    line = _database_line(result.stdout)
    assert line.startswith("FAIL  database      PostgreSQL at postgresql://postino:****@127.0.0.1:")
    assert "the server is not reachable" in line
    assert "1 problem(s)" in result.stdout
    assert "back up with pg_dump" in result.stdout
    assert password not in result.stdout + result.stderr


def _migrate_and_report(url: str, *replicas: tuple[str, str]) -> None:
    async def run() -> None:
        storage = await Storage.open(url)
        try:
            for name, role in replicas:
                await storage.coordination.report_replica(name, role, 4242, datetime.now(UTC))
        finally:
            await storage.close()

    run_async(run())


def _has_schema_table(url: str) -> bool:
    async def run() -> bool:
        conn = await asyncpg.connect(url)
        try:
            return bool(await conn.fetchval("SELECT to_regclass('postino_schema') IS NOT NULL"))
        finally:
            await conn.close()

    return run_async(run())


@pytest.mark.full
def test_doctor_on_postgres_shows_the_schema_and_the_replicas_never_the_password(
    bot_env: dict[str, str], postgres_url: str
) -> None:
    _migrate_and_report(postgres_url, ("web-2", "standby"), ("web-1", "leader"))
    env = {
        **bot_env,
        "DATABASE_URL": postgres_url,
        "BACKUP_DIR": str(Path(bot_env["DATABASE_PATH"]).parent / "b"),
    }
    result = run_cli(["doctor"], env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    line = _database_line(result.stdout)
    assert re.match(
        r"ok    database      PostgreSQL \d+(\.\d+)* at postgresql://postino:\*\*\*\*@", line
    )
    assert line.endswith(f": schema v{SCHEMA_VERSION} (current)")
    assert "ok    replicas      2 running: web-1 (leader), web-2 (standby)" in result.stdout
    assert "warn  backups       BACKUP_DIR is ignored on PostgreSQL" in result.stdout
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in output
    for secret in secrets_of(env):
        assert secret not in output


@pytest.mark.full
def test_doctor_reads_a_fresh_postgres_database_without_migrating_it(
    bot_env: dict[str, str], postgres_url: str
) -> None:
    result = run_cli(["doctor"], {**bot_env, "DATABASE_URL": postgres_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _database_line(result.stdout).endswith(": schema v0 (created on first start)")
    assert "ok    replicas      none running" in result.stdout
    assert not _has_schema_table(postgres_url)


@pytest.mark.full
def test_doctor_on_postgres_with_a_wrong_password_fails_in_one_line(
    bot_env: dict[str, str], postgres_url: str
) -> None:
    wrong = "wrong-password-12345"
    url = re.sub(r"(//[^:]+:)[^@]+@", rf"\g<1>{wrong}@", postgres_url)
    result = run_cli(["doctor"], {**bot_env, "DATABASE_URL": url})
    assert result.returncode == 1
    line = _database_line(result.stdout)
    assert line.startswith("FAIL  database      PostgreSQL at postgresql://postino:****@")
    assert line.endswith("the server refused the user name or password")
    assert wrong not in result.stdout + result.stderr
