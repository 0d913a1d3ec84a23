"""Is the bot alive? Its last Telegram round-trip and poll cycle, in memory and on disk.

The running bot keeps a `Heartbeat`, written as soon as the process starts (state
`starting`: `health` says so, and fails, until Telegram first answers): every successful Bot
API answer (through the
`RoundTripRecordingRequest` that PTB uses for all its calls) and every completed poll cycle
stamp it, and a job writes it every few seconds to a small JSON file next to the database
(write, then rename: a reader never sees half a file). `python -m bot health` — the Docker
HEALTHCHECK — reads that file, so it works whether or not WEBHOOK_LISTEN is set; `/healthz`
answers from the same data in memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram.request import HTTPXRequest, RequestData

from bot.config import Settings
from bot.tracking.health import CarrierHealth, PollState

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 15.0
STARTING, RUNNING, STOPPED = "starting", "running", "stopped"
# Long polling talks to Telegram every few seconds, webhook mode checks it every minute.
TELEGRAM_MAX_SILENCE_SECONDS = 300.0
STANDBY_MAX_SILENCE_SECONDS = 120.0


def heartbeat_path(settings: Settings) -> Path:
    """Beside the SQLite file; on PostgreSQL one per replica (replicas may share a volume),
    in the folder DATABASE_PATH names."""
    path = settings.database_path
    if settings.on_postgres:
        return path.with_name(f"postino-{settings.replica_name}.heartbeat")
    return path.with_name(path.name + ".heartbeat")


@dataclass(frozen=True)
class Thresholds:
    telegram: float
    poll_cycle: float

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        poll = settings.effective_health_max_age
        return cls(telegram=min(poll, TELEGRAM_MAX_SILENCE_SECONDS), poll_cycle=poll)


@dataclass
class HeartbeatRecord:
    """What the heartbeat file holds (times are Unix seconds)."""

    pid: int
    started_at: float
    telegram_ok_at: float | None = None
    poll_cycle_at: float | None = None
    poll_ok_at: float | None = None
    carrier_health: str = CarrierHealth.OK.value
    stopped_at: float | None = None
    state: str = STARTING
    note: str | None = None  # why it is still starting, or why it stopped
    replica: str = ""
    role: str = "leader"  # or "standby": another replica polls and sends
    leader_since: float | None = None
    role_checked_at: float | None = None  # the last check for the lead

    @property
    def starting(self) -> bool:
        """No Telegram answer yet since the process started (and not stopped)."""
        return self.stopped_at is None and self.state == STARTING and self.telegram_ok_at is None

    def starting_text(self, now: float) -> str:
        since = _age(self.started_at, now) or 0.0
        why = f"; {self.note}" if self.note else ""
        return f"starting: waiting for Telegram's first answer ({since:.0f} s since start{why})"

    def problems(self, thresholds: Thresholds, now: float) -> list[str]:
        """Why the bot is not healthy; empty when it is."""
        if self.stopped_at is not None:
            return ["the bot has stopped" + (f" ({self.note})" if self.note else "")]
        if self.starting:
            return [self.starting_text(now)]
        if self.role != "leader":
            # A standby neither polls nor long-polls Telegram: checking for the lead (which
            # reaches the database) is what it must keep doing.
            checked = _age(self.role_checked_at, now)
            if checked is not None and checked > STANDBY_MAX_SILENCE_SECONDS:
                return [f"standby: no check for the lead for {checked:.0f} s"]
            return []
        found = []
        telegram_age = _age(self.telegram_ok_at, now)
        if telegram_age is None:
            found.append("no Telegram round-trip yet")
        elif telegram_age > thresholds.telegram:
            found.append(f"no Telegram round-trip for {telegram_age:.0f} s")
        cycle_age = _age(self.poll_cycle_at, now)
        if cycle_age is None:
            # A replica that took the lead has until the threshold for its first cycle.
            lead_age = _age(self.leader_since, now)
            if lead_age is None or lead_age > thresholds.poll_cycle:
                found.append("no poll cycle completed yet")
        elif cycle_age > thresholds.poll_cycle:
            found.append(f"no poll cycle completed for {cycle_age:.0f} s")
        return found

    def report(self, thresholds: Thresholds, now: float) -> dict[str, Any]:
        problems = self.problems(thresholds, now)
        status = "starting" if self.starting else "unhealthy" if problems else "ok"
        return {
            "status": status,
            "problems": problems,
            "telegram_last_ok_seconds_ago": _age(self.telegram_ok_at, now),
            "poll_cycle_seconds_ago": _age(self.poll_cycle_at, now),
            "poll_ok_seconds_ago": _age(self.poll_ok_at, now),
            "carrier": self.carrier_health,
            "replica": self.replica,
            "role": self.role,
        }


def _age(moment: float | None, now: float) -> float | None:
    return None if moment is None else round(max(0.0, now - moment), 1)


class Heartbeat:
    """The running bot's own record of being alive."""

    def __init__(self, path: Path, replica: str = "") -> None:
        self.path = path
        self.record = HeartbeatRecord(pid=os.getpid(), started_at=time.time(), replica=replica)

    def lead(self, leading: bool) -> None:
        """This replica gained (or lost) the lead; written with the next heartbeat."""
        self.record.role = "leader" if leading else "standby"
        self.record.leader_since = time.time() if leading else None

    def role_checked(self, leading: bool) -> None:
        """The check for the lead ran. A replica that did not get it stands by (the record
        starts as "leader", which a standby would otherwise keep and be judged by)."""
        record = self.record
        record.role_checked_at = time.time()
        if not leading and record.role != "standby":
            record.role, record.leader_since = "standby", None

    def telegram_answered(self) -> None:
        record = self.record
        record.telegram_ok_at = time.time()
        if record.state == STARTING:
            record.state, record.note = RUNNING, None

    def starting(self, note: str | None = None) -> None:
        """Still waiting for Telegram (`note`: why); written at once."""
        self.record.note = note
        self.save_logging_errors()

    async def on_poll_cycle(
        self, _previous: CarrierHealth, current: CarrierHealth, state: PollState
    ) -> None:
        """Poller health listener: called at the end of every completed cycle."""
        self.record.poll_cycle_at = time.time()
        self.record.poll_ok_at = state.last_success_wallclock
        self.record.carrier_health = current.value
        await asyncio.to_thread(self.save_logging_errors)

    def save(self) -> None:
        """Write the file atomically (temporary file in the same folder, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(asdict(self.record), file)
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def save_logging_errors(self) -> None:
        try:
            self.save()
        except OSError as exc:
            logger.warning("could not write the heartbeat file %s: %s", self.path, exc)

    async def save_job(self, _context: object) -> None:
        await asyncio.to_thread(self.save_logging_errors)

    def mark_stopped(self, note: str | None = None) -> None:
        self.record.stopped_at = time.time()
        self.record.state = STOPPED
        if note is not None:
            self.record.note = note
        self.save_logging_errors()


def read_heartbeat(path: Path) -> HeartbeatRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HeartbeatRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


class RoundTripRecordingRequest(HTTPXRequest):
    """PTB's HTTP client, stamping the heartbeat whenever Telegram answers with success."""

    def __init__(self, heartbeat: Heartbeat, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._heartbeat = heartbeat

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if 200 <= code < 300:
            self._heartbeat.telegram_answered()
        return code, payload


def health_command(settings: Settings) -> int:
    """`python -m bot health`: exit 0 when the running bot is healthy, 1 otherwise."""
    path = heartbeat_path(settings)
    record = read_heartbeat(path)
    if record is None:
        print(f"unhealthy: no heartbeat at {path} (is the bot running?)")
        return 1
    now = time.time()
    if record.starting:
        print(record.starting_text(now))
        return 1
    problems = record.problems(Thresholds.of(settings), now)
    if problems:
        print("unhealthy: " + "; ".join(problems))
        return 1
    print("ok")
    return 0
