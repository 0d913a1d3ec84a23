"""What operators see of the replicas: each replica's name and role in `/healthz` (a standby
is healthy), the replicas' list there and in `/metrics`, `backup` on PostgreSQL (the pg_dump
command, nothing copied) and BACKUP_DIR ignored there with one warning."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.telegram import FakeTelegram
from harness import run_cli
from prometheus_client.parser import text_string_to_metric_families
from telegram import Bot

from bot.config import load_settings
from bot.ops.health import Heartbeat, HeartbeatRecord, Thresholds
from bot.ops.leadership import Leadership
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.ops.webserver import WebServer
from bot.storage import Gauges, Storage
from bot.storage.coordination import Replica
from bot.storage.leases import AdvisoryLeaderLock, SoleProcess
from bot.storage.postgres import PostgresDatabase
from bot.tracking.health import PollState

TOKEN = "123456:AAE-secret-part-of-the-token_xyz"
API_KEY = "tm-live-key-abcdefghijklmnop"
THRESHOLDS = Thresholds(telegram=300, poll_cycle=5400)
PASSWORD = "s3cret-pg-password"

ReplicaList = Callable[[], Awaitable[list[Replica]]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _replica(name: str, role: str) -> Replica:
    return Replica(
        name, role, 4242, "2024-05-01T10:00:00.000+00:00", "2024-05-01T10:05:00.000+00:00"
    )


def _standby_heartbeat(path: Path, name: str = "two") -> Heartbeat:
    """A replica that got Telegram's answer and checked for the lead, without getting it."""
    heartbeat = Heartbeat(path, name)
    heartbeat.telegram_answered()
    heartbeat.role_checked(False)
    return heartbeat


# --- the heartbeat ------------------------------------------------------------------------


def test_a_replica_that_did_not_get_the_lead_is_a_healthy_standby(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "hb", "two")
    heartbeat.telegram_answered()
    now = time.time()
    # Before its first check it counts as the leader, which has not polled yet.
    assert heartbeat.record.problems(THRESHOLDS, now) == ["no poll cycle completed yet"]
    heartbeat.role_checked(False)
    assert heartbeat.record.role == "standby"
    report = heartbeat.record.report(THRESHOLDS, now)
    assert (report["status"], report["role"], report["replica"]) == ("ok", "standby", "two")
    # Still healthy long after: no poll and no Telegram round-trip are asked of a standby…
    assert heartbeat.record.problems(THRESHOLDS, now + 100) == []
    # …but it must keep checking for the lead.
    assert heartbeat.record.problems(THRESHOLDS, now + 200) == [
        "standby: no check for the lead for 200 s"
    ]


def test_a_leader_stays_a_leader_through_its_checks(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "hb", "one")
    heartbeat.lead(True)
    heartbeat.role_checked(True)
    assert heartbeat.record.role == "leader"
    assert heartbeat.record.leader_since is not None


# --- /healthz -----------------------------------------------------------------------------


async def _no_ingest(_trackings: list[Any]) -> list[Any]:
    return []


async def _no_scrape() -> ScrapeInputs:
    raise AssertionError("not scraped here")


def _server(heartbeat: Heartbeat, tmp_path: Path, replicas: ReplicaList | None) -> WebServer:
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TRACKINGMORE_API_KEY": API_KEY,
            "WEBHOOK_LISTEN": f"127.0.0.1:{_free_port()}",
        },
        env_file=tmp_path / "absent.env",
    )
    return WebServer(
        settings,
        heartbeat,
        Metrics(),
        bot=Bot(TOKEN),
        updates=asyncio.Queue(),
        ingest_pushed=_no_ingest,
        scrape=_no_scrape,
        replicas=replicas,
    )


async def _healthz(server: WebServer) -> tuple[int, dict[str, Any]]:
    await server.start()
    try:
        host, port = server._settings.webhook_listen or ("", 0)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://{host}:{port}/healthz", timeout=10)
    finally:
        await server.stop()
    return response.status_code, response.json()


async def test_healthz_of_a_standby_is_200_with_its_role_and_the_replicas(tmp_path: Path) -> None:
    async def replicas() -> list[Replica]:
        return [_replica("one", "leader"), _replica("two", "standby")]

    status, body = await _healthz(_server(_standby_heartbeat(tmp_path / "hb"), tmp_path, replicas))
    assert status == 200, body
    assert (body["status"], body["replica"], body["role"]) == ("ok", "two", "standby")
    assert [(r["name"], r["role"]) for r in body["replicas"]] == [
        ("one", "leader"),
        ("two", "standby"),
    ]


async def test_healthz_of_a_leader_that_never_polled_is_503(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "hb", "one")
    heartbeat.telegram_answered()
    status, body = await _healthz(_server(heartbeat, tmp_path, None))
    assert status == 503
    assert body["role"] == "leader"
    assert body["problems"] == ["no poll cycle completed yet"]
    assert "replicas" not in body  # SQLite: one process, no list


async def test_healthz_stays_healthy_when_the_replicas_cannot_be_listed(tmp_path: Path) -> None:
    async def broken() -> list[Replica]:
        raise OSError("connection refused")

    status, body = await _healthz(_server(_standby_heartbeat(tmp_path / "hb"), tmp_path, broken))
    assert status == 200
    assert body["replicas"] is None


# --- /metrics -----------------------------------------------------------------------------


def _samples(metrics: Metrics, inputs: ScrapeInputs) -> dict[tuple[str, tuple[Any, ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render(inputs).decode())
        for s in family.samples
    }


def _inputs(record: HeartbeatRecord, replicas: list[Replica] | None) -> ScrapeInputs:
    return ScrapeInputs(
        gauges=Gauges({"transit": 2}, 4, 1, 0, None),
        api_calls={},
        poll=PollState(),
        heartbeat=record,
        notifications_given_up=0,
        replicas=replicas,
    )


def test_metrics_say_whether_this_replica_leads_and_count_the_replicas_by_role() -> None:
    standby = HeartbeatRecord(pid=1, started_at=0, replica="two", role="standby")
    listed = [_replica("one", "leader"), _replica("two", "standby"), _replica("three", "standby")]
    samples = _samples(Metrics(), _inputs(standby, listed))
    assert samples[("postino_replica_leader", (("replica", "two"),))] == 0
    assert samples[("postino_replicas", (("role", "leader"),))] == 1
    assert samples[("postino_replicas", (("role", "standby"),))] == 2
    leader = HeartbeatRecord(pid=1, started_at=0, replica="one", role="leader")
    assert (
        _samples(Metrics(), _inputs(leader, listed))[
            ("postino_replica_leader", (("replica", "one"),))
        ]
        == 1
    )


def test_on_sqlite_the_one_process_leads_and_no_replicas_are_counted() -> None:
    record = HeartbeatRecord(pid=1, started_at=0, replica="solo")
    text = Metrics().render(_inputs(record, None)).decode()
    assert 'postino_replica_leader{replica="solo"} 1.0' in text
    assert "postino_replicas{" not in text


def test_gauges_read_from_the_database_say_they_are_database_wide() -> None:
    text = Metrics().render(_inputs(HeartbeatRecord(pid=1, started_at=0), [])).decode()
    helps = {line.split()[2]: line for line in text.splitlines() if line.startswith("# HELP")}
    for name in (
        "postino_shipments",
        "postino_chats",
        "postino_outbox_pending",
        "postino_replicas",
    ):
        assert "Database-wide" in helps[name], name
    assert "Database-wide" not in helps["postino_poll_cycles_total"]


# --- the replicas in the database ---------------------------------------------------------


@pytest.fixture
async def storage(database: Path | str) -> AsyncIterator[Storage]:
    opened = await Storage.open(database)
    yield opened
    await opened.close()


async def test_the_sole_process_leads_and_lists_itself(storage: Storage, tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "hb", "solo")
    leadership = Leadership(SoleProcess(), storage, "solo")

    async def gained() -> None:
        heartbeat.lead(True)

    leadership.bind(on_gain=gained, on_loss=gained, on_checked=heartbeat.role_checked)
    await leadership.check()
    assert heartbeat.record.role == "leader"
    assert [(r.name, r.role) for r in await leadership.replicas()] == [("solo", "leader")]
    await leadership.release()
    assert await leadership.replicas() == []


@pytest.mark.full
async def test_two_replicas_on_postgres_one_leads_the_standby_answers_healthy(
    postgres_url: str, tmp_path: Path
) -> None:
    storages = [await Storage.open(postgres_url) for _ in range(2)]
    heartbeats = [Heartbeat(tmp_path / f"hb-{name}", name) for name in ("one", "two")]
    leaderships = []
    try:
        for storage, heartbeat in zip(storages, heartbeats, strict=True):
            assert isinstance(storage.database, PostgresDatabase)
            leadership = Leadership(
                AdvisoryLeaderLock(storage.database), storage, heartbeat.record.replica
            )

            async def gained(heartbeat: Heartbeat = heartbeat) -> None:
                heartbeat.lead(True)

            leadership.bind(on_gain=gained, on_loss=gained, on_checked=heartbeat.role_checked)
            heartbeat.telegram_answered()
            await leadership.check()
            leaderships.append(leadership)
        assert [h.record.role for h in heartbeats] == ["leader", "standby"]
        server = _server(heartbeats[1], tmp_path, leaderships[1].replicas)
        status, body = await _healthz(server)
        assert status == 200, body
        assert (body["replica"], body["role"]) == ("two", "standby")
        assert [(r["name"], r["role"]) for r in body["replicas"]] == [
            ("one", "leader"),
            ("two", "standby"),
        ]
        inputs = _inputs(heartbeats[1].record, await leaderships[0].replicas())
        samples = _samples(Metrics(), inputs)
        assert samples[("postino_replicas", (("role", "standby"),))] == 1
        assert samples[("postino_replica_leader", (("replica", "two"),))] == 0
    finally:
        for leadership in reversed(leaderships):
            await leadership.release()
        for storage in storages:
            await storage.close()


# --- backups on PostgreSQL ----------------------------------------------------------------


def test_backup_on_postgres_prints_the_pg_dump_command_and_copies_nothing(
    tmp_path: Path,
) -> None:
    port = _free_port()  # nothing listens there: nothing connects
    url = f"postgresql://postino:{PASSWORD}@127.0.0.1:{port}/postino?sslmode=disable"
    target = tmp_path / "dumps" / "postino.dump"
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TRACKINGMORE_API_KEY": API_KEY,
        "DATABASE_PATH": str(tmp_path / "data" / "postino.sqlite3"),
        "DATABASE_URL": url,
    }
    result = run_cli(["backup", str(target)], env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    expected = (
        f"pg_dump --format=custom --file={target} "
        f"'postgresql://postino@127.0.0.1:{port}/postino?sslmode=disable'"
    )
    assert expected in result.stdout
    assert "postgresql://postino:****@127.0.0.1" in result.stdout
    assert "PGPASSWORD" in result.stdout
    assert PASSWORD not in output
    assert not target.exists() and not target.parent.exists()
    assert not (tmp_path / "data").exists()


@pytest.mark.full
@pytest.mark.e2e
def test_backup_dir_on_postgres_is_ignored_with_one_warning(
    bot_factory: Callable[..., Any], postgres_url: str, tmp_path: Path, fake_tg: FakeTelegram
) -> None:
    backups = tmp_path / "backups"
    bot = bot_factory(
        DATABASE_URL=postgres_url, BACKUP_DIR=str(backups), BACKUP_EVERY_HOURS="0.0003"
    )
    bot.wait_poll_cycles(2)
    assert bot.log_count(f"BACKUP_DIR={backups} is ignored") == 1
    assert bot.log_count("automatic backups are for SQLite") == 1
    assert not backups.exists() or not any(backups.iterdir())
