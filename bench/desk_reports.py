#!/usr/bin/env python3
"""Benchmark: the tracking desk on a busy chat, and files of codes at the size limit.

A real SQLite file with one chat following N shipments of E events each: the one query behind
/export, /summary and the digest, then rendering each; the digest's due-chats query; and
parsing 1 MB files (all duplicates, distinct codes over the limit, junk) as an import does.

    python bench/desk_reports.py [--shipments 500] [--events 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import s10  # noqa: E402
from bot.core.codefile import MAX_IMPORT_BYTES, parse_import  # noqa: E402
from bot.core.shipments import Checkpoint, Snapshot  # noqa: E402
from bot.core.textfile import UnreadableFile  # noqa: E402
from bot.core.times import utcnow  # noqa: E402
from bot.storage import Storage  # noqa: E402
from bot.texts import reports  # noqa: E402
from bot.texts.i18n import Translator  # noqa: E402

CHAT = 1
POSTE = "poste-italiane"


def timed(what: str, action: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    result = action()
    print(f"{what:<60} {1000 * (time.perf_counter() - began):8.1f} ms")
    return result


async def seed(storage: Storage, shipments: int, events: int) -> None:
    await storage.chats.touch_chat(CHAT, "private", None, "en")
    codes = [s10(70_000_000 + i) for i in range(shipments)]
    for code in codes:
        await storage.follows.follow(CHAT, POSTE, code, "a label", CHAT, "Ada")
    start = datetime(2026, 11, 1, 8, 0)
    await storage.changes.ingest(
        [
            Snapshot(
                POSTE,
                code,
                "transit",
                checkpoints=tuple(
                    Checkpoint(f"event {j}", "ROMA", start + timedelta(hours=j), status="transit")
                    for j in reversed(range(events))
                ),
            )
            for code in codes
        ],
        notify=False,
    )


async def database_part(shipments: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        storage = await Storage.open(Path(folder) / "bench.sqlite3")
        await seed(storage, shipments, events)
        t = Translator("en")
        for _ in range(2):  # the second run is the warm one
            began = time.perf_counter()
            rows = await storage.reports.desk_rows(CHAT, archived=True)
            elapsed = 1000 * (time.perf_counter() - began)
        print(f"{f'desk_rows: {shipments} shipments x {events} events':<60} {elapsed:8.1f} ms")
        timed("export_csv", lambda: reports.export_csv(t, rows))
        timed("summary text", lambda: reports.summary(t, rows, utcnow(), 7))
        timed("digest text", lambda: reports.digest(t, rows, utcnow(), 7))
        began = time.perf_counter()
        await storage.chats.chats_due_for_digest("23:59", "2999-01-01")
        elapsed = 1000 * (time.perf_counter() - began)
        print(f"{'chats_due_for_digest':<60} {elapsed:8.1f} ms")
        await storage.close()


def one_megabyte(line: Callable[[int], str]) -> bytes:
    parts, size, i = [], 0, 0
    while size < MAX_IMPORT_BYTES - 100:
        text = line(i) + "\n"
        parts.append(text)
        size += len(text)
        i += 1
    return "".join(parts).encode()


def parsing_part() -> None:
    files = {
        "1 MB, one code repeated": one_megabyte(lambda i: f"{s10(1)};{'label ' * 10}"),
        "1 MB, distinct codes (500 read)": one_megabyte(lambda i: f"{s10(i)};Cliente {i};brt"),
        "1 MB, no code at all": one_megabyte(lambda i: f"hello{i};x"),
    }
    for name, data in files.items():

        def parse(data: bytes = data) -> object:
            try:
                return parse_import(data, max_codes=500)
            except UnreadableFile as exc:
                return exc

        timed(f"parse_import: {name}", parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=500)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(database_part(args.shipments, args.events))
    parsing_part()


if __name__ == "__main__":
    main()
