"""Checking TrackingMore's webhook pushes before believing them.

TrackingMore v4 signs each push with two headers: `timestamp` (Unix seconds) and
`signature`, the hex HMAC-SHA256 of the timestamp keyed by the account's webhook secret.
The signature does not cover the body, so a push is accepted only with a fresh timestamp
(at most 5 minutes off) and only once: the guard remembers each accepted request — its
timestamp, signature and body digest — for as long as its timestamp could still pass.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from enum import StrEnum

MAX_CLOCK_SKEW_SECONDS = 300
MAX_REMEMBERED = 10_000


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    STALE = "stale"
    REPLAYED = "replayed"


def signature_of(timestamp: str, secret: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode(), hashlib.sha256).hexdigest()


class PushGuard:
    def __init__(self, secret: str, *, max_skew: float = MAX_CLOCK_SKEW_SECONDS) -> None:
        self._secret = secret
        self._max_skew = max_skew
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def check(
        self, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
    ) -> Verdict:
        now = time.time() if now is None else now
        if not timestamp or not signature:
            return Verdict.UNSIGNED
        expected = signature_of(timestamp, self._secret).encode()
        if not hmac.compare_digest(expected, signature.lower().encode(errors="replace")):
            return Verdict.FORGED
        try:
            sent_at = float(timestamp)
        except ValueError:
            return Verdict.FORGED
        if abs(now - sent_at) > self._max_skew:
            return Verdict.STALE
        return self._remember((timestamp, signature.lower(), _digest(body)), now)

    def _remember(self, key: tuple[str, str, str], now: float) -> Verdict:
        self._forget_expired(now)
        if key in self._seen:
            return Verdict.REPLAYED
        self._seen[key] = now
        if len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return Verdict.ACCEPTED

    def _forget_expired(self, now: float) -> None:
        """A timestamp passes for 2 × skew at most (from skew early to skew late)."""
        horizon = now - 2 * self._max_skew
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon:
                break
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
