"""Wiring: build the PTB application and the services, run until a stop signal.

The run loop is explicit (not `run_polling`) so that shutdown happens in the order that
loses nothing: stop taking updates, end the poll cycle, let the sender finish the message in
flight, stop the job queue, close the carrier client and the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.carrier import TrackingMoreClient
from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.core.times import today
from bot.handlers.context import SERVICES_KEY, Context, Services
from bot.handlers.follow import register_handlers, set_command_menus
from bot.ops.health import Heartbeat, RoundTripRecordingRequest
from bot.ops.operations import Operations
from bot.outbound.alerts import AdminAlerts
from bot.outbound.digest import schedule_digest_job
from bot.outbound.notifier import Notifier
from bot.storage import SCHEMA_VERSION, Notification, Storage
from bot.texts.render import set_bot_username
from bot.tracking.poller import Poller
from bot.tracking.registrar import Registrar
from bot.tracking.tracker import Tracker

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]
TELEGRAM_START_RETRY_MAX = 60.0
MESSAGES_PER_SECOND = 30
OVERALL_BURST = 3
MESSAGES_PER_MINUTE_PER_GROUP = 20

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
        .get_updates_request(RoundTripRecordingRequest(heartbeat, connection_pool_size=1))
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


async def open_services(
    application: PTBApplication,
    settings: Settings,
    *,
    on_sent: Callable[[Notification], None] | None = None,
) -> Services:
    storage = await Storage.open(settings.database_path)
    carrier = TrackingMoreClient(
        settings.trackingmore_api_base_url,
        settings.trackingmore_api_key,
        settings.carrier_timeout_seconds,
    )
    notifier = Notifier(
        application.bot,
        storage,
        default_language=settings.default_language,
        max_attempts=settings.outbox_max_attempts,
        on_sent=on_sent,
    )
    registrar = Registrar(storage, carrier)
    poller = Poller(
        storage,
        carrier,
        on_changes=lambda _changes: notifier.wake(),
        archive_after=timedelta(days=settings.archive_after_days),
        registrar=registrar,
    )
    tracker = Tracker(
        storage,
        carrier,
        max_shipments_per_chat=settings.max_shipments_per_chat,
        registration_timeout=settings.carrier_timeout_seconds * 2,
        registrar=registrar,
    )
    alerts = AdminAlerts(
        application.bot,
        storage,
        settings.admin_user_ids,
        default_language=settings.default_language,
        down_after_cycles=settings.carrier_down_alert_cycles,
    )
    poller.add_health_listener(alerts.on_health)
    services = Services(
        settings,
        storage,
        carrier,
        tracker,
        registrar,
        poller,
        notifier,
        AccessPolicy(settings),
        alerts,
    )
    application.bot_data[SERVICES_KEY] = services
    return services


async def close_services(services: Services) -> None:
    await services.registrar.close()
    await save_api_usage(services)
    await services.carrier.aclose()
    await services.storage.close()


async def save_api_usage(services: Services) -> None:
    counts = services.carrier.stats.take_unsaved()
    if counts:
        await services.storage.reports.add_api_usage(today(), counts)


async def _poll_job(context: Context) -> None:
    await context.services.poller.run_cycle()
    await save_api_usage(context.services)


def schedule_jobs(application: PTBApplication, services: Services) -> None:
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        _poll_job,
        interval=services.settings.poll_interval_seconds,
        first=1.0,
        name="poll",
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    schedule_digest_job(application.job_queue)
    services.notifier.start()


async def _initialize_telegram(application: PTBApplication, stop: asyncio.Event) -> None:
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
        try:
            await asyncio.wait_for(stop.wait(), delay)
            raise StartupError("stopped before Telegram could be reached")
        except TimeoutError:
            delay = min(TELEGRAM_START_RETRY_MAX, delay * 2)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    operations = Operations(settings)
    application = build_application(settings, operations.heartbeat)
    services = await open_services(application, settings, on_sent=operations.metrics.observe_sent)
    operations.attach(application, services, ALLOWED_UPDATES)
    try:
        await _initialize_telegram(application, stop)
        set_bot_username(application.bot.username)
        logger.info(
            "postino started as @%s (schema v%d, polling TrackingMore every %g s, %s)",
            application.bot.username,
            SCHEMA_VERSION,
            settings.poll_interval_seconds,
            "open to everyone" if settings.access_is_open else "restricted access",
        )
        operations.log_configuration()
        await set_command_menus(application)
        await application.start()
        await operations.start_web_server()
        await _receive_updates(application, operations)
        schedule_jobs(application, services)
        assert application.job_queue is not None
        operations.schedule(application.job_queue)
        await stop.wait()
        logger.info("stop requested; shutting down")
    finally:
        await operations.stop_web_server()
        await _shutdown(application, services)
        operations.mark_stopped()
    logger.info("postino stopped")


async def _receive_updates(application: PTBApplication, operations: Operations) -> None:
    """Webhook mode when TELEGRAM_WEBHOOK_URL is set, long polling otherwise."""
    if operations.telegram_webhook is not None:
        await operations.telegram_webhook.register()
        return
    assert application.updater is not None
    await application.updater.start_polling(
        allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1, timeout=10
    )


async def _shutdown(application: PTBApplication, services: Services) -> None:
    """Stop taking updates, end the poll cycle, finish the send in flight, then close."""
    if application.updater is not None and application.updater.running:
        try:
            await application.updater.stop()
        except Exception:
            # Shutting down anyway: a failed last getUpdates must not leave the bot hanging.
            logger.exception("stopping the Telegram updater failed")
    services.poller.cancel()
    await services.notifier.stop()
    if application.running:
        await application.stop()
    await close_services(services)
    await application.shutdown()
