"""Helpers of the web desk's tests: asking the bot for a login link (/desk), opening it,
and signing Telegram Mini App initData with the documented algorithm (written here on its
own, not taken from the bot)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fakes.telegram import FakeTelegram

COOKIE = "postino_desk"


def ask(fake_tg: FakeTelegram, chat: int, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send a text in `chat` and return the bot's next message there."""
    kwargs.setdefault("language_code", "en")
    before = len(fake_tg.messages(chat))
    fake_tg.send_text(chat, text, **kwargs)
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def login_link_in(message: dict[str, Any]) -> str:
    """The login link of a /desk answer: its url button, or the link in its text."""
    for button in buttons(message):
        if "/desk/login/" in str(button.get("url", "")):
            return str(button["url"])
    text = str(message["text"])
    start = text.index("http")
    return text[start:].split()[0]


def desk_link(fake_tg: FakeTelegram, chat: int, **kwargs: Any) -> str:
    return login_link_in(ask(fake_tg, chat, "/desk", **kwargs))


def on(base: str, link: str) -> str:
    """The same link's path on the server at `base` (another replica, the local port)."""
    return base + urlsplit(link).path


def open_link(base: str, link: str) -> httpx.Response:
    return httpx.get(on(base, link), follow_redirects=False, timeout=10)


def session(base: str, link: str) -> httpx.Client:
    """A client holding the session the link opens."""
    opened = open_link(base, link)
    assert opened.status_code == 303, (opened.status_code, opened.text)
    cookie = opened.cookies.get(COOKIE)
    assert cookie
    return httpx.Client(base_url=base, cookies={COOKIE: cookie}, timeout=30)


def rows(client: httpx.Client, chat: int) -> list[dict[str, Any]]:
    answer = client.get(f"/desk/api/chats/{chat}/shipments")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["rows"])


def row_of(client: httpx.Client, chat: int, code: str) -> dict[str, Any]:
    [row] = [r for r in rows(client, chat) if r["code"] == code]
    return row


def init_data(bot_token: str, user_id: int, *, age: float = 0, **extra: str) -> str:
    """initData as Telegram signs it (core.telegram.org/bots/webapps, "Validating data
    received via the Mini App")."""
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {"id": user_id, "first_name": "Ada", "last_name": "L", "language_code": "en"},
            separators=(",", ":"),
        ),
        "auth_date": str(int(time.time() - age)),
        **extra,
    }
    data_check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, data_check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
