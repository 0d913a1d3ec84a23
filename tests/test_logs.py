"""Secrets never reach a log line, wherever they hide in it."""

from __future__ import annotations

import io
import logging

from bot.ops.logs import RedactingFormatter, redact

TOKEN = "987654321:AAHk-secret_part-0123456789abcdefXYZ"


def test_token_in_bot_api_urls_is_redacted_even_when_unknown() -> None:
    line = f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates 200"
    assert (
        redact(line) == "HTTP Request: POST https://api.telegram.org/bot[REDACTED]/getUpdates 200"
    )


def test_known_secrets_are_redacted_anywhere() -> None:
    text = redact("key=tm-key-abcdef123 token tail AAHk-secret", ["tm-key-abcdef123"])
    assert "tm-key-abcdef123" not in text


def test_formatter_redacts_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", [TOKEN, "tm-key-abcdef123"]))
    log = logging.getLogger("test-redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("calling %s with %s", f"/bot{TOKEN}/sendMessage", "tm-key-abcdef123")
        try:
            raise RuntimeError(f"boom at https://x/bot{TOKEN}/getMe")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output and TOKEN.partition(":")[2] not in output
    assert "tm-key-abcdef123" not in output
    assert output.count("[REDACTED]") >= 3
