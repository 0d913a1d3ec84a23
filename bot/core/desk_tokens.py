"""The web desk's secrets: login-link tokens and session ids, and the hash stored of them.

A token is 32 random bytes (URL-safe base64); the database keeps only its SHA-256, so a copy
of the database opens no desk. Pure, standard library only.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

LINK_VALID_FOR = timedelta(minutes=10)
SESSION_IDLE_LIMIT = timedelta(hours=12)
LOGIN_PATH = "/desk/login/"
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


def base_url_of(configured: str, webhook_url: str, listen: tuple[str, int] | None) -> str:
    """Where people reach the bot's web server: PUBLIC_BASE_URL when set, else the origin of
    TELEGRAM_WEBHOOK_URL, else http://WEBHOOK_LISTEN (a LAN) unless its host is a wildcard
    (0.0.0.0, ::), which says nothing of it: "" (unknown). Never with a trailing "/"."""
    if configured:
        return configured.rstrip("/")
    if webhook_url:
        parts = urlsplit(webhook_url)
        return f"{parts.scheme}://{parts.netloc}"
    if listen is None or listen[0] in _WILDCARD_HOSTS:
        return ""
    host, port = listen
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def login_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}{LOGIN_PATH}{token}"


def desk_url(public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/desk/"
