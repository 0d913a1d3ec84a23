#!/usr/bin/env python3
"""Smoke-run the postino image against the fake Telegram and TrackingMore servers.

Starts both fakes on 127.0.0.1 (printed ports), runs the container with host networking and
a fresh named volume on /data, then checks, timing each step: it answers /start, a signed
TrackingMore push becomes a message, /healthz, /metrics, `health`, `doctor` and the image's
HEALTHCHECK pass inside the container, and SIGTERM stops it cleanly within 10 s. Exit code 0
only if everything held. Used by scripts/docker-smoke; needs the project's dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.telegram import FakeTelegram  # noqa: E402
from fakes.trackingmore import FakeTrackingMore  # noqa: E402

CHAT = 1001
CODE = "RR123456785IT"
TM_SECRET = "smoke-webhook-secret-0123456789"  # noqa: S105 - for the fakes only
STOP_LIMIT_SECONDS = 10
CONTAINER_LOG = Path(tempfile.gettempdir()) / "postino-smoke-container.log"


class SmokeFailure(AssertionError):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="postino:dev")
    parser.add_argument("--engine", default=os.environ.get("CONTAINER_ENGINE", "podman"))
    args = parser.parse_args()
    timings: dict[str, float] = {}
    with FakeTelegram() as fake_tg, FakeTrackingMore() as fake_tm:
        print(f"fake Telegram on {fake_tg.root_url}, fake TrackingMore on {fake_tm.root_url}")
        try:
            with container(args.engine, args.image, environment(fake_tg, fake_tm)) as name:
                exercise(args.engine, name, fake_tg, fake_tm, timings)
        except SmokeFailure as failure:
            print(f"SMOKE FAILED: {failure}", file=sys.stderr)
            return 1
    print(f"container log: {CONTAINER_LOG}")
    print("smoke run passed: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(fake_tg: FakeTelegram, fake_tm: FakeTrackingMore) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": fake_tg.token,
        "TRACKINGMORE_API_KEY": fake_tm.api_key,
        "TELEGRAM_API_BASE_URL": fake_tg.base_url,
        "TRACKINGMORE_API_BASE_URL": fake_tm.base_url,
        "POLL_INTERVAL_SECONDS": "3600",
        "WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}",
        "TRACKINGMORE_WEBHOOK_SECRET": TM_SECRET,
        "LOG_LEVEL": "INFO",
    }


def engine_run(engine: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own fixed commands
        [engine, *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise SmokeFailure(f"{engine} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


@contextmanager
def container(engine: str, image: str, env: dict[str, str]) -> Iterator[str]:
    name = f"postino-smoke-{os.getpid()}"
    volume = f"{name}-data"
    engine_run(engine, "volume", "create", volume)
    env_args = [part for key, value in env.items() for part in ("--env", f"{key}={value}")]
    try:
        engine_run(
            engine,
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            "--volume",
            f"{volume}:/data",
            *env_args,
            image,
        )
        yield name
    finally:
        logs = engine_run(engine, "logs", name, check=False)
        log_text = logs.stdout + logs.stderr
        CONTAINER_LOG.write_text(log_text, encoding="utf-8")
        engine_run(engine, "rm", "--force", name, check=False)
        engine_run(engine, "volume", "rm", "--force", volume, check=False)
        leaked = [
            s for s in (env["TELEGRAM_BOT_TOKEN"], env["TRACKINGMORE_API_KEY"]) if s in log_text
        ]
        if leaked:
            raise SmokeFailure("a secret appeared in the container's log")


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise SmokeFailure(f"timed out after {timeout:g} s waiting for {what}")


def timed(timings: dict[str, float], label: str, step: Callable[[], Any]) -> Any:
    began = time.monotonic()
    result = step()
    timings[label] = time.monotonic() - began
    print(f"  {label}: {timings[label]:.2f} s")
    return result


def exercise(
    engine: str,
    name: str,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    timings: dict[str, float],
) -> None:
    listen = engine_run(engine, "exec", name, "printenv", "WEBHOOK_LISTEN").stdout.strip()
    web = f"http://{listen}"

    def polling() -> bool:
        if fake_tg.calls("getUpdates"):
            return True
        if _state(engine, name)["Status"] != "running":
            raise SmokeFailure(f"the container exited; its log: {CONTAINER_LOG}")
        return False

    timed(timings, "start to first getUpdates", lambda: wait_for(polling, "getUpdates"))

    fake_tg.send_text(CHAT, "/start", language_code="en")
    answer = timed(timings, "/start answered", lambda: fake_tg.wait_for_messages(CHAT, 1, 30))
    if not answer[0]["text"].startswith("👋 <b>Hi, I'm postino!</b>"):
        raise SmokeFailure(f"unexpected answer to /start: {answer[0]['text']!r}")

    fake_tm.script(CODE, status="pending")
    fake_tg.send_text(CHAT, CODE, language_code="en")
    fake_tg.wait_for_messages(CHAT, 2, 30)
    wait_for(lambda: _health(web).get("poll_cycle_seconds_ago") is not None, "a poll cycle")
    fake_tm.move(CODE, "transit", "In transito", "BOLOGNA", time="2026-11-20 09:30:00")
    push_to_message = time.monotonic()
    _push(web, fake_tm.webhook_payload(CODE))
    fake_tg.wait_for_messages(CHAT, 3, 30)
    timings["push to message"] = time.monotonic() - push_to_message
    print(f"  push to message: {timings['push to message']:.2f} s")

    if "postino_notification_latency_seconds_count 1.0" not in httpx.get(f"{web}/metrics").text:
        raise SmokeFailure("/metrics does not count the one notification")
    _check_desk_files(web)
    for command in (["health"], ["doctor"]):
        result = engine_run(engine, "exec", name, "python", "-m", "bot", *command, check=False)
        if result.returncode != 0:
            raise SmokeFailure(f"{' '.join(command)} inside the container failed:\n{result.stdout}")
    user = engine_run(engine, "exec", name, "id", "-u").stdout.strip()
    if user != "10001":
        raise SmokeFailure(f"the bot runs as uid {user}, not 10001")
    check = engine_run(engine, "healthcheck", "run", name, check=False)
    if check.returncode != 0:
        raise SmokeFailure(f"the image's HEALTHCHECK failed: {check.stdout}{check.stderr}")

    timed(timings, "stop (SIGTERM)", lambda: engine_run(engine, "stop", "--time", "10", name))
    state = _state(engine, name)
    if state["ExitCode"] != 0 or timings["stop (SIGTERM)"] >= STOP_LIMIT_SECONDS:
        raise SmokeFailure(f"unclean stop: exit code {state['ExitCode']}")


def _check_desk_files(web: str) -> None:
    """The web desk's page and its files ship in the image (static files in the wheel)."""
    for path, kind in (
        ("/desk/", "text/html"),
        ("/desk/static/desk.js", "javascript"),
        ("/desk/static/desk.css", "text/css"),
    ):
        answer = httpx.get(f"{web}{path}", timeout=10)
        if answer.status_code != 200 or kind not in answer.headers.get("content-type", ""):
            raise SmokeFailure(f"GET {path}: {answer.status_code} {answer.headers}")
    print("  web desk page and files: served")


def _state(engine: str, name: str) -> dict[str, Any]:
    return dict(json.loads(engine_run(engine, "inspect", name).stdout)[0]["State"])


def _health(web: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"{web}/healthz", timeout=5).json())
    except (httpx.HTTPError, ValueError):
        return {}


def _push(web: str, payload: dict[str, Any]) -> None:
    stamp = str(int(time.time()))
    answer = httpx.post(
        f"{web}/trackingmore/webhook",
        json=payload,
        headers={"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, TM_SECRET)},
        timeout=10,
    )
    if answer.status_code != 200:
        raise SmokeFailure(f"push refused: {answer.status_code} {answer.text}")


if __name__ == "__main__":
    sys.exit(main())
