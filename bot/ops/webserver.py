"""The bot's one HTTP server (aiohttp), on WEBHOOK_LISTEN only.

- `POST /trackingmore/webhook`: TrackingMore pushes (when TRACKINGMORE_WEBHOOK_SECRET is
  set). Checked by `PushGuard`, answered at once, then fetched and recorded in the
  background exactly as a poll would (`bot.tracking.pushes`).
- `POST /telegram/<path>`: Telegram updates in webhook mode (TELEGRAM_WEBHOOK_URL); one
  any replica took before (Telegram retrying) is answered 200 and dropped.
- `GET /healthz`: 200 or 503 with the heartbeat as JSON: this replica's name and role and,
  with replicas (PostgreSQL), every replica heard from in the last minute with its role. A
  standby is healthy while it keeps checking for the lead (it neither polls nor long-polls).
- `GET /metrics`: Prometheus text.
- `/desk/…`: the web desk (its page and JSON API), when the composition root gives one
  (`desk`: it builds the aiohttp sub-application; ops knows nothing of it).

At the edge (`_edge`, before any handler): unknown paths get 404 and wrong methods 405;
`/healthz` and `/metrics` answer only METRICS_ALLOW (others get 403); a body over 1 MB gets
413 from its Content-Length alone, unread, and a body without one is cut off at 1 MB; a
client that takes more than HEADERS_TIMEOUT_SECONDS for its request line and headers, or
BODY_TIMEOUT_SECONDS for its body, is dropped (408 for the body). Error answers are one
plain word — no stack trace, no version — and no answer has a `Server` header.

The access log is off: the Telegram path is a secret.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from telegram import Bot, Update

from bot.config import Settings
from bot.core.shipments import Change
from bot.ops.bare_http import BareAppRunner, plain
from bot.ops.health import Heartbeat, Thresholds
from bot.ops.metrics import Metrics, ScrapeInputs
from bot.ops.telegram_updates import readable_update, update_id_of
from bot.storage.coordination import Replica
from bot.storage.database import StorageWriteError
from bot.tracking.pushes import PushGuard, Verdict

logger = logging.getLogger(__name__)

TRACKINGMORE_PATH = "/trackingmore/webhook"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1024 * 1024
HEADERS_TIMEOUT_SECONDS = 10.0  # from connecting (or the last answer) to a whole request head
BODY_TIMEOUT_SECONDS = 10.0
LINGER_SECONDS = 2.0
STOP_GRACE_SECONDS = 5.0
RESTRICTED_PATHS = frozenset({"/healthz", "/metrics"})


PushIngest = Callable[[list[Any]], Awaitable[list[Change]]]
ScrapeSource = Callable[[], Awaitable[ScrapeInputs]]
UpdateSighting = Callable[[int], Awaitable[bool]]  # True the first time an update_id is seen
PushSighting = Callable[[str], Awaitable[bool]]  # True the first time a push's key is seen
ReplicaList = Callable[[], Awaitable[list[Replica]]]
DeskApp = Callable[[], web.Application]  # builds the desk's sub-application, mounted at /desk/
DESK_PREFIX = "/desk"
REPLICAS_TIMEOUT_SECONDS = 3.0


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
        first_update_sighting: UpdateSighting | None = None,
        first_push_sighting: PushSighting | None = None,
        replicas: ReplicaList | None = None,
        desk: DeskApp | None = None,
    ) -> None:
        """`first_update_sighting` and `first_push_sighting` (storage.coordination's
        `first_sighting_of_update` and `first_sighting_of_push`) are every replica's memory
        of the Telegram updates and TrackingMore pushes taken; without them nothing skips a
        repeated update and only this process remembers the pushes. `replicas`
        (`Leadership.replicas`, PostgreSQL only) lists the replicas in `/healthz`."""
        self._settings = settings
        self._heartbeat = heartbeat
        self._metrics = metrics
        self._bot = bot
        self._updates = updates
        self._ingest_pushed = ingest_pushed
        self._scrape = scrape
        self._first_update_sighting = first_update_sighting
        self._replicas = replicas
        self._desk = desk
        self._guard = PushGuard(
            self._settings.trackingmore_webhook_secret, first_sighting=first_push_sighting
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    def _build_app(self) -> web.Application:
        # aiohttp refuses a body of client_max_size bytes or more: exactly 1 MB still passes.
        app = web.Application(client_max_size=MAX_BODY_BYTES + 1, middlewares=[self._edge])
        app.on_response_prepare.append(_without_server_header)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        if self._settings.trackingmore_pushes_on:
            app.router.add_post(TRACKINGMORE_PATH, self._trackingmore_push)
        if self._settings.telegram_webhook_url:
            app.router.add_post(self._settings.telegram_webhook_path, self._telegram_update)
        if self._desk is not None:
            app.router.add_get(DESK_PREFIX, _to_desk)
            app.add_subapp(DESK_PREFIX + "/", self._desk())
        return app

    async def start(self) -> None:
        assert self._settings.webhook_listen is not None
        host, port = self._settings.webhook_listen
        runner = BareAppRunner(
            self._build_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=STOP_GRACE_SECONDS,
            # Also closes a connection whose request head is not complete in time.
            keepalive_timeout=HEADERS_TIMEOUT_SECONDS,
            # After an early answer (413, 408), the rest of a body is read and dropped this
            # long at most, so the client can still read the answer.
            lingering_time=LINGER_SECONDS,
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

    # --- the edge -----------------------------------------------------------------------

    @web.middleware
    async def _edge(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            refusal = await self._refusal(request)
            return refusal if refusal is not None else await handler(request)
        except web.HTTPException as exc:
            return plain(exc.status)
        except Exception:
            # Never the path in the log: the Telegram path is a secret.
            logger.exception("the web server failed to answer a %s request", request.method)
            return plain(HTTPStatus.INTERNAL_SERVER_ERROR)

    async def _refusal(self, request: web.Request) -> web.Response | None:
        """The answer when the request must not reach its handler; its body read otherwise."""
        routing_error = request.match_info.http_exception
        if routing_error is not None:
            return plain(routing_error.status)
        if request.path in RESTRICTED_PATHS and not self._may_read_metrics(request.remote):
            return plain(HTTPStatus.FORBIDDEN)
        if request.method != "POST":
            return None
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                await request.read()  # kept by aiohttp for the handler's read() or json()
        except TimeoutError:
            logger.warning("a web client took over %g s to send its body", BODY_TIMEOUT_SECONDS)
            response = plain(HTTPStatus.REQUEST_TIMEOUT)
            response.force_close()
            return response
        return None

    def _may_read_metrics(self, remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address((remote or "").partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._settings.metrics_allow)

    # --- TrackingMore -------------------------------------------------------------------

    async def _trackingmore_push(self, request: web.Request) -> web.Response:
        body = await request.read()
        verdict = await self._guard.admit(
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
        except ValueError:
            data = None
        update_id = update_id_of(data)
        if update_id is None:  # not an update at all
            self._metrics.count_webhook("telegram", "malformed")
            return web.Response(status=400)
        if readable_update(data) is not data:
            # Telegram's update, which the library cannot read (logged): skipped, answered 200
            # so that Telegram does not send it again and again ahead of the others.
            self._metrics.count_webhook("telegram", "malformed")
            return web.Response(status=200)
        if not await self._first_sighting_of(update_id):
            # Telegram sent it again (it timed out waiting for an answer, maybe from another
            # replica): taken already, so answered 200 and dropped.
            self._metrics.count_webhook("telegram", "repeated")
            logger.debug("Telegram update %d came again; dropped", update_id)
            return web.Response(status=200)
        update = Update.de_json(data, self._bot)
        self._metrics.count_webhook("telegram", "accepted")
        await self._updates.put(update)
        return web.Response(status=200)

    async def _first_sighting_of(self, update_id: int) -> bool:
        """Whether no replica took this update before. When the database cannot take the
        sighting (a full disk) the update is taken all the same: the bot still answers
        what needs no writing, and says it cannot save the rest."""
        if self._first_update_sighting is None:
            return True
        try:
            return await self._first_update_sighting(update_id)
        except StorageWriteError:
            logger.debug("cannot note Telegram update %d as taken; taken anyway", update_id)
            return True

    # --- health and metrics -------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        """The heartbeat's own verdict (`HeartbeatRecord.report`, as `python -m bot health`
        gives it); the list of replicas is information only and never changes the status."""
        report = self._heartbeat.record.report(Thresholds.of(self._settings), time.time())
        if self._replicas is not None:
            report["replicas"] = await self._replica_list()
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    async def _replica_list(self) -> list[dict[str, Any]] | None:
        """Every replica heard from lately, leader first; None when the database cannot say."""
        assert self._replicas is not None
        try:
            async with asyncio.timeout(REPLICAS_TIMEOUT_SECONDS):
                replicas = await self._replicas()
        except Exception as exc:
            logger.debug("/healthz cannot list the replicas: %s", exc)
            return None
        return [
            {"name": r.name, "role": r.role, "pid": r.pid, "seen_at": r.seen_at} for r in replicas
        ]

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        body = self._metrics.render(await self._scrape())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _without_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.pop("Server", None)


async def _to_desk(_request: web.Request) -> web.Response:
    # Relative: behind a proxy that serves the bot under a path, it stays under that path.
    return web.Response(status=HTTPStatus.PERMANENT_REDIRECT, headers={"Location": "desk/"})


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
