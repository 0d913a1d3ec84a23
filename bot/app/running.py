"""The running bot: what every replica does (the webhook, commands, the heartbeat, the check
for the lead) and what only the leader does (the poll cycle, the sender, digests, long
polling, the courier list, backups), started when it gains the lead and stopped when it
loses it. On SQLite the one process leads from its first check.

Shutdown happens in the order that loses nothing: stop taking updates, end the poll cycle,
let the sender finish the message in flight, stop the job queue, close the carrier client
and the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Job

from bot.app.startup import PTBApplication
from bot.config import Settings
from bot.core.times import today
from bot.handlers.context import Services
from bot.handlers.routes import set_command_menus
from bot.ops.backups import AutomaticBackups
from bot.ops.configuration import configuration_groups
from bot.ops.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from bot.ops.housekeeping import prune_coordination
from bot.ops.leadership import CHECK_INTERVAL_SECONDS, Leadership
from bot.ops.metrics import Metrics
from bot.ops.telegram_webhook import WATCH_INTERVAL_SECONDS, TelegramWebhook
from bot.ops.webserver import WebServer
from bot.outbound.alerts import AdminAlerts
from bot.outbound.digest import DIGEST_CHECK_SECONDS
from bot.storage import SCHEMA_VERSION
from bot.storage.instance_lock import InstanceLock
from bot.storage.leases import OutboxSignal
from bot.texts.links import set_bot_username
from bot.tracking.registrar import Registrar

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "channel_post",
    "inline_query",
]
# A job that must never run twice at once, and that runs late rather than not at all.
_SINGLE_RUN = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
HOUSEKEEPING_SECONDS = 3600


@dataclass
class Postino:
    """The running bot: the PTB application, its services and the operations around them."""

    settings: Settings
    application: PTBApplication
    services: Services
    heartbeat: Heartbeat
    metrics: Metrics
    alerts: AdminAlerts
    registrar: Registrar
    web: WebServer | None
    telegram_webhook: TelegramWebhook | None
    backups: AutomaticBackups | None
    leadership: Leadership
    instance_lock: InstanceLock | None = None
    outbox_signal: OutboxSignal | None = None
    _leader_jobs: list[Job[Any]] = field(default_factory=list)
    _long_polling: bool = False

    async def start(self, *, receive_updates: bool = True) -> None:
        """The menus, the web server, the webhook (unless `receive_updates` is false: tests
        feed updates to `application.process_update` themselves) and the jobs of every
        replica; then the first check for the lead, which starts the leader's work (long
        polling among it). Telegram has answered getMe already (`open_bot`)."""
        set_bot_username(self.application.bot.username)
        logger.info(
            "postino started as @%s (replica %s, %s, schema v%d, polling TrackingMore every "
            "%g s, %s)",
            self.application.bot.username,
            self.settings.replica_name,
            self.services.storage.engine,
            SCHEMA_VERSION,
            self.settings.poll_interval_seconds,
            "open to everyone" if self.settings.access_is_open else "restricted access",
        )
        for group, lines in configuration_groups(self.settings):
            logger.info("configuration, %s: %s", group, "; ".join(lines))
        await set_command_menus(self.application)
        await self.application.start()
        if self.web is not None:
            await self.web.start()
        self._long_polling = receive_updates and self.telegram_webhook is None
        if receive_updates and self.telegram_webhook is not None:
            await self.telegram_webhook.register()
        self._schedule_replica_jobs()
        await self.leadership.check()

    async def stop(self) -> None:
        """Stop taking updates, end the poll cycle, finish the send in flight, then close."""
        if self.web is not None:
            await self.web.stop()
        await self.stop_leading()
        application = self.application
        if application.running:
            await application.stop()
        await self.registrar.close()
        await save_api_usage(self.services)
        await self.services.carrier.aclose()
        await self.leadership.release()
        await self.services.storage.close()
        await application.shutdown()
        if self.instance_lock is not None:
            self.instance_lock.release()
        self.heartbeat.mark_stopped()

    async def start_leading(self) -> None:
        """This replica gained the lead: the sender, long polling and the leader's jobs."""
        self.heartbeat.lead(True)
        self._schedule_leader_jobs(
            await self.backups.first_delay() if self.backups is not None else 0.0
        )
        self.services.poller.resume()
        self.services.notifier.start()
        if self.outbox_signal is not None:
            await self.outbox_signal.listen(self.services.notifier.wake)
        if self._long_polling:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1, timeout=10
            )

    async def stop_leading(self) -> None:
        """Lost the lead, or stopping: no more getUpdates, poll cycle or sends from here."""
        self.heartbeat.lead(False)
        for job in self._leader_jobs:
            job.schedule_removal()
        self._leader_jobs.clear()
        updater = self.application.updater
        if updater is not None and updater.running:
            try:
                await updater.stop()
            except Exception:
                # Stopping anyway: a failed last getUpdates must not leave the bot hanging.
                logger.exception("stopping the Telegram updater failed")
        self.services.poller.cancel()
        await self.services.notifier.stop()
        if self.outbox_signal is not None:
            await self.outbox_signal.close()

    def _schedule_replica_jobs(self) -> None:
        jobs = self.application.job_queue
        assert jobs is not None
        services = self.services

        async def api_usage(_context: object) -> None:
            # Every replica calls TrackingMore (registrations, refreshes): /stats adds them.
            await save_api_usage(services)

        jobs.run_repeating(api_usage, interval=60, first=60, name="api-usage")
        jobs.run_repeating(
            self.heartbeat.save_job, interval=HEARTBEAT_INTERVAL_SECONDS, first=0, name="heartbeat"
        )
        jobs.run_repeating(
            self.leadership.check_job,
            interval=CHECK_INTERVAL_SECONDS,
            first=CHECK_INTERVAL_SECONDS,
            name="leadership",
            job_kwargs=_SINGLE_RUN,
        )

    def _schedule_leader_jobs(self, first_backup: float) -> None:
        jobs = self.application.job_queue
        assert jobs is not None
        services = self.services

        async def poll(_context: object) -> None:
            await services.poller.run_cycle()
            await save_api_usage(services)

        async def digests(_context: object) -> None:
            await services.digests.send_due()

        async def courier_list(_context: object) -> None:
            await services.couriers.refresh()

        async def housekeeping(_context: object) -> None:
            await prune_coordination(services.storage)

        interval = self.settings.poll_interval_seconds
        scheduled = [
            jobs.run_repeating(
                poll, interval=interval, first=1.0, name="poll", job_kwargs=_SINGLE_RUN
            ),
            jobs.run_repeating(
                digests,
                interval=DIGEST_CHECK_SECONDS,
                first=1.0,
                name="digest",
                job_kwargs=_SINGLE_RUN,
            ),
            # Hourly: a fetched list is kept a day, a failed fetch is tried again after an
            # hour. (`first` > 0: APScheduler moves a start already past to the next one.)
            jobs.run_repeating(courier_list, interval=3600, first=0.5, name="couriers"),
            jobs.run_repeating(
                housekeeping, interval=HOUSEKEEPING_SECONDS, first=60, name="housekeeping"
            ),
        ]
        if self.backups is not None:
            scheduled.append(
                jobs.run_repeating(
                    self.backups.run_job,
                    interval=self.backups.every_seconds,
                    first=first_backup,
                    name="backup",
                    job_kwargs=_SINGLE_RUN,
                )
            )
        if self.telegram_webhook is not None:
            scheduled.append(
                jobs.run_repeating(
                    self.telegram_webhook.watch_job,
                    interval=WATCH_INTERVAL_SECONDS,
                    first=WATCH_INTERVAL_SECONDS,
                    name="telegram-webhook",
                )
            )
        self._leader_jobs.extend(scheduled)


async def save_api_usage(services: Services) -> None:
    counts = services.carrier.stats.take_unsaved()
    if counts:
        await services.storage.reports.add_api_usage(today(), counts)
