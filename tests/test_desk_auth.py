"""The web desk's pieces that need no bot: Telegram Mini App initData validation (checked
against a vector computed here with the documented algorithm), login links and sessions in
storage, PUBLIC_BASE_URL, the redaction of login links in logs, and the page's files
shipping with the package."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.resources
import json
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.config import ConfigError, load_settings
from bot.core.desk_tokens import base_url_of, new_token, token_hash
from bot.ops.housekeeping import prune_coordination
from bot.ops.logs import redact
from bot.storage import Storage
from bot.storage.desk import DeskGrant
from bot.texts.i18n import translator
from bot.web.auth import validate_init_data
from bot.web.pages import STATIC_DIR, static_file

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAH-test-token-for-the-vector-0123"
NOW = 1_790_000_000


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    """Telegram's algorithm, written out: secret = HMAC_SHA256("WebAppData", token); the
    hash = hex HMAC_SHA256(secret, sorted "key=value" lines)."""
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in {**fields, "hash": digest}.items())


USER = json.dumps({"id": 279058397, "first_name": "Vlad", "last_name": "L", "language_code": "it"})
FIELDS = {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "user": USER, "auth_date": str(NOW - 60)}


def test_genuine_init_data_gives_its_user() -> None:
    user = validate_init_data(signed(FIELDS), TOKEN, now=NOW)
    assert user is not None
    assert (user.id, user.name, user.language_code) == (279058397, "Vlad L", "it")


def test_a_fixed_vector() -> None:
    """The hash of one initData, computed once with the algorithm above."""
    data = signed({"auth_date": "1700000000", "user": '{"id":1,"first_name":"A"}'})
    assert data.endswith("hash=" + _expected_vector_hash())
    assert validate_init_data(data, TOKEN, now=1700000000 + 5) is not None


def _expected_vector_hash() -> str:
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    message = b'auth_date=1700000000\nuser={"id":1,"first_name":"A"}'
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "data",
    [
        signed(FIELDS, "999:another-bot-token-0123456789"),  # another bot's token
        signed(FIELDS).replace("Vlad", "Vlat"),  # changed after signing
        signed(FIELDS).rsplit("&hash=", 1)[0],  # no hash
        signed(FIELDS) + "&auth_date=1",  # a field twice
        signed({**FIELDS, "auth_date": str(NOW - 25 * 3600)}),  # signed, but 25 h old
        signed({**FIELDS, "auth_date": str(NOW + 3600)}),  # from the future
        signed({"query_id": "x", "auth_date": str(NOW)}),  # no user
        signed({**FIELDS, "user": '{"id": "1"}'}),  # a user id that is no number
        "",
        "x" * 10_000,
        "%%%",
    ],
)
def test_forged_stale_or_broken_init_data_is_refused(data: str) -> None:
    assert validate_init_data(data, TOKEN, now=NOW) is None


def test_links_are_single_use_expire_and_sessions_idle_out(tmp_path: Path) -> None:
    async def check() -> None:
        storage = await Storage.open(tmp_path / "desk.sqlite3")
        try:
            desk = storage.desk
            now = datetime.now(UTC)
            grant = DeskGrant(-5, 7, "Ada")
            token, old = new_token(), new_token()
            await desk.add_link(token_hash(token), grant, now + timedelta(minutes=10))
            await desk.add_link(token_hash(old), grant, now - timedelta(seconds=1))
            assert await desk.use_link(token_hash(old)) is None  # expired
            assert await desk.use_link(token_hash(token)) == grant
            assert await desk.use_link(token_hash(token)) is None  # used
            await desk.add_session("s1", grant, now - timedelta(hours=13))
            await desk.add_session("s2", grant, now)
            assert await desk.session("s1", now - timedelta(hours=12)) is None
            found = await desk.session("s2", now - timedelta(hours=12))
            assert found is not None and found.chat_id == -5
            await prune_coordination(storage, now=(now + timedelta(days=2)).timestamp())
            rows = await storage.database.fetchall("SELECT COUNT(*) FROM desk_links")
            assert rows[0][0] == 0
            rows = await storage.database.fetchall("SELECT COUNT(*) FROM desk_sessions")
            assert rows[0][0] == 0
        finally:
            await storage.close()

    asyncio.run(check())


BASE_ENV = {"TELEGRAM_BOT_TOKEN": "123:abcdefghij", "TRACKINGMORE_API_KEY": "abcdefghij"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ""),
        ({"WEBHOOK_LISTEN": "192.168.1.5:8080"}, "http://192.168.1.5:8080"),
        ({"WEBHOOK_LISTEN": "[::1]:8080"}, "http://[::1]:8080"),
        ({"WEBHOOK_LISTEN": "0.0.0.0:8080"}, ""),
        ({"WEBHOOK_LISTEN": "[::]:8080"}, ""),
        ({"WEBHOOK_LISTEN": ":8080"}, ""),
        (
            {"WEBHOOK_LISTEN": "0.0.0.0:8080", "TELEGRAM_WEBHOOK_URL": "https://p.example/hook"},
            "https://p.example",
        ),
        (
            {"WEBHOOK_LISTEN": "0.0.0.0:8080", "PUBLIC_BASE_URL": "https://desk.example/"},
            "https://desk.example",
        ),
    ],
)
def test_public_base_url_and_its_default(env: dict[str, str], expected: str) -> None:
    settings = load_settings({**BASE_ENV, **env})
    found = base_url_of(
        settings.public_base_url, settings.telegram_webhook_url, settings.webhook_listen
    )
    assert found == expected


@pytest.mark.parametrize(
    "value", ["ftp://x.example", "desk.example", "https://x.example/?a=1", "https://x/#f"]
)
def test_a_wrong_public_base_url_stops_start_up_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^PUBLIC_BASE_URL must be an http") as caught:
        load_settings({**BASE_ENV, "PUBLIC_BASE_URL": value})
    assert "\n" not in str(caught.value)


def test_login_links_are_redacted_in_logs() -> None:
    token = new_token()
    line = f"sendMessage url='http://lan:8080/desk/login/{token}'"
    assert token not in redact(line) and "/desk/login/[REDACTED]" in redact(line)


def test_the_session_texts_are_every_desk_key() -> None:
    for language in ("it", "en"):
        texts = translator(language).templates("desk.")
        assert all(key.startswith("desk.") for key in texts)
        assert not any(key.startswith("webdesk.") for key in texts)


def test_the_page_ships_inside_the_package() -> None:
    packaged = importlib.resources.files("bot.web") / "static"
    assert Path(str(packaged)) == STATIC_DIR
    assert static_file("index.html") is not None
    assert static_file("../api.py") is None and static_file("api.py") is None
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert build["targets"]["wheel"]["packages"] == ["bot"]  # all of bot/, static files too
    assert "only-include" not in build["targets"]["wheel"]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(STATIC_DIR / "index.html")], cwd=ROOT, check=False
    )
    assert ignored.returncode == 1  # hatch leaves out what git ignores: not these
