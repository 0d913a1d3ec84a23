"""The real application run inside the test process, for tests that need no process of its own.

``python -m bot`` is ``load_settings`` + :func:`bot.app.open_bot` + ``Postino.start`` + wait +
``Postino.stop``; :class:`InProcessBot` does the same on an event loop in a thread of its own,
so the synchronous tests drive it exactly as they drive a :class:`harness.BotProcess`: updates
reach it by long polling the fake Telegram, it polls the fake TrackingMore, both over real HTTP.
What it saves is the interpreter start and the imports (most of a bot process's CPU time).

What needs a real process (start-up, restarts, signals, crashes, configuration errors, the
CLI) stays with :class:`harness.BotProcess`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import RunningBot

from bot.app import Postino, open_bot
from bot.config import load_settings
from bot.ops.logs import RedactingFormatter

if TYPE_CHECKING:
    from fakes.telegram import FakeTelegram

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0
# As bot.ops.logs.setup_logging: these log every request URL (which holds the token).
_QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiosqlite")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _BotThreadsOnly(logging.Filter):
    """Only what the bot logs: not the test thread, nor the fake servers' threads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != "MainThread" and not record.threadName.endswith("-loop")


class InProcessBot(RunningBot):
    """The bot's application and services on an event loop in a thread of this process."""

    def __init__(self, env: Mapping[str, str], workdir: Path, name: str = "bot") -> None:
        self.env = dict(env)
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._postino: Postino | None = None
        self._handler: logging.Handler | None = None
        self._saved_levels: dict[str, int] = {}
        self._started_at = 0.0

    @property
    def alive(self) -> bool:
        return self._postino is not None and self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        settings = load_settings(self.env)
        self._start_logging(settings.log_level, settings.secrets)
        self._started_at = time.monotonic()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"{self.name}-app", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._postino = self._run(self._open_and_start(settings), _START_TIMEOUT)
        except BaseException:
            self._close_loop()
            self._stop_logging()
            raise

    async def _open_and_start(self, settings: Any) -> Postino:
        postino = await open_bot(settings)
        try:
            await postino.start()
        except BaseException:
            await postino.stop()
            raise
        return postino

    def wait_ready(self, fake_tg: FakeTelegram, timeout: float = 30) -> None:
        """Wait until the bot polls getUpdates after this start."""
        fake_tg.wait_until(
            lambda f: any(c["time"] >= self._started_at for c in f.calls("getUpdates")),
            timeout,
            f"{self.name} to call getUpdates",
        )

    def stop(self, timeout: float = _STOP_TIMEOUT) -> tuple[int, float]:
        """Stop as ``python -m bot`` does on SIGTERM; returns (0, seconds taken)."""
        began = time.monotonic()
        postino, self._postino = self._postino, None
        try:
            if postino is not None:
                self._run(postino.stop(), timeout)
        finally:
            self._close_loop()
            self._stop_logging()
            _forget_process_wide_state()
        return 0, time.monotonic() - began

    def restart(self) -> None:
        raise NotImplementedError("restarts are tested with a real process (harness.BotProcess)")

    # -- plumbing ----------------------------------------------------------------------------

    def _run(self, coroutine: Any, timeout: float) -> Any:
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def _close_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    def _start_logging(self, level: str, secrets: Any) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(RedactingFormatter(_FORMAT, secrets))
        handler.addFilter(_BotThreadsOnly())
        root = logging.getLogger()
        self._saved_levels = {name: logging.getLogger(name).level for name in ("", *_QUIET_LOGGERS)}
        root.addHandler(handler)
        root.setLevel(level)
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self._handler = handler

    def _stop_logging(self) -> None:
        if self._handler is None:
            return
        logging.getLogger().removeHandler(self._handler)
        self._handler.close()
        self._handler = None
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)


def _forget_process_wide_state() -> None:
    """What a running bot sets for the whole process (its @name in deep links, the courier
    list) must not leak into the next test of this worker."""
    from bot.core.couriers import CourierBook
    from bot.texts.couriers import use_courier_book
    from bot.texts.links import set_bot_username

    set_bot_username(None)
    use_courier_book(CourierBook())
