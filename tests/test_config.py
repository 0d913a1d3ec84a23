"""Configuration: defaults, and one clear line naming the variable when a value is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import run_cli

from bot.config import ConfigError, load_settings

BASE = {"TELEGRAM_BOT_TOKEN": "123456:ABCdef-ghijk_LMNOP", "TRACKINGMORE_API_KEY": "tm-key-123456"}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_file_base_url == "https://api.telegram.org/file/bot"
    assert settings.trackingmore_api_base_url == "https://api.trackingmore.com/v4"
    assert settings.database_path == Path("data/postino.sqlite3")
    assert settings.poll_interval_seconds == 1800
    assert settings.default_language == "it"
    assert settings.log_level == "INFO"
    assert settings.max_codes_per_import == 500
    assert settings.access_is_open


def test_lists_and_numbers_parse() -> None:
    settings = load_settings(
        {
            **BASE,
            "ALLOWED_USER_IDS": " 1, 2 ,,3",
            "ADMIN_USER_IDS": "-100123",
            "POLL_INTERVAL_SECONDS": "1",
            "DEFAULT_LANGUAGE": "EN",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.allowed_user_ids == {1, 2, 3}
    assert settings.admin_user_ids == {-100123}
    assert settings.poll_interval_seconds == 1
    assert (settings.default_language, settings.log_level) == ("en", "DEBUG")
    assert not settings.access_is_open


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TRACKINGMORE_API_KEY": ""}, "TRACKINGMORE_API_KEY"),
        ({"TRACKINGMORE_API_KEY": "has space"}, "TRACKINGMORE_API_KEY"),
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
        ({"TRACKINGMORE_API_BASE_URL": "nope"}, "TRACKINGMORE_API_BASE_URL"),
        ({"POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS"),
        ({"POLL_INTERVAL_SECONDS": "soon"}, "POLL_INTERVAL_SECONDS"),
        ({"DEFAULT_LANGUAGE": "de"}, "DEFAULT_LANGUAGE"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"ALLOWED_USER_IDS": "1,bob"}, "ALLOWED_USER_IDS"),
        ({"ADMIN_USER_IDS": "x"}, "ADMIN_USER_IDS"),
        ({"MAX_CODES_PER_MESSAGE": "0"}, "MAX_CODES_PER_MESSAGE"),
        ({"MAX_CODES_PER_IMPORT": "0"}, "MAX_CODES_PER_IMPORT"),
        ({"MAX_CODES_PER_IMPORT": "many"}, "MAX_CODES_PER_IMPORT"),
        ({"MAX_CODES_PER_IMPORT": "10001"}, "MAX_CODES_PER_IMPORT"),
        ({"DATABASE_PATH": ""}, "DATABASE_PATH"),
    ],
)
def test_wrong_values_name_the_variable(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE, **overrides})
    message = str(raised.value)
    assert variable in message and "\n" not in message


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text(
        "TELEGRAM_BOT_TOKEN=123456:FROMFILE-secret-xyz\nTRACKINGMORE_API_KEY=file-key-123\n"
        "DEFAULT_LANGUAGE=en\n"
    )
    for name in ("TELEGRAM_BOT_TOKEN", "TRACKINGMORE_API_KEY", "DEFAULT_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEFAULT_LANGUAGE", "it")
    settings = load_settings(env_file=env_file)
    assert settings.telegram_bot_token == "123456:FROMFILE-secret-xyz"
    assert settings.default_language == "it"


def test_start_up_stops_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        [], {**BASE, "POLL_INTERVAL_SECONDS": "-5", "DATABASE_PATH": str(tmp_path / "x.db")}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "POLL_INTERVAL_SECONDS" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_token_stops_with_one_line(tmp_path: Path) -> None:
    result = run_cli([], {"TRACKINGMORE_API_KEY": "tm-key-123456"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "postino: configuration error: TELEGRAM_BOT_TOKEN is required but not set "
        "(put it in the environment or .env)"
    ]


def test_unusable_database_stops_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli([], {**BASE, "DATABASE_PATH": str(blocker / "postino.sqlite3")})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot open the database" in result.stderr.strip().splitlines()[-1]
