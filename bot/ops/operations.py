"""What a self-hoster runs the bot with: heartbeat, metrics, the web server and webhooks.

`app.serve` creates one `Operations`, hands its heartbeat to PTB's requests and its
metrics to the notifier, then starts, schedules and stops it around the bot's own life.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from telegram.ext import JobQueue

from bot.config import Settings
from bot.handlers.context import Services
from bot.ops.configuration import configuration_lines
from bot.ops.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat, heartbeat_path
from bot.ops.metrics import Metrics
from bot.ops.telegram_webhook import WATCH_INTERVAL_SECONDS, TelegramWebhook
from bot.ops.webserver import WebServer

logger = logging.getLogger(__name__)


class Operations:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.heartbeat = Heartbeat(heartbeat_path(settings.database_path))
        self.metrics = Metrics()
        self._web: WebServer | None = None
        self._telegram_webhook: TelegramWebhook | None = None

    def attach(self, application: Any, services: Services, allowed_updates: Sequence[str]) -> None:
        services.poller.add_health_listener(self.heartbeat.on_poll_cycle)
        if self.settings.webhook_listen is not None:
            self._web = WebServer(application, services, self.heartbeat, self.metrics)
        if self.settings.telegram_webhook_url:
            self._telegram_webhook = TelegramWebhook(
                application.bot, self.settings, allowed_updates
            )

    @property
    def telegram_webhook(self) -> TelegramWebhook | None:
        """Set in webhook mode: updates come in through the web server, not getUpdates."""
        return self._telegram_webhook

    def log_configuration(self) -> None:
        logger.info("configuration: %s", ", ".join(configuration_lines(self.settings)))

    async def start_web_server(self) -> None:
        if self._web is not None:
            await self._web.start()

    def schedule(self, job_queue: JobQueue[Any]) -> None:
        job_queue.run_repeating(
            self.heartbeat.save_job, interval=HEARTBEAT_INTERVAL_SECONDS, first=0, name="heartbeat"
        )
        if self._telegram_webhook is not None:
            job_queue.run_repeating(
                self._telegram_webhook.watch_job,
                interval=WATCH_INTERVAL_SECONDS,
                first=WATCH_INTERVAL_SECONDS,
                name="telegram-webhook",
            )

    async def stop_web_server(self) -> None:
        if self._web is not None:
            await self._web.stop()

    def mark_stopped(self) -> None:
        self.heartbeat.mark_stopped()
