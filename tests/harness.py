"""Run the real bot (``python -m bot``) as a subprocess configured only by its environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakes.telegram import FakeTelegram

REPO_ROOT = Path(__file__).resolve().parents[1]
LOG_TAIL_LINES = 60
_READY_POLL_SECONDS = 0.05
# After the bot demonstrably did the work that would produce a message (a poll cycle stored
# the change, a handler took the update), how long its sender may take to send it: it sends
# within milliseconds, so this only covers a loaded machine.
SEND_SETTLE_SECONDS = 0.3
HANDLER_SETTLE_SECONDS = 0.5


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment plus ``extra``: nothing else leaks in from the test process."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", str(Path.home())),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
        **extra,
    }


def run_cli(
    args: list[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m bot *args`` to completion with the clean environment; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO_ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a bot's web server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """`predicate()`'s first truthy value, polled every 50 ms; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def settle_updates(fake_tg: FakeTelegram) -> None:
    """The bot took every injected update, and its handlers had the time to answer them."""
    fake_tg.wait_for_updates_taken()
    time.sleep(HANDLER_SETTLE_SECONDS)


class RunningBot:
    """What tests observe of a running bot, in a process or in this one: its log file and
    its heartbeat file (next to the database)."""

    env: dict[str, str]
    name: str
    log_path: Path

    @property
    def alive(self) -> bool:
        raise NotImplementedError

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def last_poll_cycle(self) -> float | None:
        """Unix time the last completed poll cycle ended, from the bot's heartbeat file."""
        from bot.config import load_settings
        from bot.ops.health import heartbeat_path, read_heartbeat

        record = read_heartbeat(heartbeat_path(load_settings(self.env, env_file=Path("/dev/null"))))
        return None if record is None else record.poll_cycle_at

    def wait_poll_cycles(self, count: int = 2, timeout: float = 15) -> None:
        """Wait until ``count`` more poll cycles have completed, each ending after the
        previous one: with ``count >= 2`` at least one whole cycle started after this call.

        Read from the heartbeat file the bot writes at the end of every completed cycle
        (cycles skipped while rate limited do not count)."""
        moment = time.time()
        deadline = time.monotonic() + timeout
        for done in range(count):
            while (ended := self.last_poll_cycle()) is None or ended <= moment:
                if not self.alive:
                    raise AssertionError(f"{self.name} exited\n{self.log_tail()}")
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.name} completed {done} of {count} poll cycles in {timeout}s\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(_READY_POLL_SECONDS)
            moment = ended

    def settle_after_poll_cycles(self, count: int = 2, timeout: float = 15) -> None:
        """``count`` more poll cycles, then the few milliseconds the sender needs: whatever
        those cycles would have made the bot send has been sent."""
        self.wait_poll_cycles(count, timeout)
        time.sleep(SEND_SETTLE_SECONDS)

    def log_count(self, fragment: str) -> int:
        return self.log_text().count(fragment)

    def wait_for_log(self, fragment: str, count: int = 1, timeout: float = 15) -> None:
        """Wait until ``fragment`` occurs ``count`` times in the log."""
        deadline = time.monotonic() + timeout
        while self.log_count(fragment) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{fragment!r} not {count} times in the log within {timeout}s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(_READY_POLL_SECONDS)


class BotProcess(RunningBot):
    """One ``python -m bot`` process; stdout and stderr go to ``workdir/{name}.log``."""

    def __init__(self, env: Mapping[str, str], workdir: Path, name: str = "bot") -> None:
        self.env = dict(env)
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started_at = 0.0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self._close_log()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=REPO_ROOT,
            env=clean_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, fake_tg: FakeTelegram, timeout: float = 30) -> None:
        """Wait until the bot polls getUpdates after this start; fail fast if it dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(call["time"] >= self._started_at for call in fake_tg.calls("getUpdates")):
                return
            if not self.alive:
                raise AssertionError(
                    f"{self.name} exited with {self._returncode()} before polling\n"
                    f"{self.log_tail()}"
                )
            time.sleep(_READY_POLL_SECONDS)
        raise AssertionError(
            f"{self.name} did not call getUpdates within {timeout}s\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM and wait; returns (returncode, seconds taken). Killed + AssertionError if
        it ignores SIGTERM for ``timeout`` seconds."""
        proc = self._require_proc()
        began = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._close_log()
                raise AssertionError(
                    f"{self.name} ignored SIGTERM for {timeout}s and was killed\n{self.log_tail()}"
                ) from None
        self._close_log()
        return proc.returncode, time.monotonic() - began

    def kill(self) -> int:
        """SIGKILL (no chance to clean up) and wait; returns the return code."""
        proc = self._require_proc()
        if proc.poll() is None:
            proc.kill()
        returncode = proc.wait()
        self._close_log()
        return returncode

    def restart(self) -> None:
        """Graceful stop then start; call :meth:`wait_ready` afterwards."""
        self.stop()
        self.start()

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._proc

    def _returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
