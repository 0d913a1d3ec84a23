"""Prometheus metrics for `GET /metrics` (prometheus-client, one registry per application).

Events are counted as they happen (notification latency, webhook requests); everything else
is read at scrape time from the database, the carrier client's call counts, the poller's
state and the heartbeat, so the numbers are never out of date and cost nothing between
scrapes.

With replicas (PostgreSQL) every replica answers its own `/metrics`. Counters and the poll,
carrier and Telegram metrics are this process's (summed across replicas they are the whole
bot's); the gauges read from the database (shipments, chats, outbox, `postino_replicas`) are
database-wide, the same on every replica: take one replica's value (`max`), not the sum.
`postino_replica_leader{replica}` tells which replica leads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.times import parse_iso_utc, utcnow
from bot.ops.health import HeartbeatRecord
from bot.storage import Gauges, Notification
from bot.storage.coordination import Replica
from bot.tracking.health import CarrierHealth, PollState

_DATABASE_WIDE = " Database-wide: the same on every replica."
ROLES = ("leader", "standby")

# From a change being detected to Telegram accepting its message.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600)


@dataclass(frozen=True)
class ScrapeInputs:
    gauges: Gauges
    api_calls: Mapping[tuple[str, str], int]
    poll: PollState
    heartbeat: HeartbeatRecord
    notifications_given_up: int
    # The replicas heard from lately (PostgreSQL); None on SQLite, where there is one.
    replicas: Sequence[Replica] | None = None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.notification_latency = Histogram(
            "postino_notification_latency_seconds",
            "Seconds from a change being stored to Telegram accepting its notification.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_requests = Counter(
            "postino_webhook_requests",
            "Requests to the webhook endpoints, by source and result.",
            ["source", "result"],
            registry=self.registry,
        )
        self._scrape = _ScrapeCollector()
        self.registry.register(self._scrape)

    def observe_sent(self, notification: Notification) -> None:
        """Notifier `on_sent` hook."""
        created = parse_iso_utc(notification.created_at)
        if created is not None:
            self.notification_latency.observe(max(0.0, (utcnow() - created).total_seconds()))

    def count_webhook(self, source: str, result: str) -> None:
        self.webhook_requests.labels(source=source, result=result).inc()

    def render(self, inputs: ScrapeInputs) -> bytes:
        self._scrape.inputs = inputs
        return generate_latest(self.registry)


class _ScrapeCollector(Collector):
    """The values read at scrape time."""

    def __init__(self) -> None:
        self.inputs: ScrapeInputs | None = None

    def collect(self) -> Iterator[Metric]:
        inputs = self.inputs
        if inputs is None:
            return
        yield from _storage_metrics(inputs.gauges)
        yield _api_calls(inputs.api_calls)
        yield from _poll_metrics(inputs.poll)
        yield _gauge(
            "postino_telegram_last_ok_timestamp_seconds",
            "Unix time of the last successful Telegram Bot API answer (0: none yet).",
            inputs.heartbeat.telegram_ok_at or 0.0,
        )
        given_up = CounterMetricFamily(
            "postino_notifications_given_up",
            "Notifications abandoned after OUTBOX_MAX_ATTEMPTS failures since start.",
        )
        given_up.add_metric([], inputs.notifications_given_up)
        yield given_up
        yield from _replica_metrics(inputs.heartbeat, inputs.replicas)


def _replica_metrics(
    heartbeat: HeartbeatRecord, replicas: Sequence[Replica] | None
) -> Iterator[Metric]:
    leader = GaugeMetricFamily(
        "postino_replica_leader",
        "1 when this replica leads (polls, sends, takes long polling), 0 when it stands by.",
        labels=["replica"],
    )
    leader.add_metric([heartbeat.replica], 1.0 if heartbeat.role == "leader" else 0.0)
    yield leader
    if replicas is None:
        return
    counts = GaugeMetricFamily(
        "postino_replicas",
        "Replicas heard from in the last minute, by role." + _DATABASE_WIDE,
        labels=["role"],
    )
    for role in ROLES:
        counts.add_metric([role], sum(replica.role == role for replica in replicas))
    yield counts


def _storage_metrics(gauges: Gauges) -> Iterator[Metric]:
    shipments = GaugeMetricFamily(
        "postino_shipments",
        "Shipments in the database, by status." + _DATABASE_WIDE,
        labels=["status"],
    )
    for status, count in sorted(gauges.shipments_by_status.items()):
        shipments.add_metric([status], count)
    yield shipments
    chats = GaugeMetricFamily(
        "postino_chats",
        "Chats known to the bot (paused: blocked or removed it)." + _DATABASE_WIDE,
        labels=["state"],
    )
    chats.add_metric(["active"], gauges.chats_active)
    chats.add_metric(["paused"], gauges.chats_paused)
    yield chats
    yield _gauge(
        "postino_outbox_pending",
        "Notifications waiting to be sent." + _DATABASE_WIDE,
        gauges.outbox_pending,
    )
    oldest = parse_iso_utc(gauges.oldest_pending_created_at)
    age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0
    yield _gauge(
        "postino_outbox_oldest_pending_age_seconds",
        "Age of the oldest notification waiting to be sent (0: none waiting)." + _DATABASE_WIDE,
        age,
    )


def _api_calls(calls: Mapping[tuple[str, str], int]) -> Metric:
    family = CounterMetricFamily(
        "postino_trackingmore_api_calls",
        "TrackingMore API calls since start, by endpoint and result (ok or the error).",
        labels=["endpoint", "result"],
    )
    for (endpoint, result), count in sorted(calls.items()):
        family.add_metric([endpoint, result], count)
    return family


def _poll_metrics(poll: PollState) -> Iterator[Metric]:
    yield _gauge(
        "postino_last_successful_poll_timestamp_seconds",
        "Unix time of the last poll cycle without carrier errors (0: none yet).",
        poll.last_success_wallclock or 0.0,
    )
    cycles = CounterMetricFamily("postino_poll_cycles", "Poll cycles completed since start.")
    cycles.add_metric([], poll.cycles)
    yield cycles
    yield _gauge(
        "postino_poll_consecutive_failures",
        "Poll cycles in a row that met carrier errors.",
        poll.consecutive_failures,
    )
    health = GaugeMetricFamily(
        "postino_trackingmore_health",
        "1 for the carrier state the last poll cycle saw.",
        labels=["state"],
    )
    for state in CarrierHealth:
        health.add_metric([state.value], 1.0 if poll.health == state else 0.0)
    yield health


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
