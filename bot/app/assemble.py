"""Building the bot: every service, wired (`open_bot`), and the run loop (`serve`).

Start-up asks Telegram first (getMe; a refused token stops it), then opens the database. The
run loop is explicit (not `run_polling`), so that shutdown runs `Postino.stop` in its order.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from bot.app.desk import desk_app
from bot.app.running import ALLOWED_UPDATES, Postino
from bot.app.startup import (
    PTBApplication,
    StartupError,
    build_application,
    initialize_telegram,
    open_storage,
)
from bot.carrier import TrackingMoreClient
from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.core.couriers import CourierBook
from bot.handlers.context import SERVICES_KEY, Services
from bot.handlers.roles import ChatRoles
from bot.ops.backups import AutomaticBackups
from bot.ops.health import Heartbeat, heartbeat_path
from bot.ops.leadership import Leadership
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.ops.telegram_webhook import TelegramWebhook
from bot.ops.webserver import WebServer
from bot.outbound.alerts import AdminAlerts
from bot.outbound.digest import Digests
from bot.outbound.notifier import Notifier
from bot.outbound.sender import ChatSender
from bot.storage import Storage, StorageOpenError
from bot.storage.instance_lock import InstanceLock
from bot.storage.leases import (
    AdvisoryLeaderLock,
    LeaderLock,
    OutboxSignal,
    SharedPace,
    SoleProcess,
)
from bot.storage.maintenance import check_database_location
from bot.storage.postgres import PostgresDatabase
from bot.texts.couriers import use_courier_book
from bot.tracking.couriers import CourierDirectory
from bot.tracking.poller import Poller
from bot.tracking.pushes import PushedChanges
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import Registrar
from bot.tracking.tracker import Tracker

logger = logging.getLogger(__name__)


async def open_bot(settings: Settings, stop: asyncio.Event | None = None) -> Postino:
    """Telegram first (getMe, with patience until `stop` is set: a refused token stops here,
    before the database is created or migrated), then the database and every service;
    nothing is sent yet. The heartbeat file says "starting" from the first moment."""
    instance_lock = None
    if not settings.on_postgres:
        check_database_location(settings.database_path)  # creates nothing
    heartbeat = Heartbeat(heartbeat_path(settings), settings.replica_name)
    await asyncio.to_thread(heartbeat.starting)
    application = build_application(settings, heartbeat)
    try:
        await initialize_telegram(application, heartbeat, stop or asyncio.Event())
        await asyncio.to_thread(heartbeat.save_logging_errors)  # Telegram answered: running
        if not settings.on_postgres:
            # Before the database opens: a second process on the same file stops here.
            instance_lock = InstanceLock.acquire(settings.database_path)
        storage = await open_storage(settings, heartbeat, stop or asyncio.Event())
    except (StartupError, StorageOpenError) as exc:
        await application.shutdown()
        await asyncio.to_thread(heartbeat.mark_stopped, str(exc))
        if instance_lock is not None:
            instance_lock.release()
        raise
    postino = _assemble(settings, application, heartbeat, storage)
    postino.instance_lock = instance_lock
    return postino


def _assemble(
    settings: Settings, application: PTBApplication, heartbeat: Heartbeat, storage: Storage
) -> Postino:
    """Every service, wired; the database is open and Telegram has answered."""
    metrics = Metrics()
    database = storage.database
    shared = isinstance(database, PostgresDatabase)  # replicas may share it
    lock: LeaderLock = SoleProcess()
    pace, outbox_signal = None, None
    if isinstance(database, PostgresDatabase):
        lock, pace = AdvisoryLeaderLock(database), SharedPace(database)
        outbox_signal = OutboxSignal(database)
    carrier = TrackingMoreClient(
        settings.trackingmore_api_base_url,
        settings.trackingmore_api_key,
        settings.carrier_timeout_seconds,
        pace=pace,
    )
    sender = ChatSender(application.bot, storage)
    notifier = Notifier(
        sender,
        storage,
        default_language=settings.default_language,
        max_attempts=settings.outbox_max_attempts,
        on_sent=metrics.observe_sent,
    )

    def queued() -> None:
        notifier.wake()
        if outbox_signal is not None:  # the leader's sender may be in another replica
            outbox_signal.ring_soon()

    recorder = ChangeRecorder(storage, queued)
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
    leadership = Leadership(lock, storage, settings.replica_name)
    roles = ChatRoles(application.bot, access)
    services = Services(
        settings, storage, carrier, tracker, poller, notifier, access, digests, couriers, roles
    )
    application.bot_data[SERVICES_KEY] = services

    async def scrape() -> ScrapeInputs:
        return ScrapeInputs(
            gauges=await storage.reports.gauges(),
            api_calls=dict(carrier.stats.calls),
            poll=poller.state,
            heartbeat=heartbeat.record,
            notifications_given_up=notifier.failed_count,
            replicas=await leadership.replicas() if shared else None,
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
            first_update_sighting=storage.coordination.first_sighting_of_update,
            first_push_sighting=storage.coordination.first_sighting_of_push,
            replicas=leadership.replicas if shared else None,
            desk=desk_app(settings, storage, tracker, access, roles, application.bot),
        )
    telegram_webhook = (
        TelegramWebhook(application.bot, settings, ALLOWED_UPDATES)
        if settings.telegram_webhook_url
        else None
    )
    backups = (
        AutomaticBackups.of(settings, alerts.on_backup)
        if settings.backup_dir and not shared
        else None
    )
    if settings.backup_dir and shared:
        logger.warning(
            "BACKUP_DIR=%s is ignored: automatic backups are for SQLite; back PostgreSQL up "
            "with pg_dump (`python -m bot backup PATH` prints the command)",
            settings.backup_dir,
        )
    postino = Postino(
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
        leadership,
        outbox_signal=outbox_signal,
    )
    leadership.bind(
        on_gain=postino.start_leading,
        on_loss=postino.stop_leading,
        on_checked=heartbeat.role_checked,
    )
    return postino


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
