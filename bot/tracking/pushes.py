"""TrackingMore's webhook pushes: checked before they are believed, then used as hints.

TrackingMore v4 signs each push with two headers: `timestamp` (Unix seconds) and
`signature`, the hex HMAC-SHA256 of the timestamp keyed by the account's webhook secret.
The signature does not cover the body, so a push is accepted only with a fresh timestamp
(at most 5 minutes off) and only once: each accepted request — its timestamp, signature
and body digest — is remembered in the database, where every replica sees it (pruned after
a day by the housekeeping job; a timestamp passes for ten minutes at most).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from enum import StrEnum

from bot.carrier import MAX_NUMBERS_PER_REQUEST, TrackingMoreClient
from bot.core.codes import normalize
from bot.core.shipments import Change
from bot.storage import Shipment, Storage
from bot.tracking.recorder import ChangeRecorder

logger = logging.getLogger(__name__)

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
    """The checks of a push: `verify` the pure ones (signed, by us, fresh), then once only.

    With `first_sighting` (`storage.coordination.first_sighting_of_push`: every replica's
    memory) `admit` asks it whether the push was seen before, so a replay sent to another
    replica is refused too; without it, and in `check`, this process remembers."""

    def __init__(
        self,
        secret: str,
        *,
        first_sighting: Callable[[str], Awaitable[bool]] | None = None,
        max_skew: float = MAX_CLOCK_SKEW_SECONDS,
    ) -> None:
        self._secret = secret
        self._first_sighting = first_sighting
        self._max_skew = max_skew
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(
        self, timestamp: str | None, signature: str | None, now: float | None = None
    ) -> Verdict:
        """ACCEPTED when the push is signed with our secret and its timestamp is fresh."""
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
        return Verdict.ACCEPTED

    def check(
        self, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
    ) -> Verdict:
        """`verify`, then refused as REPLAYED if this process accepted it before."""
        now = time.time() if now is None else now
        verdict = self.verify(timestamp, signature, now)
        if verdict != Verdict.ACCEPTED:
            return verdict
        assert timestamp is not None and signature is not None
        return self._remember(replay_key(timestamp, signature, body), now)

    async def admit(
        self, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
    ) -> Verdict:
        """`verify`, then refused as REPLAYED if any replica accepted it before."""
        if self._first_sighting is None:
            return self.check(timestamp, signature, body, now)
        verdict = self.verify(timestamp, signature, now)
        if verdict != Verdict.ACCEPTED:
            return verdict
        assert timestamp is not None and signature is not None
        first = await self._first_sighting(replay_key(timestamp, signature, body))
        return Verdict.ACCEPTED if first else Verdict.REPLAYED

    def _remember(self, key: str, now: float) -> Verdict:
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


def replay_key(timestamp: str, signature: str, body: bytes) -> str:
    """What tells one accepted push from another: its timestamp, signature (in any case)
    and body, as one digest of bounded length."""
    body_digest = hashlib.sha256(body).hexdigest()
    whole = f"{timestamp}\n{signature.lower()}\n{body_digest}".encode(errors="replace")
    return hashlib.sha256(whole).hexdigest()


class PushedChanges:
    """What a verified push leads to: the shipments it names, fetched and recorded."""

    def __init__(
        self, storage: Storage, carrier: TrackingMoreClient, recorder: ChangeRecorder
    ) -> None:
        self._storage = storage
        self._carrier = carrier
        self._recorder = recorder

    async def ingest(self, trackings: Iterable[object]) -> list[Change]:
        """TrackingMore pushed these tracking objects: a hint that they changed.

        The signature covers only the timestamp, not the body, so the pushed state is not
        believed: the shipments it names are fetched from TrackingMore and stored exactly as
        a poll would (which also makes late retries of old pushes harmless). Shipments
        nobody follows are ignored.
        """
        followed: dict[int, Shipment] = {}
        for tracking in trackings:
            identity = pushed_identity(tracking)
            stored = await self._storage.shipments.find_shipment(*identity) if identity else None
            if stored is None:
                logger.debug("push about a shipment nobody follows; ignored")
            else:
                followed[stored.id] = stored
        changes: list[Change] = []
        for courier, shipments in _batches(list(followed.values())):
            fetched = await self._carrier.get(courier, [s.code for s in shipments])
            changes += await self._recorder.record(fetched.snapshots)
        return changes


def pushed_identity(tracking: object) -> tuple[str, str] | None:
    """The (courier, code) a pushed tracking object is about, as we spell them."""
    if not isinstance(tracking, Mapping):
        return None
    code, courier = tracking.get("tracking_number"), tracking.get("courier_code")
    if not isinstance(code, str) or not isinstance(courier, str) or not code or not courier:
        return None
    return courier.strip().lower(), normalize(code)


def _batches(shipments: Sequence[Shipment]) -> list[tuple[str, list[Shipment]]]:
    by_courier: dict[str, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        by_courier[shipment.courier].append(shipment)
    return [
        (courier, group[start : start + MAX_NUMBERS_PER_REQUEST])
        for courier, group in by_courier.items()
        for start in range(0, len(group), MAX_NUMBERS_PER_REQUEST)
    ]
