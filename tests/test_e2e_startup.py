"""Start-up as a process: Telegram is asked before the database is touched, and `health` says
"starting" until Telegram first answers (then the usual checks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import _assert_no_secrets
from db_reads import database_created
from fakes.telegram import FakeTelegram
from harness import BotProcess, run_cli, wait_for

from bot.config import load_settings
from bot.ops.health import health_command, heartbeat_path, read_heartbeat

pytestmark = pytest.mark.e2e


def test_refused_token_stops_before_the_database_is_created(
    bot_env: dict[str, str], fake_tg: FakeTelegram
) -> None:
    env = {**bot_env, "TELEGRAM_BOT_TOKEN": "123456:WRONG-secret-token-abcdef", "LOG_LEVEL": "INFO"}
    result = run_cli([], env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    naming = [line for line in result.stderr.splitlines() if "TELEGRAM_BOT_TOKEN" in line]
    assert naming == ["postino: TELEGRAM_BOT_TOKEN was refused by Telegram (getMe: Unauthorized)"]
    assert result.stderr.strip().splitlines()[-1] == naming[0]
    assert not database_created(env)
    assert [c["method"] for c in fake_tg.failed_calls()] == ["getMe"]
    for secret in ("WRONG-secret-token-abcdef", fake_tg.token.partition(":")[2]):
        assert secret not in result.stdout + result.stderr
    # What is left says why: the heartbeat of a bot that stopped.
    health = run_cli(["health"], env)
    assert health.returncode == 1
    assert health.stdout.strip() == (
        "unhealthy: the bot has stopped "
        "(TELEGRAM_BOT_TOKEN was refused by Telegram (getMe: Unauthorized))"
    )


def test_health_says_starting_until_telegram_answers_then_the_usual_checks(
    bot_env: dict[str, str],
    fake_tg: FakeTelegram,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Telegram answers getMe with errors twice: the bot retries after 1 and 2 s.
    fake_tg.fail_next("getMe", "server_error", times=2)
    bot = BotProcess(bot_env, tmp_path)
    bot.start()
    try:
        wait_for(lambda: fake_tg.failed_calls("getMe"), "the first getMe")
        record = read_heartbeat(heartbeat_path(load_settings(bot_env, env_file=tmp_path / "none")))
        assert record is not None and record.state == "starting" and record.pid == bot.pid
        assert not database_created(bot_env)  # Telegram first, the database after

        # `python -m bot health` is this function; called here, it answers within the window.
        assert health_command(load_settings(bot_env)) == 1
        said = capsys.readouterr().out
        assert said.startswith("starting: waiting for Telegram's first answer (")

        bot.wait_ready(fake_tg)
        assert len(fake_tg.failed_calls("getMe")) == 2
        assert bot.log_count("Telegram not reachable at start") == 2
        healthy = wait_for(
            lambda: (r := run_cli(["health"], bot_env)).returncode == 0 and r, "health ok"
        )
        assert healthy.stdout.strip() == "ok"
        assert database_created(bot_env)
    finally:
        bot.stop()
        _assert_no_secrets([bot])


@pytest.mark.sqlite_only
def test_a_second_process_on_the_same_sqlite_file_refuses_to_start(
    bot_factory: Callable[..., Any], bot_env: dict[str, str], fake_tg: FakeTelegram
) -> None:
    """Two processes would both long-poll (Telegram answers the older 409) and both send:
    the second stops at once, in one line naming the file and the way to run several."""
    first = bot_factory()
    result = run_cli([], bot_env, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "another postino is already running on DATABASE_PATH=" in last
    assert "DATABASE_URL" in last
    assert first.alive
    assert fake_tg.conflict_count == 0
