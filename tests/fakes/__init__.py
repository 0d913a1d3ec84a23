"""Plumbing shared by the fake servers of the postino test-suite.

Each fake is an aiohttp application served on 127.0.0.1 (random port) by an event loop that
runs in its own daemon thread, so plain synchronous pytest tests can drive it. The state of a
fake lives behind one ``threading.Condition`` (re-entrant), which the HTTP handlers and the
test thread share; every state change notifies it so the ``wait_*`` helpers wake up.

The fakes themselves live in :mod:`fakes.telegram` and :mod:`fakes.trackingmore`.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")

HOST = "127.0.0.1"
_LOOP_CALL_TIMEOUT = 10.0
_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class BackgroundServer:
    """An aiohttp application served from a daemon thread; subclasses provide ``_build_app``."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve until :meth:`stop`."""
        if self._loop is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name=f"{type(self).__name__}-loop", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        self._port = self._run_in_loop(self._serve())
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); pending handlers get at most one second to finish."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._run_in_loop(self._shutdown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self._port}"

    def _build_app(self) -> web.Application:
        raise NotImplementedError

    def _new_app(self) -> web.Application:
        """An application that accepts large multipart uploads (documents)."""
        return web.Application(client_max_size=_MAX_UPLOAD_BYTES)

    async def _serve(self) -> int:
        runner = web.AppRunner(
            self._build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        self._runner, self._site = runner, site
        return int(runner.addresses[0][1])

    def go_offline(self) -> None:
        """Close the listening socket: clients get "connection refused" until go_online()."""
        self._run_in_loop(self._close_site())

    def go_online(self) -> None:
        """Listen again on the same port."""
        self._run_in_loop(self._reopen_site())

    async def _close_site(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            # Kept-alive connections would otherwise keep working.
            for connection in self._runner.server.connections:
                connection.force_close()

    async def _reopen_site(self) -> None:
        if self._site is None and self._runner is not None:
            self._site = web.TCPSite(self._runner, HOST, self._port, reuse_address=True)
            await self._site.start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _run_in_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=_LOOP_CALL_TIMEOUT)

    def _call_in_loop(self, callback: Callable[[], None]) -> None:
        """Schedule ``callback`` on the server loop; nothing happens while stopped."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    # -- waiting ---------------------------------------------------------------------------

    def _wait(self, predicate: Callable[[], T], timeout: float, what: str) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every state change)."""
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
            if not result:
                raise AssertionError(
                    f"{type(self).__name__}: timed out after {timeout}s waiting for {what}\n"
                    f"{self._dump()}"
                )
            return result

    def _changed(self) -> None:
        """Wake every waiter; call after each state change."""
        with self._cond:
            self._cond.notify_all()

    def _dump(self) -> str:
        """What the fake has seen so far, for timeout messages."""
        raise NotImplementedError


class TokenBucket:
    """A classic token bucket: ``capacity`` tokens, refilled at ``rate`` tokens per second."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_seconds(self) -> float:
        """Seconds until one token is available (0.0 when one is available now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def take(self) -> None:
        self._refill()
        self._tokens -= 1.0


def take_all_or_wait(buckets: list[TokenBucket]) -> int:
    """Take one token from every bucket, or none; returns 0 or the whole seconds to wait."""
    wait = max(bucket.wait_seconds() for bucket in buckets)
    if wait > 0:
        return max(1, math.ceil(wait))
    for bucket in buckets:
        bucket.take()
    return 0
