"""The bot's one HTTP server (aiohttp), on WEBHOOK_LISTEN only.

- `POST /trackingmore/webhook`: TrackingMore pushes (when TRACKINGMORE_WEBHOOK_SECRET is
  set). Checked by `PushGuard`, answered at once, then fetched and recorded in the
  background exactly as a poll would (`bot.tracking.pushes`).
- `POST /telegram/<path>`: Telegram updates in webhook mode (TELEGRAM_WEBHOOK_URL).
- `GET /healthz`: 200 or 503 with the heartbeat as JSON.
- `GET /metrics`: Prometheus text.

The access log is off: the Telegram path is a secret.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from telegram import Bot, Update

from bot.config import Settings
from bot.core.shipments import Change
from bot.ops.health import Heartbeat, Thresholds
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.tracking.pushes import PushGuard, Verdict

logger = logging.getLogger(__name__)

TRACKINGMORE_PATH = "/trackingmore/webhook"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 4 * 1024 * 1024
STOP_GRACE_SECONDS = 5.0


PushIngest = Callable[[list[Any]], Awaitable[list[Change]]]
ScrapeSource = Callable[[], Awaitable[ScrapeInputs]]


class WebServer:
    def __init__(
        self,
        settings: Settings,
        heartbeat: Heartbeat,
        metrics: Metrics,
        *,
        bot: Bot,
        updates: asyncio.Queue[object],
        ingest_pushed: PushIngest,
        scrape: ScrapeSource,
    ) -> None:
        self._settings = settings
        self._heartbeat = heartbeat
        self._metrics = metrics
        self._bot = bot
        self._updates = updates
        self._ingest_pushed = ingest_pushed
        self._scrape = scrape
        self._guard = PushGuard(self._settings.trackingmore_webhook_secret)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        if self._settings.trackingmore_pushes_on:
            app.router.add_post(TRACKINGMORE_PATH, self._trackingmore_push)
        if self._settings.telegram_webhook_url:
            app.router.add_post(self._settings.telegram_webhook_path, self._telegram_update)
        return app

    async def start(self) -> None:
        assert self._settings.webhook_listen is not None
        host, port = self._settings.webhook_listen
        runner = web.AppRunner(
            self._build_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=STOP_GRACE_SECONDS,
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        logger.info(
            "listening on %s:%d (TrackingMore pushes %s, Telegram %s)",
            host,
            port,
            "on" if self._settings.trackingmore_pushes_on else "off",
            "webhook" if self._settings.telegram_webhook_url else "long polling",
        )

    async def stop(self) -> None:
        """Stop taking requests, then let the pushes being stored finish (bounded)."""
        if self._runner is None:
            return
        for site in list(self._runner.sites):
            await site.stop()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        await self._runner.cleanup()
        self._runner = None

    # --- TrackingMore -------------------------------------------------------------------

    async def _trackingmore_push(self, request: web.Request) -> web.Response:
        body = await request.read()
        verdict = self._guard.check(
            request.headers.get("timestamp"), request.headers.get("signature"), body
        )
        if verdict != Verdict.ACCEPTED:
            self._metrics.count_webhook("trackingmore", verdict.value)
            logger.warning("TrackingMore push refused: %s", verdict.value)
            return web.json_response({"error": verdict.value}, status=401)
        trackings = _trackings_in(body)
        if trackings is None:
            self._metrics.count_webhook("trackingmore", "malformed")
            logger.warning("TrackingMore push refused: body is not {meta, data}")
            return web.json_response({"error": "malformed"}, status=400)
        self._metrics.count_webhook("trackingmore", verdict.value)
        self._spawn(self._ingest(trackings))
        return web.json_response({"ok": True})

    async def _ingest(self, trackings: list[Any]) -> None:
        try:
            changes = await self._ingest_pushed(trackings)
        except Exception:
            logger.exception("a TrackingMore push could not be stored; the next poll will")
            return
        logger.info("TrackingMore push: %d tracking(s), %d change(s)", len(trackings), len(changes))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- Telegram -----------------------------------------------------------------------

    async def _telegram_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(TELEGRAM_SECRET_HEADER, "").encode()
        expected = self._settings.telegram_webhook_secret_token.encode()
        if not hmac.compare_digest(given, expected):
            self._metrics.count_webhook("telegram", "forged")
            logger.warning("Telegram webhook request with a wrong secret token refused")
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self._bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            self._metrics.count_webhook("telegram", "malformed")
            return web.Response(status=400)
        if update is None:
            self._metrics.count_webhook("telegram", "malformed")
            return web.Response(status=400)
        self._metrics.count_webhook("telegram", "accepted")
        await self._updates.put(update)
        return web.Response(status=200)

    # --- health and metrics -------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = self._heartbeat.record.report(Thresholds.of(self._settings), time.time())
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        body = self._metrics.render(await self._scrape())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _trackings_in(body: bytes) -> list[Any] | None:
    """The tracking objects of a push body `{"meta": …, "data": {…} or [{…}, …]}`."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    return None
