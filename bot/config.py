"""Configuration from the environment (and `.env`), validated once at start-up.

Every variable is documented in the README with its default. A wrong value raises
`ConfigError` whose message is one line naming the variable; `__main__` prints it and exits.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

SUPPORTED_LANGUAGES = ("it", "en")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{8,100}$")
_LISTEN_RE = re.compile(r"^(?P<host>[^:\s]*|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
DEFAULT_POLL_SECONDS = 1800
PUSH_SAFETY_NET_POLL_SECONDS = 6 * 3600
TELEGRAM_WEBHOOK_PREFIX = "/telegram/"
# Who may read /metrics and /healthz by default: loopback and the private ranges.
DEFAULT_METRICS_ALLOW = "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message is one line."""


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str
    trackingmore_api_key: str
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    trackingmore_api_base_url: str = "https://api.trackingmore.com/v4"
    database_path: Path = Path("data/postino.sqlite3")
    database_url: str = ""
    replica_name: str = ""
    poll_interval_seconds: float = 1800.0
    default_language: str = "it"
    log_level: str = "INFO"
    carrier_timeout_seconds: float = 10.0
    allowed_user_ids: frozenset[int] = field(default_factory=frozenset)
    allowed_chat_ids: frozenset[int] = field(default_factory=frozenset)
    admin_user_ids: frozenset[int] = field(default_factory=frozenset)
    max_codes_per_message: int = 50
    max_codes_per_import: int = 500
    max_shipments_per_chat: int = 500
    outbox_max_attempts: int = 8
    carrier_down_alert_cycles: int = 3
    stale_days: int = 7
    archive_after_days: int = 3
    webhook_listen: tuple[str, int] | None = None
    trackingmore_webhook_secret: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    public_base_url: str = ""  # as set; bot.core.desk_tokens.base_url_of gives the default
    health_max_age_seconds: float = 0.0
    metrics_allow: tuple[Network, ...] = field(
        default_factory=lambda: _networks(DEFAULT_METRICS_ALLOW, "METRICS_ALLOW")
    )
    backup_dir: Path | None = None
    backup_every_hours: float = 24.0
    backup_keep: int = 7

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line."""
        candidates = (
            self.telegram_bot_token,
            self.telegram_bot_token.partition(":")[2],
            self.trackingmore_api_key,
            self.trackingmore_webhook_secret,
            self.telegram_webhook_secret,
            self.telegram_webhook_secret_token,
            self.telegram_webhook_path.removeprefix(TELEGRAM_WEBHOOK_PREFIX),
            database_password(self.database_url),
        )
        return tuple(s for s in candidates if len(s) >= 6)

    @property
    def database(self) -> Path | str:
        """Where the data lives: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def on_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def trackingmore_pushes_on(self) -> bool:
        return self.webhook_listen is not None and bool(self.trackingmore_webhook_secret)

    @property
    def telegram_webhook_secret_token(self) -> str:
        """What Telegram sends in X-Telegram-Bot-Api-Secret-Token (derived from the token
        unless TELEGRAM_WEBHOOK_SECRET is set)."""
        return self.telegram_webhook_secret or _derive("secret-token", self.telegram_bot_token)

    @property
    def telegram_webhook_path(self) -> str:
        """The unguessable path Telegram posts updates to; never the token itself."""
        return TELEGRAM_WEBHOOK_PREFIX + _derive("path", self.telegram_webhook_secret_token)

    @property
    def access_is_open(self) -> bool:
        return not self.allowed_user_ids and not self.allowed_chat_ids

    @property
    def effective_health_max_age(self) -> float:
        """How old the last poll cycle may be before /healthz reports unhealthy."""
        if self.health_max_age_seconds > 0:
            return self.health_max_age_seconds
        return max(3 * self.poll_interval_seconds, 300.0)

    @property
    def backup_every_seconds(self) -> float:
        return self.backup_every_hours * 3600


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Settings:
    """Read settings from `environ` (default: os.environ) over the values of `.env`.

    Real environment variables win over the file, as docker compose and systemd expect.
    """
    values: dict[str, str] = {}
    file = env_file if env_file is not None else Path(".env")
    if environ is None and file.is_file():
        values.update({k: v for k, v in dotenv_values(file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return _parse(values)


def _parse(env: Mapping[str, str]) -> Settings:
    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    token = _required(get("TELEGRAM_BOT_TOKEN"), "TELEGRAM_BOT_TOKEN")
    if not _TOKEN_RE.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (expected <digits>:<secret>)"
        )
    api_key = _required(get("TRACKINGMORE_API_KEY"), "TRACKINGMORE_API_KEY")
    if len(api_key) < 8 or any(c.isspace() for c in api_key):
        raise ConfigError("TRACKINGMORE_API_KEY is too short or contains spaces")

    telegram_base = _url(
        get("TELEGRAM_API_BASE_URL", Settings.telegram_api_base_url), "TELEGRAM_API_BASE_URL"
    )
    default_file_base = _derive_file_base(telegram_base)
    file_base = _url(get("TELEGRAM_FILE_BASE_URL", default_file_base), "TELEGRAM_FILE_BASE_URL")
    if get("TELEGRAM_WEBHOOK_URL") and not get("WEBHOOK_LISTEN"):
        raise ConfigError(
            "TELEGRAM_WEBHOOK_URL needs WEBHOOK_LISTEN (the host:port the bot listens on, "
            "e.g. 0.0.0.0:8080)"
        )

    return Settings(
        telegram_bot_token=token,
        trackingmore_api_key=api_key,
        telegram_api_base_url=telegram_base,
        telegram_file_base_url=file_base,
        trackingmore_api_base_url=_url(
            get("TRACKINGMORE_API_BASE_URL", Settings.trackingmore_api_base_url),
            "TRACKINGMORE_API_BASE_URL",
        ).rstrip("/"),
        database_path=_path(get("DATABASE_PATH", str(Settings.database_path)), "DATABASE_PATH"),
        database_url=_database_url(get("DATABASE_URL"), "DATABASE_URL"),
        replica_name=_replica_name(get("REPLICA_NAME") or socket.gethostname(), "REPLICA_NAME"),
        poll_interval_seconds=_number(
            get("POLL_INTERVAL_SECONDS", _default_poll_interval(get)),
            "POLL_INTERVAL_SECONDS",
            float,
            1,
            7 * 86400,
        ),
        default_language=_choice(
            get("DEFAULT_LANGUAGE", "it").lower(), "DEFAULT_LANGUAGE", SUPPORTED_LANGUAGES
        ),
        log_level=_choice(get("LOG_LEVEL", "INFO").upper(), "LOG_LEVEL", LOG_LEVELS),
        carrier_timeout_seconds=_number(
            get("CARRIER_TIMEOUT_SECONDS", "10"), "CARRIER_TIMEOUT_SECONDS", float, 0.5, 120
        ),
        allowed_user_ids=_id_list(get("ALLOWED_USER_IDS"), "ALLOWED_USER_IDS"),
        allowed_chat_ids=_id_list(get("ALLOWED_CHAT_IDS"), "ALLOWED_CHAT_IDS"),
        admin_user_ids=_id_list(get("ADMIN_USER_IDS"), "ADMIN_USER_IDS"),
        max_codes_per_message=_number(
            get("MAX_CODES_PER_MESSAGE", "50"), "MAX_CODES_PER_MESSAGE", int, 1, 1000
        ),
        max_codes_per_import=_number(
            get("MAX_CODES_PER_IMPORT", "500"), "MAX_CODES_PER_IMPORT", int, 1, 10_000
        ),
        max_shipments_per_chat=_number(
            get("MAX_SHIPMENTS_PER_CHAT", "500"), "MAX_SHIPMENTS_PER_CHAT", int, 1, 100_000
        ),
        outbox_max_attempts=_number(
            get("OUTBOX_MAX_ATTEMPTS", "8"), "OUTBOX_MAX_ATTEMPTS", int, 1, 100
        ),
        carrier_down_alert_cycles=_number(
            get("CARRIER_DOWN_ALERT_CYCLES", "3"), "CARRIER_DOWN_ALERT_CYCLES", int, 1, 1000
        ),
        stale_days=_number(get("STALE_DAYS", "7"), "STALE_DAYS", int, 1, 365),
        archive_after_days=_number(
            get("ARCHIVE_AFTER_DAYS", "3"), "ARCHIVE_AFTER_DAYS", int, 0, 365
        ),
        webhook_listen=_listen(get("WEBHOOK_LISTEN"), "WEBHOOK_LISTEN"),
        trackingmore_webhook_secret=get("TRACKINGMORE_WEBHOOK_SECRET"),
        telegram_webhook_url=_optional_url(
            get("TELEGRAM_WEBHOOK_URL"), "TELEGRAM_WEBHOOK_URL"
        ).rstrip("/"),
        telegram_webhook_secret=_webhook_secret(get("TELEGRAM_WEBHOOK_SECRET")),
        public_base_url=_optional_url(get("PUBLIC_BASE_URL"), "PUBLIC_BASE_URL").rstrip("/"),
        health_max_age_seconds=_number(
            get("HEALTH_MAX_AGE_SECONDS", "0"), "HEALTH_MAX_AGE_SECONDS", float, 0, 30 * 86400
        ),
        metrics_allow=_networks(get("METRICS_ALLOW", DEFAULT_METRICS_ALLOW), "METRICS_ALLOW"),
        backup_dir=_backup_dir(get("BACKUP_DIR"), "BACKUP_DIR"),
        # Fractions work (0.001 is 3.6 s, for tests); at most a month.
        backup_every_hours=_number(
            get("BACKUP_EVERY_HOURS", "24"), "BACKUP_EVERY_HOURS", float, 0.0001, 24 * 31
        ),
        backup_keep=_number(get("BACKUP_KEEP", "7"), "BACKUP_KEEP", int, 1, 10_000),
    )


def _derive(purpose: str, key: str) -> str:
    """A value that reveals nothing of `key` (HMAC-SHA256, hex, 40 characters)."""
    return hmac.new(key.encode(), f"postino:{purpose}".encode(), hashlib.sha256).hexdigest()[:40]


def _default_poll_interval(get: Callable[[str], str]) -> str:
    """Every 30 minutes; every 6 hours (a safety net) when TrackingMore pushes changes."""
    pushes_on = bool(get("WEBHOOK_LISTEN") and get("TRACKINGMORE_WEBHOOK_SECRET"))
    return str(PUSH_SAFETY_NET_POLL_SECONDS if pushes_on else DEFAULT_POLL_SECONDS)


def _required(value: str, name: str) -> str:
    if not value:
        raise ConfigError(f"{name} is required but not set (put it in the environment or .env)")
    return value


def _url(value: str, name: str) -> str:
    if not re.match(r"^https?://[^\s/?#]+[^?#]*$", value):  # no query, no fragment
        raise ConfigError(f"{name} must be an http(s) URL (no ? or #), got {value!r}")
    return value


def _database_url(value: str, name: str) -> str:
    """Empty (SQLite) or `postgresql://user:password@host[:port]/database[?sslmode=…]`.
    The message never repeats the value: it may hold the password."""
    if not value:
        return ""
    expected = f"{name} must look like postgresql://user:password@host:5432/database"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{expected} (the port is not a number)") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"{expected} (it must start with postgresql:// or postgres://)")
    if not parts.hostname:
        raise ConfigError(f"{expected} (no host)")
    if not parts.path.strip("/") or "/" in parts.path.strip("/"):
        raise ConfigError(f"{expected} (no database name)")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{expected} (the port is out of range)")
    return value


def validate_database_url(value: str, name: str = "DATABASE_URL") -> str:
    """A PostgreSQL URL from elsewhere than the environment (`copy-database URL`), checked as
    DATABASE_URL is, except that empty is refused. Raises `ConfigError` naming `name`; the
    message never repeats the value."""
    if not value.strip():
        raise ConfigError(f"{name} is empty: give postgresql://user:password@host:5432/database")
    return _database_url(value.strip(), name)


def database_password(url: str) -> str:
    """The password in a database URL ('' when none): a secret to keep out of logs."""
    try:
        return unquote(urlsplit(url).password or "") if url else ""
    except ValueError:
        return ""


def _replica_name(value: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value):
        raise ConfigError(f"{name} must be 1-63 letters, digits, '.', '_' or '-', got {value!r}")
    return value


def _optional_url(value: str, name: str) -> str:
    return _url(value, name) if value else ""


def _derive_file_base(telegram_base: str) -> str:
    """The Bot API serves files under /file/bot<token>/ next to /bot<token>/."""
    if telegram_base.endswith("/bot"):
        return telegram_base[: -len("/bot")] + "/file/bot"
    return telegram_base.rstrip("/") + "/file/bot"


def _path(value: str, name: str) -> Path:
    if not value:
        raise ConfigError(f"{name} must not be empty")
    path = Path(value).expanduser()
    if path.exists() and path.is_dir():
        raise ConfigError(f"{name} points to a directory, expected a file path: {value}")
    return path


def _number(value: str, name: str, kind: Callable[[str], T], low: float, high: float) -> T:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not low <= number <= high:  # type: ignore[operator]
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return number


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _id_list(value: str, name: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in value.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"{name} must be a comma-separated list of numeric ids, got {part!r}"
            ) from None
    return frozenset(ids)


def _listen(value: str, name: str) -> tuple[str, int] | None:
    if not value:
        return None
    match = _LISTEN_RE.match(value)
    port = int(match["port"]) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(f"{name} must be host:port (e.g. 0.0.0.0:8080), got {value!r}")
    return (match["host"].strip("[]") or "0.0.0.0", port)  # noqa: S104 - the user chose it


def _networks(value: str, name: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDRs (`10.0.0.0/8`, `::1`); empty: nobody."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name} must be comma-separated addresses or CIDRs (e.g. 10.0.0.0/8), got {part!r}"
            ) from None
    return tuple(networks)


def _backup_dir(value: str, name: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name} must be a folder, but {value} is a file")
    return path


def _webhook_secret(value: str) -> str:
    if value and not re.match(r"^[A-Za-z0-9_-]{1,256}$", value):
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET may contain only A-Z, a-z, 0-9, _ and - (1-256 characters)"
        )
    return value
