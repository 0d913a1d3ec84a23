"""The effective configuration as `NAME=value` lines, secrets masked.

Every `Settings` field is shown under its environment variable (the field name in upper
case), so a new setting appears here without further work. Tokens, keys and secrets show
only their last characters (the token its public bot id), enough to tell which one is used.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from bot.config import Settings

_SECRET_SUFFIXES = ("_token", "_key", "_secret")
_VISIBLE_SECRET_TAIL = 4
_MIN_LENGTH_TO_SHOW_TAIL = 16


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


def configuration(settings: Settings) -> list[tuple[str, str]]:
    return [
        (field.name.upper(), _shown(field.name, getattr(settings, field.name), settings))
        for field in fields(settings)
    ]


def configuration_lines(settings: Settings) -> list[str]:
    return [f"{name}={value}" for name, value in configuration(settings)]


def _shown(name: str, value: object, settings: Settings) -> str:
    if name == "telegram_bot_token":
        return mask_bot_token(str(value))
    if name.endswith(_SECRET_SUFFIXES):
        return mask(str(value))
    if name == "health_max_age_seconds":
        return f"{settings.effective_health_max_age:g}" + ("" if value else " (derived)")
    return _plain(value)


def _plain(value: object) -> str:
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, frozenset | set):
        return ",".join(str(v) for v in sorted(value)) or "(none)"
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}:{value[1]}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    return str(value)
