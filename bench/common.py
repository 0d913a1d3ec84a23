"""What every benchmark shares: the fakes, the bot's environment, sizes, rows of the table."""

from __future__ import annotations

import math
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from fakes.telegram import FakeTelegram  # noqa: E402
from fakes.trackingmore import FakeTrackingMore  # noqa: E402
from harness import BotProcess  # noqa: E402

from bot.core.codes import s10_check_digit  # noqa: E402

__all__ = ["BotProcess", "FakeTelegram", "FakeTrackingMore"]

# A database: a SQLite file, or a PostgreSQL database's `postgresql://` URL (as
# `Storage.open` takes them).
Where = Path | str

POSTE = "poste-italiane"
# TrackingMore's published limits, and Telegram's.
TM_REQUESTS_PER_S = 10
TM_CREATES_PER_S = 3
TG_MESSAGES_PER_S = 30
TG_GROUP_MESSAGES_PER_MIN = 20


@dataclass(frozen=True)
class Sizes:
    """The workloads; `QUICK` only checks that every part still runs."""

    poll_active: int = 5_000
    poll_followers: int = 2
    poll_delivered: int = 1_000
    cpu_active: int = 10_000
    cpu_changing: float = 0.20
    registration_chats: int = 200
    registration_codes_per_chat: int = 50
    fan_out_private: int = 3_000
    fan_out_groups: int = 5
    fan_out_per_group: int = 20
    outbox_writes: int = 2_000
    pushes: int = 50
    memory_shipments: int = 50_000
    memory_followers: int = 2
    memory_cycles: int = 20
    memory_moving: float = 0.02
    starts: int = 3
    scale_shipments: int = 500_000
    scale_followers: int = 2
    scale_cycles: int = 4
    scale_moving: float = 0.01


FULL = Sizes()
QUICK = Sizes(
    poll_active=100,
    poll_delivered=20,
    cpu_active=200,
    registration_chats=4,
    registration_codes_per_chat=5,
    fan_out_private=40,
    fan_out_groups=2,
    fan_out_per_group=3,
    outbox_writes=50,
    pushes=3,
    memory_shipments=200,
    memory_cycles=3,
    starts=1,
    scale_shipments=2_000,
    scale_cycles=3,
)


@dataclass(frozen=True)
class Row:
    what: str
    workload: str
    measured: str
    limit: str
    ratio: float | None
    target: str
    verdict: str
    engine: str = ""  # SQLite, PostgreSQL (and how many replicas), or — without a database


def verdict(ok: bool) -> str:
    return "ok" if ok else "OFF TARGET"


def ratio_text(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}"


def gets_needed(shipments: int, per_request: int = 40) -> int:
    return math.ceil(shipments / per_request)


def s10(serial: int) -> str:
    """A valid UPU S10 code (check digit computed) for serial 0..99999999."""
    digits = f"{serial:08d}"
    return f"RR{digits}{s10_check_digit(digits)}IT"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_env(
    tg: FakeTelegram,
    tm: FakeTrackingMore,
    database: Where,
    folder: Path | None = None,
    **extra: str,
) -> dict[str, str]:
    """The whole configuration of a benchmarked `python -m bot`. On PostgreSQL (`database`
    a URL) DATABASE_PATH only names the folder of the replicas' heartbeat files, `folder`
    (on SQLite they sit beside the file)."""
    if isinstance(database, Path):
        where = {"DATABASE_PATH": str(database)}
    elif folder is None:
        raise ValueError("a bot on PostgreSQL needs a folder for its heartbeat files")
    else:
        where = {"DATABASE_URL": database, "DATABASE_PATH": str(folder / "unused.sqlite3")}
    return {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TRACKINGMORE_API_KEY": tm.api_key,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TRACKINGMORE_API_BASE_URL": tm.base_url,
        **where,
        "POLL_INTERVAL_SECONDS": "3600",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def proc_status(pid: int) -> Mapping[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)
