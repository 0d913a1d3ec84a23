"""Logging set-up with secret redaction.

The bot token is part of every Bot API URL and httpx logs URLs, so redaction is applied
to the final formatted line (message, arguments and traceback alike) on every handler.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# `bot<digits>:<secret>` as it appears in Bot API URLs, and a bare token anywhere.
_TOKEN_PATTERN = re.compile(r"(bot)?\d{3,20}:[A-Za-z0-9_-]{20,100}")
REDACTED = "[REDACTED]"
# The web desk's login links (PTB logs the buttons it sends at DEBUG): single use, but secret.
_DESK_LINK_PATTERN = re.compile(r"(/desk/login/)[A-Za-z0-9_-]{8,}")


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes known secrets and anything shaped like a bot token."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        # Longest first so a token is replaced whole before its secret half is.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _DESK_LINK_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
    return _TOKEN_PATTERN.sub(lambda m: (m.group(1) or "") + REDACTED, text)


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx and httpcore log every request URL (which holds the token) at INFO/DEBUG;
    # they stay quiet unless something goes wrong, and are redacted even then.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
