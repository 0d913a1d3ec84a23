"""The bot's web port (WEBHOOK_LISTEN) at its edges, over real HTTP: bodies over 1 MB, slow
clients, unknown paths, error pages, the `Server` header and METRICS_ALLOW.

In process (the same application, its timeouts shortened for the test), so that waiting for
a slow client's timeout takes a second, not the production ten.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import BotFactory, _assert_no_secrets
from fakes.trackingmore import FakeTrackingMore
from harness import free_port

import bot.ops.webserver as webserver

pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

TM_SECRET = "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f"
TG_SECRET = "tg-webhook-secret-0123456789"
PUSH = "/trackingmore/webhook"
MB = 1024 * 1024
SHORT_TIMEOUT = 1.0
LINGER = 0.5
REVEALING = ("aiohttp", "python", "traceback", "server got itself in trouble")


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(webserver, "HEADERS_TIMEOUT_SECONDS", SHORT_TIMEOUT)
    monkeypatch.setattr(webserver, "BODY_TIMEOUT_SECONDS", SHORT_TIMEOUT)
    monkeypatch.setattr(webserver, "LINGER_SECONDS", LINGER)
    return free_port()


@pytest.fixture
def base(bot_factory: BotFactory, port: int) -> str:
    bot_factory(WEBHOOK_LISTEN=f"127.0.0.1:{port}", TRACKINGMORE_WEBHOOK_SECRET=TM_SECRET)
    return f"http://127.0.0.1:{port}"


def signed() -> dict[str, str]:
    stamp = str(int(time.time()))
    return {"timestamp": stamp, "signature": FakeTrackingMore.sign(stamp, TM_SECRET)}


def push_requests(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("postino_webhook_requests_total{")
    )


def assert_bare(response: httpx.Response) -> None:
    """No `Server` header, and nothing in the body that tells what runs behind it."""
    assert "server" not in response.headers, response.headers
    body = response.text.lower()
    assert not any(word in body for word in REVEALING), response.text


def raw_exchange(port: int, data: bytes, *, wait: float = 10) -> tuple[bytes, float]:
    """Send `data` on a new connection and read until the server closes it (or `wait`
    passes): what came back, and the seconds it took."""
    began = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(data)
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received, time.monotonic() - began


# --- bodies ------------------------------------------------------------------------------


def test_a_body_over_1_mb_gets_413_from_its_content_length_alone(base: str, port: int) -> None:
    head = (
        f"POST {PUSH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {2 * MB}\r\n\r\n"
    ).encode()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + b'{"meta":')  # 8 of the 2 MB announced: never sent
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert time.monotonic() - began < SHORT_TIMEOUT  # decided before any body could arrive
    assert b"\r\nserver:" not in answer.lower()
    assert push_requests(base) == 0  # no handler ran


def test_an_unannounced_body_is_cut_off_at_1_mb_and_exactly_1_mb_passes(base: str) -> None:
    def chunks(size: int) -> Iterator[bytes]:
        for _ in range(size // (64 * 1024)):
            yield b" " * (64 * 1024)

    too_big = httpx.post(f"{base}{PUSH}", content=chunks(2 * MB), headers=signed(), timeout=10)
    assert too_big.status_code == 413
    assert too_big.text == "request entity too large"
    assert_bare(too_big)
    exactly = httpx.post(f"{base}{PUSH}", content=b" " * MB, headers=signed(), timeout=10)
    assert exactly.status_code == 400  # read whole, then refused: not {meta, data}
    assert exactly.json() == {"error": "malformed"}


def test_the_telegram_webhook_path_caps_bodies_too(
    bot_env: dict[str, str], port: int, tmp_path: Path
) -> None:
    from inprocess import InProcessBot

    from bot.config import load_settings

    env = {
        **bot_env,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
    }
    url = f"http://127.0.0.1:{port}{load_settings(env).telegram_webhook_path}"
    bot = InProcessBot(env, tmp_path, "webhook-bot")  # webhook mode: no getUpdates to wait for
    bot.start()
    try:
        header = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        huge = httpx.post(url, content=b"x" * (MB + 1), headers=header, timeout=10)
        assert huge.status_code == 413
        assert_bare(huge)
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}}
        assert httpx.post(url, json=update, headers=header, timeout=10).status_code == 200
    finally:
        bot.stop()
        _assert_no_secrets([bot])


# --- slow clients -----------------------------------------------------------------------


def test_a_client_slow_with_its_headers_is_dropped(base: str, port: int) -> None:
    received, took = raw_exchange(port, f"POST {PUSH} HTTP/1.1\r\nHost: x\r\n".encode())
    assert received == b""  # closed without an answer: the request never was whole
    assert SHORT_TIMEOUT * 0.9 <= took < SHORT_TIMEOUT + 4


def test_a_client_slow_with_its_body_gets_408(base: str, port: int) -> None:
    head = f"POST {PUSH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode()
    received, took = raw_exchange(port, head + b"0123456789")
    assert received.startswith(b"HTTP/1.1 408 "), received
    assert b"\r\nserver:" not in received.lower()
    assert took < SHORT_TIMEOUT + LINGER + 3  # answered, then dropped
    assert push_requests(base) == 0


# --- paths, errors, headers --------------------------------------------------------------


def test_unknown_paths_404_wrong_methods_405_and_nothing_tells_what_runs(
    base: str, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for method, path, status in [
        ("GET", "/", 404),
        ("GET", "/admin/../etc/passwd", 404),
        ("POST", "/telegram/guess", 404),
        ("GET", PUSH, 405),
        ("POST", "/healthz", 405),
    ]:
        answer = httpx.request(method, f"{base}{path}", timeout=10)
        assert answer.status_code == status, (method, path)
        assert_bare(answer)
    for path in ("/healthz", "/metrics"):
        assert_bare(httpx.get(f"{base}{path}", timeout=10))
    assert_bare(httpx.post(f"{base}{PUSH}", content=b"{}", timeout=10))  # unsigned: 401

    def broken(*_args: object) -> bytes:
        raise RuntimeError("a bug with a secret-looking detail /srv/postino/bot/ops")

    monkeypatch.setattr("bot.ops.metrics.Metrics.render", broken)
    failed = httpx.get(f"{base}/metrics", timeout=10)
    assert failed.status_code == 500 and failed.text == "internal server error"
    assert_bare(failed)

    malformed, _took = raw_exchange(port, b"GARBAGE\r\n\r\n")  # no route ever sees it
    status_line, _, rest = malformed.partition(b"\r\n")
    assert status_line.endswith(b" 400 Bad Request"), malformed
    assert b"\r\nserver:" not in b"\r\n" + rest.lower()
    assert rest.endswith(b"\r\n\r\nbad request"), malformed


# --- METRICS_ALLOW -----------------------------------------------------------------------


def test_metrics_and_healthz_answer_only_the_allowed_addresses(
    bot_factory: BotFactory, port: int
) -> None:
    bot_factory(
        WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        TRACKINGMORE_WEBHOOK_SECRET=TM_SECRET,
        METRICS_ALLOW="10.0.0.0/8, 192.168.1.7",
    )
    base = f"http://127.0.0.1:{port}"
    for path in ("/metrics", "/healthz"):
        refused = httpx.get(f"{base}{path}", timeout=10)
        assert refused.status_code == 403 and refused.text == "forbidden", path
        assert_bare(refused)
    push = httpx.post(f"{base}{PUSH}", content=json.dumps({"data": {}}), timeout=10)
    assert push.status_code == 401  # the webhook is not restricted by METRICS_ALLOW
