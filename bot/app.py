"""The composition root: the one place that builds every service, wires them together and
schedules every job. Nothing else constructs a service or touches the job queue.

Start-up asks Telegram first (getMe; a refused token stops it), then opens the database.

The run loop is explicit (not `run_polling`) so that shutdown happens in the order that
loses nothing: stop taking updates, end the poll cycle, let the sender finish the message in
flight, stop the job queue, close the carrier client and the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.carrier import TrackingMoreClient
from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.core.couriers import CourierBook
from bot.core.times import today
from bot.handlers.context import SERVICES_KEY, Context, Services
from bot.handlers.routes import register_handlers, set_command_menus
from bot.ops.backups import AutomaticBackups
from bot.ops.configuration import configuration_groups
from bot.ops.health import (
    HEARTBEAT_INTERVAL_SECONDS,
    Heartbeat,
    RoundTripRecordingRequest,
    heartbeat_path,
)
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.ops.telegram_updates import SkippingUnreadableUpdates
from bot.ops.telegram_webhook import WATCH_INTERVAL_SECONDS, TelegramWebhook
from bot.ops.webserver import WebServer
from bot.outbound.alerts import AdminAlerts
from bot.outbound.digest import DIGEST_CHECK_SECONDS, Digests
from bot.outbound.notifier import Notifier
from bot.outbound.sender import ChatSender
from bot.storage import SCHEMA_VERSION, Storage, StorageOpenError
from bot.storage.maintenance import check_database_location
from bot.texts.couriers import use_courier_book
from bot.texts.links import set_bot_username
from bot.tracking.couriers import CourierDirectory
from bot.tracking.poller import Poller
from bot.tracking.pushes import PushedChanges
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import Registrar
from bot.tracking.tracker import Tracker

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]
TELEGRAM_START_RETRY_MAX = 60.0
MESSAGES_PER_SECOND = 30
OVERALL_BURST = 3
MESSAGES_PER_MINUTE_PER_GROUP = 20
# A job that must never run twice at once, and that runs late rather than not at all.
_SINGLE_RUN = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}

PTBApplication = Application[Any, Any, Any, Any, Any, Any]


class StartupError(RuntimeError):
    """Start-up cannot continue; the message is one line for the operator."""


def build_application(settings: Settings, heartbeat: Heartbeat) -> PTBApplication:
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .rate_limiter(telegram_rate_limiter())
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(16)
        .request(RoundTripRecordingRequest(heartbeat, connection_pool_size=64, pool_timeout=30))
        .get_updates_request(SkippingUnreadableUpdates(heartbeat, connection_pool_size=1))
        .build()
    )
    register_handlers(application)
    return application


def telegram_rate_limiter() -> AIORateLimiter:
    """Telegram's 30 messages/s with a burst of 3, instead of AIORateLimiter's default burst
    of 30: a burst of 30 that reaches Telegram a little late lands on the next second's share
    and is answered 429. The burst of 3 only makes up for sends that started late, so the
    rate stays at 30/s. Groups keep 20 per minute."""
    return AIORateLimiter(
        overall_max_rate=OVERALL_BURST,
        overall_time_period=OVERALL_BURST / MESSAGES_PER_SECOND,
        group_max_rate=MESSAGES_PER_MINUTE_PER_GROUP,
        group_time_period=60,
        max_retries=0,
    )


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

    async def start(self, *, receive_updates: bool = True) -> None:
        """The menus, the web server, then updates (long polling or the webhook, unless
        `receive_updates` is false: tests feed updates to `application.process_update`
        themselves) and every job. Telegram has answered getMe already (`open_bot`)."""
        set_bot_username(self.application.bot.username)
        logger.info(
            "postino started as @%s (schema v%d, polling TrackingMore every %g s, %s)",
            self.application.bot.username,
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
        if receive_updates:
            await self._receive_updates()
        first_backup = await self.backups.first_delay() if self.backups is not None else 0.0
        self._schedule_jobs(first_backup)
        self.services.notifier.start()

    async def stop(self) -> None:
        """Stop taking updates, end the poll cycle, finish the send in flight, then close."""
        if self.web is not None:
            await self.web.stop()
        application = self.application
        if application.updater is not None and application.updater.running:
            try:
                await application.updater.stop()
            except Exception:
                # Shutting down anyway: a failed last getUpdates must not leave the bot hanging.
                logger.exception("stopping the Telegram updater failed")
        self.services.poller.cancel()
        await self.services.notifier.stop()
        if application.running:
            await application.stop()
        await self.registrar.close()
        await save_api_usage(self.services)
        await self.services.carrier.aclose()
        await self.services.storage.close()
        await application.shutdown()
        self.heartbeat.mark_stopped()

    async def _receive_updates(self) -> None:
        """Webhook mode when TELEGRAM_WEBHOOK_URL is set, long polling otherwise."""
        if self.telegram_webhook is not None:
            await self.telegram_webhook.register()
            return
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1, timeout=10
        )

    def _schedule_jobs(self, first_backup: float) -> None:
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

        interval = self.settings.poll_interval_seconds
        jobs.run_repeating(poll, interval=interval, first=1.0, name="poll", job_kwargs=_SINGLE_RUN)
        jobs.run_repeating(
            digests, interval=DIGEST_CHECK_SECONDS, first=1.0, name="digest", job_kwargs=_SINGLE_RUN
        )
        # Hourly: a fetched list is kept a day, a failed fetch is tried again after an hour.
        # (`first` > 0: APScheduler moves a start that is already past to the next interval.)
        jobs.run_repeating(courier_list, interval=3600, first=0.5, name="couriers")
        jobs.run_repeating(
            self.heartbeat.save_job, interval=HEARTBEAT_INTERVAL_SECONDS, first=0, name="heartbeat"
        )
        if self.backups is not None:
            jobs.run_repeating(
                self.backups.run_job,
                interval=self.backups.every_seconds,
                first=first_backup,
                name="backup",
                job_kwargs=_SINGLE_RUN,
            )
        if self.telegram_webhook is not None:
            jobs.run_repeating(
                self.telegram_webhook.watch_job,
                interval=WATCH_INTERVAL_SECONDS,
                first=WATCH_INTERVAL_SECONDS,
                name="telegram-webhook",
            )


async def initialize_telegram(
    application: PTBApplication, heartbeat: Heartbeat, stop: asyncio.Event
) -> None:
    """getMe with patience: Telegram being unreachable at boot is not fatal, a bad token is."""
    delay = 1.0
    while True:
        try:
            await application.initialize()
            return
        except InvalidToken:
            raise StartupError(
                "TELEGRAM_BOT_TOKEN was refused by Telegram (getMe: Unauthorized)"
            ) from None
        except (NetworkError, TelegramError) as exc:
            logger.warning("Telegram not reachable at start (%s); retrying in %.0f s", exc, delay)
            await asyncio.to_thread(heartbeat.starting, f"Telegram not reachable: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), delay)
            raise StartupError("stopped before Telegram could be reached")
        except TimeoutError:
            delay = min(TELEGRAM_START_RETRY_MAX, delay * 2)


async def open_bot(settings: Settings, stop: asyncio.Event | None = None) -> Postino:
    """Telegram first (getMe, with patience until `stop` is set: a refused token stops here,
    before the database is created or migrated), then the database and every service;
    nothing is sent yet. The heartbeat file says "starting" from the first moment."""
    check_database_location(settings.database_path)  # creates nothing
    heartbeat = Heartbeat(heartbeat_path(settings.database_path))
    await asyncio.to_thread(heartbeat.starting)
    application = build_application(settings, heartbeat)
    try:
        await initialize_telegram(application, heartbeat, stop or asyncio.Event())
        await asyncio.to_thread(heartbeat.save_logging_errors)  # Telegram answered: running
        storage = await Storage.open(settings.database_path)
    except (StartupError, StorageOpenError) as exc:
        await application.shutdown()
        await asyncio.to_thread(heartbeat.mark_stopped, str(exc))
        raise
    return _assemble(settings, application, heartbeat, storage)


def _assemble(
    settings: Settings, application: PTBApplication, heartbeat: Heartbeat, storage: Storage
) -> Postino:
    """Every service, wired; the database is open and Telegram has answered."""
    metrics = Metrics()
    carrier = TrackingMoreClient(
        settings.trackingmore_api_base_url,
        settings.trackingmore_api_key,
        settings.carrier_timeout_seconds,
    )
    sender = ChatSender(application.bot, storage)
    notifier = Notifier(
        sender,
        storage,
        default_language=settings.default_language,
        max_attempts=settings.outbox_max_attempts,
        on_sent=metrics.observe_sent,
    )
    recorder = ChangeRecorder(storage, notifier.wake)
    registrar = Registrar(storage, carrier, recorder)
    book = CourierBook()
    use_courier_book(book)
    couriers = CourierDirectory(carrier, book)
    poller = Poller(
        storage,
        carrier,
        recorder,
        registrar,
        couriers,
        archive_after=timedelta(days=settings.archive_after_days),
    )
    tracker = Tracker(
        storage,
        carrier,
        recorder,
        registrar,
        couriers,
        max_shipments_per_chat=settings.max_shipments_per_chat,
        registration_timeout=settings.carrier_timeout_seconds * 2,
    )
    alerts = AdminAlerts(
        sender,
        storage,
        settings.admin_user_ids,
        default_language=settings.default_language,
        down_after_cycles=settings.carrier_down_alert_cycles,
    )
    poller.add_health_listener(alerts.on_health)
    storage.database.add_write_listener(alerts.on_storage)
    poller.add_health_listener(heartbeat.on_poll_cycle)
    digests = Digests(
        sender, storage, default_language=settings.default_language, stale_days=settings.stale_days
    )
    access = AccessPolicy(
        allowed_user_ids=settings.allowed_user_ids,
        allowed_chat_ids=settings.allowed_chat_ids,
        admin_user_ids=settings.admin_user_ids,
    )
    services = Services(
        settings, storage, carrier, tracker, poller, notifier, access, digests, couriers
    )
    application.bot_data[SERVICES_KEY] = services

    async def scrape() -> ScrapeInputs:
        return ScrapeInputs(
            gauges=await storage.reports.gauges(),
            api_calls=dict(carrier.stats.calls),
            poll=poller.state,
            heartbeat=heartbeat.record,
            notifications_given_up=notifier.failed_count,
        )

    web = None
    if settings.webhook_listen is not None:
        web = WebServer(
            settings,
            heartbeat,
            metrics,
            bot=application.bot,
            updates=application.update_queue,
            ingest_pushed=PushedChanges(storage, carrier, recorder).ingest,
            scrape=scrape,
        )
    telegram_webhook = (
        TelegramWebhook(application.bot, settings, ALLOWED_UPDATES)
        if settings.telegram_webhook_url
        else None
    )
    backups = AutomaticBackups.of(settings, alerts.on_backup) if settings.backup_dir else None
    return Postino(
        settings,
        application,
        services,
        heartbeat,
        metrics,
        alerts,
        registrar,
        web,
        telegram_webhook,
        backups,
    )


async def save_api_usage(services: Services) -> None:
    counts = services.carrier.stats.take_unsaved()
    if counts:
        await services.storage.reports.add_api_usage(today(), counts)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve(settings: Settings) -> None:
    """`python -m bot`: run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    postino = await open_bot(settings, stop)
    try:
        await postino.start()
        await stop.wait()
        logger.info("stop requested; shutting down")
    finally:
        await postino.stop()
    logger.info("postino stopped")
