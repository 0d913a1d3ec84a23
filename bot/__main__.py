"""Entry point: `python -m bot` (or `postino`) runs the bot; subcommands do maintenance."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.ops.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postino", description="postino Telegram bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    backup = sub.add_parser("backup", help="online backup of the database to PATH")
    backup.add_argument("path", type=Path)
    sub.add_parser("doctor", help="check token, API key, database and webhooks; show settings")
    sub.add_parser("health", help="exit 0 if the running bot is healthy (Docker HEALTHCHECK)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"postino: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets)

    if args.command == "backup":
        from bot.storage.maintenance import backup_database

        return backup_database(settings.database_path, args.path)
    if args.command == "doctor":
        from bot.ops.doctor import doctor_command

        return doctor_command(settings)
    if args.command == "health":
        from bot.ops.health import health_command

        return health_command(settings)

    from bot.app import StartupError, serve
    from bot.storage import StorageOpenError

    try:
        asyncio.run(serve(settings))
    except (StartupError, StorageOpenError) as exc:
        print(f"postino: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
