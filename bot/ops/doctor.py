"""`python -m bot doctor`: is everything in place for the bot to run?

Checks the Telegram token (getMe), the TrackingMore key (one read of a tracking), the
database (writable, schema version; on PostgreSQL also the server's version and the replicas
running, each with its role: read on one connection, never migrated), the automatic backups
(the last one and its age; on PostgreSQL pg_dump's job) and the webhook settings, then
prints the effective
configuration with secrets masked. Exit code 0 only when no check failed; warnings (things
that work but look unintended) do not fail. What the checks would log is left out (below
ERROR): each outcome is a line of the report, which is the last thing printed.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from telegram import Bot, WebhookInfo
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest

from bot.carrier import (
    CarrierAuthError,
    CarrierError,
    CarrierInvalidInput,
    CarrierNotFound,
    CarrierQuotaError,
    CarrierRateLimited,
    CarrierUnavailable,
    TrackingMoreClient,
)
from bot.config import Settings
from bot.ops.configuration import configuration_lines, mask_database_url
from bot.ops.logs import redact
from bot.ops.telegram_webhook import masked_webhook_url
from bot.storage import SCHEMA_VERSION
from bot.storage.backups import newest_backup
from bot.storage.coordination import Replica
from bot.storage.maintenance import DatabaseInspectionError, inspect_database, inspect_postgres

# A well-formed number nobody registers: reading it proves the key without using quota.
PROBE_COURIER = "poste-italiane"
PROBE_NUMBER = "RR000000000IT"
TELEGRAM_TIMEOUT_SECONDS = 15.0
OFFICIAL_BOT_API_HOST = "api.telegram.org"


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    level: Level
    topic: str
    detail: str


def doctor_command(settings: Settings) -> int:
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        findings = asyncio.run(run_checks(settings))
    finally:
        root.setLevel(level)
    print(report(findings, settings), flush=True)
    sys.stderr.flush()
    return 1 if any(f.level == Level.FAIL for f in findings) else 0


async def run_checks(settings: Settings) -> list[Finding]:
    telegram, webhook_info = await check_telegram(settings)
    database = (
        await check_postgres(settings)
        if settings.on_postgres
        else [check_database(settings.database_path)]
    )
    return [
        telegram,
        await check_trackingmore(settings),
        *database,
        check_backups(settings),
        *check_listen(settings),
        *check_telegram_delivery(settings, webhook_info),
    ]


def report(findings: list[Finding], settings: Settings) -> str:
    lines = ["postino doctor", ""]
    lines += [f"{f.level.value:<5} {f.topic:<13} {f.detail}" for f in findings]
    lines += ["", "effective configuration (secrets masked):"]
    lines += [f"  {line}" for line in configuration_lines(settings)]
    failures = sum(f.level == Level.FAIL for f in findings)
    lines.append("")
    lines.append(
        f"{failures} problem(s): the bot cannot work until they are fixed"
        if failures
        else "all is well"
    )
    return "\n".join(lines)


# --- Telegram --------------------------------------------------------------------------


async def check_telegram(settings: Settings) -> tuple[Finding, WebhookInfo | None]:
    request = HTTPXRequest(
        connect_timeout=TELEGRAM_TIMEOUT_SECONDS, read_timeout=TELEGRAM_TIMEOUT_SECONDS
    )
    bot = Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        request=request,
    )
    try:
        await bot.initialize()
        info = await bot.get_webhook_info()
    except InvalidToken:
        return _fail("Telegram", "TELEGRAM_BOT_TOKEN was refused (getMe: Unauthorized)"), None
    except TelegramError as exc:
        return _fail("Telegram", f"Bot API not reachable: {exc}"), None
    finally:
        await bot.shutdown()
    return Finding(Level.OK, "Telegram", f"token accepted: the bot is @{bot.username}"), info


def check_telegram_delivery(settings: Settings, info: WebhookInfo | None) -> list[Finding]:
    """How updates will reach the bot, and whether Telegram agrees."""
    if info is None:
        return []
    if not settings.telegram_webhook_url:
        if info.url:
            return [
                Finding(
                    Level.WARN,
                    "updates",
                    "Telegram has a webhook set; the bot removes it on start to use long polling",
                )
            ]
        return [Finding(Level.OK, "updates", "long polling (TELEGRAM_WEBHOOK_URL not set)")]
    findings = []
    url = settings.telegram_webhook_url
    if urlsplit(url).scheme != "https" and OFFICIAL_BOT_API_HOST in settings.telegram_api_base_url:
        findings.append(
            Finding(Level.WARN, "updates", "Telegram delivers webhooks to https:// URLs only")
        )
    expected = url + settings.telegram_webhook_path
    if info.url == expected:
        detail = f"webhook {masked_webhook_url(settings)} is set"
    elif info.url:
        detail = "Telegram has another webhook URL; the bot sets its own on start"
    else:
        detail = f"webhook {masked_webhook_url(settings)} is set when the bot starts"
    findings.append(Finding(Level.OK, "updates", detail))
    if info.last_error_message:
        findings.append(
            Finding(
                Level.WARN,
                "updates",
                f"Telegram's last delivery error: {info.last_error_message} "
                f"({info.pending_update_count} updates pending)",
            )
        )
    return findings


# --- TrackingMore ----------------------------------------------------------------------


async def check_trackingmore(settings: Settings) -> Finding:
    client = TrackingMoreClient(
        settings.trackingmore_api_base_url,
        settings.trackingmore_api_key,
        settings.carrier_timeout_seconds,
    )
    try:
        await client.get(PROBE_COURIER, [PROBE_NUMBER])
    except (CarrierInvalidInput, CarrierNotFound):
        pass  # the key was accepted; the probe number was not
    except CarrierAuthError as exc:
        return _fail("TrackingMore", f"TRACKINGMORE_API_KEY was refused ({exc})")
    except CarrierQuotaError as exc:
        return _fail("TrackingMore", f"the account's quota is exhausted ({exc})")
    except CarrierRateLimited:
        return Finding(Level.WARN, "TrackingMore", "key accepted, but rate limited just now")
    except CarrierUnavailable as exc:
        return _fail("TrackingMore", f"API not reachable: {exc}")
    except CarrierError as exc:
        return _fail("TrackingMore", f"unexpected answer: {exc}")
    finally:
        await client.aclose()
    return Finding(Level.OK, "TrackingMore", "API key accepted (one tracking read)")


# --- database --------------------------------------------------------------------------


def check_database(path: Path) -> Finding:
    if not path.exists():
        folder = _nearest_existing(path.parent)
        if os.access(folder, os.W_OK):
            return Finding(Level.OK, "database", f"{path} will be created on first start")
        return _fail("database", f"{path} cannot be created: {folder} is not writable")
    if not os.access(path.parent, os.W_OK):
        return _fail("database", f"{path.parent} is not writable (SQLite needs -wal/-shm files)")
    try:
        version, check = inspect_database(path)
    except DatabaseInspectionError as exc:
        return _fail("database", f"{path}: {exc}")
    if check != "ok":
        return _fail("database", f"{path} failed its integrity check: {check}")
    if version > SCHEMA_VERSION:
        return _fail(
            "database", f"{path} has schema v{version}, newer than this postino (v{SCHEMA_VERSION})"
        )
    state = "current" if version == SCHEMA_VERSION else f"migrated to v{SCHEMA_VERSION} on start"
    return Finding(Level.OK, "database", f"{path}: writable, schema v{version} ({state})")


async def check_postgres(settings: Settings) -> list[Finding]:
    """The server, the schema and the replicas running; a refused login or an unreachable
    server is one failing line. Nothing is created or migrated."""
    where = f"PostgreSQL at {mask_database_url(settings.database_url)}"
    try:
        found = await inspect_postgres(settings.database_url)
    except DatabaseInspectionError as exc:
        return [_fail("database", redact(f"{where}: {exc}", settings.secrets))]
    where = f"PostgreSQL {found.server_version} at {mask_database_url(settings.database_url)}"
    version = found.schema_version
    if version > SCHEMA_VERSION:
        return [
            _fail(
                "database",
                f"{where}: schema v{version}, newer than this postino (v{SCHEMA_VERSION})",
            )
        ]
    if found.read_only:
        return [_fail("database", f"{where}: the server is read-only (a standby server?)")]
    if version < SCHEMA_VERSION and not found.may_create:
        return [
            _fail(
                "database",
                f"{where}: schema v{version}, and the user may not create tables "
                f"to migrate it to v{SCHEMA_VERSION}",
            )
        ]
    if version == SCHEMA_VERSION:
        state = "current"
    else:
        state = f"migrated to v{SCHEMA_VERSION} on start" if version else "created on first start"
    database = Finding(Level.OK, "database", f"{where}: schema v{version} ({state})")
    return [database, Finding(Level.OK, "replicas", _replicas_text(found.replicas))]


def _replicas_text(replicas: list[Replica]) -> str:
    if not replicas:
        return "none running (none heard from in the last minute)"
    listed = ", ".join(f"{replica.name} ({replica.role})" for replica in replicas)
    return f"{len(replicas)} running: {listed}"


def check_backups(settings: Settings, now: datetime | None = None) -> Finding:
    folder = settings.backup_dir
    if settings.on_postgres:
        dump = "back up with pg_dump (`python -m bot backup PATH` prints the command)"
        if folder is None:
            return Finding(Level.OK, "backups", f"not the bot's on PostgreSQL: {dump}")
        return Finding(
            Level.WARN, "backups", f"BACKUP_DIR is ignored on PostgreSQL (it is for SQLite): {dump}"
        )
    if folder is None:
        return Finding(Level.OK, "backups", "automatic backups off (BACKUP_DIR not set)")
    hours = settings.backup_every_hours
    plan = f"every {hours:g} h, keeping {settings.backup_keep}"
    if not folder.is_dir():
        existing = _nearest_existing(folder.parent)
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            return _fail(
                "backups", f"{folder} cannot be created ({existing} is not a writable folder)"
            )
        return Finding(Level.OK, "backups", f"none yet; {folder} is created by the first ({plan})")
    if not os.access(folder, os.W_OK):
        return _fail("backups", f"{folder} is not writable")
    newest = newest_backup(folder)
    if newest is None:
        return Finding(Level.OK, "backups", f"none yet in {folder} ({plan})")
    age = newest.age_seconds(now or datetime.now(UTC))
    detail = f"last backup {newest.path.name}, {_ago(age)} ago, {newest.size / 1e6:.1f} MB ({plan})"
    if age > 2 * settings.backup_every_seconds + 300:
        return Finding(Level.WARN, "backups", detail + ": overdue (is the bot running?)")
    return Finding(Level.OK, "backups", detail)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


# --- web server ------------------------------------------------------------------------


def check_listen(settings: Settings) -> list[Finding]:
    pushes = (
        "TrackingMore pushes on"
        if settings.trackingmore_pushes_on
        else "TrackingMore pushes off (TRACKINGMORE_WEBHOOK_SECRET not set)"
    )
    if settings.webhook_listen is None:
        findings = [Finding(Level.OK, "web server", "off (WEBHOOK_LISTEN not set)")]
        if settings.trackingmore_webhook_secret:
            findings.append(
                Finding(
                    Level.WARN,
                    "web server",
                    "TRACKINGMORE_WEBHOOK_SECRET is set but WEBHOOK_LISTEN is not: "
                    "pushes cannot arrive",
                )
            )
        return findings
    host, port = settings.webhook_listen
    error = _try_bind(host, port)
    if error is None:
        return [Finding(Level.OK, "web server", f"can listen on {host}:{port}; {pushes}")]
    if error == errno.EADDRINUSE and _is_postino(host, port):
        return [Finding(Level.OK, "web server", f"{host}:{port} is the running bot; {pushes}")]
    return [_fail("web server", f"cannot listen on {host}:{port}: {os.strerror(error)}")]


def _try_bind(host: str, port: int) -> int | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno or errno.EADDRNOTAVAIL
    return None


def _is_postino(host: str, port: int) -> bool:
    local = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a comparison
    url_host = f"[{local}]" if ":" in local else local
    try:
        answer = httpx.get(f"http://{url_host}:{port}/healthz", timeout=5)
        return "status" in answer.json()
    except (httpx.HTTPError, json.JSONDecodeError, TypeError):
        return False


def _fail(topic: str, detail: str) -> Finding:
    return Finding(Level.FAIL, topic, detail)
