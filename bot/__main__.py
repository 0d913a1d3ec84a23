"""Entry point: `python -m bot` (or `postino`) runs the bot; subcommands do maintenance."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.config import (
    ConfigError,
    Settings,
    database_password,
    load_settings,
    validate_database_url,
)
from bot.ops.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postino", description="postino Telegram bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    backup = sub.add_parser(
        "backup",
        help="online backup of the SQLite database to PATH (PostgreSQL: the pg_dump command)",
    )
    backup.add_argument("path", type=Path)
    sub.add_parser("doctor", help="check token, API key, database and webhooks; show settings")
    sub.add_parser("health", help="exit 0 if the running bot is healthy (Docker HEALTHCHECK)")
    copy = sub.add_parser(
        "copy-database",
        help="copy the SQLite database (DATABASE_PATH) into the empty PostgreSQL database at URL",
    )
    copy.add_argument("url", metavar="URL", help="postgresql://user:password@host:5432/database")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"postino: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets)

    if args.command == "backup":
        if settings.on_postgres:
            return pg_dump_advice(settings, args.path)
        from bot.storage.maintenance import backup_database

        return backup_database(settings.database_path, args.path)
    if args.command == "doctor":
        from bot.ops.doctor import doctor_command

        return doctor_command(settings)
    if args.command == "health":
        from bot.ops.health import health_command

        return health_command(settings)
    if args.command == "copy-database":
        return copy_database_command(settings, args.url)

    from bot.app import StartupError, serve
    from bot.storage import StorageOpenError

    try:
        asyncio.run(serve(settings))
    except (StartupError, StorageOpenError) as exc:
        print(f"postino: {exc}", file=sys.stderr)
        return 1
    return 0


def pg_dump_advice(settings: Settings, path: Path) -> int:
    """`backup PATH` on PostgreSQL: nothing is copied (the server's own tool does it right);
    the pg_dump command to run instead. The URL in it has no password, so that the command
    works as shown once the password is in PGPASSWORD or ~/.pgpass."""
    from bot.ops.configuration import mask_database_url

    url = settings.database_url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}@" if parts.username else ""
    without_password = urlunsplit(parts._replace(netloc=user + host))
    command = ["pg_dump", "--format=custom", f"--file={path}", without_password]
    print(f"the database is PostgreSQL ({mask_database_url(url)}): postino copies nothing.")
    print("back it up with PostgreSQL's own pg_dump, from any machine that reaches the server:")
    print(f"  {shlex.join(command)}")
    print("with the password in PGPASSWORD or ~/.pgpass (never on the command line);")
    print("restore it into an empty database with: pg_restore --no-owner --dbname=URL PATH")
    return 0


def copy_database_command(settings: Settings, url: str) -> int:
    """`copy-database URL`: what was copied on stdout, a refusal or failure as one line on
    stderr (exit 1; a malformed URL exits 2). The password is never shown."""
    from bot.ops.configuration import mask_database_url
    from bot.ops.logs import redact
    from bot.storage import StorageOpenError
    from bot.storage.copying import CopyError, copy_database

    try:
        validate_database_url(url, "the URL of copy-database")
    except ConfigError as exc:
        print(f"postino: {exc}", file=sys.stderr)
        return 2
    secrets = tuple(s for s in {database_password(url), urlsplit(url).password or ""} if s)
    # stderr is for the one line of a refusal; the migration's INFO lines only with DEBUG.
    as_set = settings.log_level in ("DEBUG", "ERROR", "CRITICAL")
    setup_logging(settings.log_level if as_set else "WARNING", (*settings.secrets, *secrets))
    print(f"copying {settings.database_path} into {mask_database_url(url)}")
    try:
        result = asyncio.run(copy_database(settings.database_path, url, report=print))
    except (CopyError, StorageOpenError) as exc:
        print(f"postino: {redact(str(exc), secrets)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("postino: interrupted; the target keeps nothing of the copy", file=sys.stderr)
        return 130
    print(
        f"copied {result.rows} rows of {len(result.tables)} tables in {result.seconds:.1f} s "
        f"(schema v{result.schema_version}, row counts checked)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
