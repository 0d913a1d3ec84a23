"""Fixtures: the two fake servers, the bot's environment and a factory of bot processes."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from examples import FULL_RUN_VARIABLE
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import BotProcess, RunningBot
from postgres import PostgresServer, require_postgres

BotFactory = Callable[..., BotProcess]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        help="the full run: also the tests marked `full` (long ones, real servers, browsers)",
    )
    parser.addoption(
        "--engine",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database the bot under test uses (postgresql: a fresh database per test)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _skip_sqlite_only(config, items)
    if config.getoption("--full"):
        return
    skip = pytest.mark.skip(reason="full run only: pytest --full")
    for item in items:
        if "full" in item.keywords:
            item.add_marker(skip)


def _skip_sqlite_only(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--engine") != "postgresql":
        return
    skip = pytest.mark.skip(reason="reads or breaks the SQLite file itself")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    # Read by tests/examples.py as the test modules are imported (in every xdist worker).
    os.environ[FULL_RUN_VARIABLE] = "1" if config.getoption("--full") else "0"
    config.addinivalue_line(
        "markers", "full: part of the full run only (`pytest --full`), not the everyday one"
    )
    config.addinivalue_line(
        "markers", "e2e: end-to-end test running the real bot against the fake servers"
    )
    config.addinivalue_line(
        "markers",
        "in_process: bot_factory runs the bot inside the test process (no process needed)",
    )
    config.addinivalue_line(
        "markers",
        "sqlite_only: reads or breaks the SQLite file itself (skipped on --engine postgresql)",
    )


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def fake_tm() -> Iterator[FakeTrackingMore]:
    with FakeTrackingMore() as fake:
        yield fake


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server, one per pytest-xdist worker (each is its own session).

    Skipped with the reason where the binaries are missing; in CI (``CI=true``) that fails.
    """
    require_postgres()
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database of its own for this test, dropped (``FORCE``) afterwards."""
    prefix = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:40].strip("_")
    name = f"t_{prefix}_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


ENGINES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.full))


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's storage lives, once per engine: a SQLite file (the everyday run) and a
    fresh PostgreSQL database (the full run)."""
    if request.param == "sqlite":
        return tmp_path / "db" / "postino.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def bot_env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
) -> dict[str, str]:
    """The bot's whole configuration; tests may edit it before starting the bot. With
    `--engine postgresql` the bot keeps its data in a fresh PostgreSQL database."""
    env = {
        "TELEGRAM_BOT_TOKEN": fake_tg.token,
        "TRACKINGMORE_API_KEY": fake_tm.api_key,
        "TELEGRAM_API_BASE_URL": fake_tg.base_url,
        "TRACKINGMORE_API_BASE_URL": fake_tm.base_url,
        "DATABASE_PATH": str(tmp_path / "data" / "postino.sqlite3"),
        "POLL_INTERVAL_SECONDS": "1",
        "DEFAULT_LANGUAGE": "it",
        "LOG_LEVEL": "DEBUG",
    }
    if request.config.getoption("--engine") == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return env


@pytest.fixture
def bot_factory(
    request: pytest.FixtureRequest,
    bot_env: dict[str, str],
    tmp_path: Path,
    fake_tg: FakeTelegram,
) -> Iterator[BotFactory]:
    """``start(**env_overrides)`` starts a bot (``python -m bot``) and waits until it polls.

    Tests marked ``in_process`` get the same bot run inside the test process instead
    (:class:`inprocess.InProcessBot`, same interface).
    At teardown every bot is stopped and no log may contain the token or the API key.
    """
    if request.node.get_closest_marker("in_process") is None:
        yield from _bots(BotProcess, bot_env, tmp_path, fake_tg)
        return
    from inprocess import InProcessBot

    yield from _bots(InProcessBot, bot_env, tmp_path, fake_tg)


def _bots(
    kind: Callable[[dict[str, str], Path, str], RunningBot],
    bot_env: dict[str, str],
    tmp_path: Path,
    fake_tg: FakeTelegram,
) -> Iterator[BotFactory]:
    started: list[Any] = []

    def start(**overrides: str) -> Any:
        name = "bot" if not started else f"bot-{len(started) + 1}"
        bot = kind({**bot_env, **overrides}, tmp_path, name)
        started.append(bot)
        bot.start()
        bot.wait_ready(fake_tg)
        return bot

    yield start
    stop_errors = [error for bot in started if (error := _stop(bot))]
    _assert_no_secrets(started)
    assert not stop_errors, "\n".join(stop_errors)


def _stop(process: Any) -> str | None:
    if not process.alive:
        return None
    try:
        process.stop()
    except AssertionError as error:
        return str(error)
    return None


def _secrets(process: RunningBot) -> set[str]:
    token = process.env.get("TELEGRAM_BOT_TOKEN", "")
    candidates = {token, token.partition(":")[2], process.env.get("TRACKINGMORE_API_KEY", "")}
    return {secret for secret in candidates if len(secret) >= 8}


def _assert_no_secrets(processes: list[Any]) -> None:
    leaks = [
        f"{process.log_path}:{number}: {line}"
        for process in processes
        for number, line in enumerate(process.log_text().splitlines(), start=1)
        if any(secret in line for secret in _secrets(process))
    ]
    assert not leaks, "secrets leaked into the bot's log:\n" + "\n".join(leaks[:20])
