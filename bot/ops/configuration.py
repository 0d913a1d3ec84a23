"""The effective configuration as `NAME=value` lines, secrets masked.

Every `Settings` field is shown under its environment variable (the field name in upper
case), so a new setting appears here without further work. Tokens, keys and secrets show
only their last characters (the token its public bot id), enough to tell which one is used.
The start-up log shows them a group a line (`configuration_groups`); a setting no group
names is shown under "behaviour".
"""

from __future__ import annotations

from dataclasses import fields
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.config import Settings

_SECRET_SUFFIXES = ("_token", "_key", "_secret")
_VISIBLE_SECRET_TAIL = 4
_MIN_LENGTH_TO_SHOW_TAIL = 16
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("telegram", ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_FILE_BASE_URL")),
    (
        "trackingmore",
        (
            "TRACKINGMORE_API_KEY",
            "TRACKINGMORE_API_BASE_URL",
            "CARRIER_TIMEOUT_SECONDS",
            "POLL_INTERVAL_SECONDS",
            "CARRIER_DOWN_ALERT_CYCLES",
        ),
    ),
    ("access", ("ALLOWED_USER_IDS", "ALLOWED_CHAT_IDS", "ADMIN_USER_IDS")),
    (
        "data",
        (
            "DATABASE_URL",
            "DATABASE_PATH",
            "REPLICA_NAME",
            "BACKUP_DIR",
            "BACKUP_EVERY_HOURS",
            "BACKUP_KEEP",
        ),
    ),
    (
        "web",
        (
            "WEBHOOK_LISTEN",
            "TRACKINGMORE_WEBHOOK_SECRET",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_WEBHOOK_SECRET",
            "PUBLIC_BASE_URL",
            "HEALTH_MAX_AGE_SECONDS",
            "METRICS_ALLOW",
        ),
    ),
)


def mask(secret: str) -> str:
    if not secret:
        return "(not set)"
    if len(secret) < _MIN_LENGTH_TO_SHOW_TAIL:
        return "****"
    return "****" + secret[-_VISIBLE_SECRET_TAIL:]


def mask_bot_token(token: str) -> str:
    """`<bot id>:****`: the id is public (it is the bot's user id), the rest is the secret."""
    bot_id, _, _ = token.partition(":")
    return f"{bot_id}:****"


def mask_database_url(url: str) -> str:
    """The URL with its password as `****`: host, port, user and database stay readable."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:****@{host}"))


def configuration(settings: Settings) -> list[tuple[str, str]]:
    return [
        (field.name.upper(), _shown(field.name, getattr(settings, field.name), settings))
        for field in fields(settings)
    ]


def configuration_lines(settings: Settings) -> list[str]:
    return [f"{name}={value}" for name, value in configuration(settings)]


def configuration_groups(settings: Settings) -> list[tuple[str, list[str]]]:
    """`(group, ["NAME=value", …])` in the order of GROUPS, then "behaviour" (the rest)."""
    shown = dict(configuration(settings))
    grouped = []
    for group, names in GROUPS:
        grouped.append((group, [f"{name}={shown.pop(name)}" for name in names if name in shown]))
    grouped.append(("behaviour", [f"{name}={value}" for name, value in shown.items()]))
    return [(group, lines) for group, lines in grouped if lines]


def _shown(name: str, value: object, settings: Settings) -> str:
    if name == "telegram_bot_token":
        return mask_bot_token(str(value))
    if name == "database_url":
        return mask_database_url(str(value)) if value else "(not set: SQLite at DATABASE_PATH)"
    if name.endswith(_SECRET_SUFFIXES):
        return mask(str(value))
    if name == "health_max_age_seconds":
        return f"{settings.effective_health_max_age:g}" + ("" if value else " (derived)")
    return _plain(value)


def _plain(value: object) -> str:
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, tuple) and all(isinstance(v, IPv4Network | IPv6Network) for v in value):
        return ",".join(str(network) for network in value) or "(nobody)"
    if isinstance(value, frozenset | set):
        return ",".join(str(v) for v in sorted(value)) or "(none)"
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}:{value[1]}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    return str(value)
