"""TrackingMore API v4 client (httpx).

Knows nothing of Telegram or of the database: it turns HTTP into `Snapshot`s and typed
errors. Requests are paced by client-side limiters that match TrackingMore's published
limits (10 requests/s, 3/s for create and batch create) with almost no burst, so a large poll
cycle never bursts into 429s.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import orjson
from aiolimiter import AsyncLimiter

from bot.carrier.errors import (
    AUTH_CODES,
    EXISTS_CODES,
    INVALID_CODES,
    NOT_FOUND_CODES,
    OK_CODES,
    QUOTA_CODES,
    UNAVAILABLE_CODES,
    CarrierAlreadyExists,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierError,
    CarrierInvalidInput,
    CarrierNotFound,
    CarrierQuotaError,
    CarrierRateLimited,
    CarrierUnavailable,
)
from bot.carrier.parser import (
    BatchCreateResult,
    Fetched,
    parse_batch_result,
    parse_couriers,
    parse_tracking,
    tracking_signature,
)
from bot.core.couriers import Courier
from bot.core.shipments import Snapshot

logger = logging.getLogger(__name__)

MAX_NUMBERS_PER_REQUEST = 40
REQUESTS_PER_SECOND = 10
CREATES_PER_SECOND = 3  # `create` and `batch` calls
# Connections kept open to TrackingMore. httpx checks every pooled connection on each
# request, so a larger pool costs CPU (measured: no gain from 10); the poller's other
# requests in flight wait for a free one, which caps it below 10/s only if TrackingMore
# takes over 0.6 s to answer.
MAX_CONNECTIONS = 6
REQUEST_BURST = 2
DEFAULT_RETRY_AFTER = 60.0


@dataclass
class CallStats:
    """Counts of API calls by (endpoint, result); result is "ok" or the error class name."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    unsaved: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, endpoint: str, result: str) -> None:
        self.calls[(endpoint, result)] += 1
        self.unsaved[(endpoint, result)] += 1

    def take_unsaved(self) -> Counter[tuple[str, str]]:
        """The counts recorded since the last call, for persisting."""
        taken, self.unsaved = self.unsaved, Counter()
        return taken


class Pace(Protocol):
    """A pace shared with other processes using the same account (replicas): returns once
    this caller's turn, `interval` seconds after the previous caller's, has come."""

    async def wait_turn(self, name: str, interval: float) -> None: ...


class TrackingMoreClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 10.0,
        *,
        requests_per_second: float = REQUESTS_PER_SECOND,
        creates_per_second: float = CREATES_PER_SECOND,
        pace: Pace | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers={"Tracking-Api-Key": api_key, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            # All kept alive: a connection closed and opened again costs more than its request.
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
        )
        # A burst of 2 (creations: none), not a second's worth: a full burst that reaches
        # TrackingMore a little late lands on its next second's share and is answered 429.
        # The 2 only make up for requests that started late, so the rate stays the same.
        self._limiter = AsyncLimiter(REQUEST_BURST, REQUEST_BURST / requests_per_second)
        self._create_limiter = AsyncLimiter(1, 1 / creates_per_second)
        self._pace = pace
        self._intervals = (1 / requests_per_second, 1 / creates_per_second)
        self.stats = CallStats()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create(self, courier: str, code: str) -> Snapshot:
        """Register a number and return its current state (an existing one is fetched)."""
        try:
            data = await self._call(
                "create",
                "POST",
                "trackings/create",
                json={"tracking_number": code, "courier_code": courier},
            )
        except CarrierAlreadyExists:
            found = await self.get(courier, [code])
            if not found.snapshots:
                raise CarrierNotFound("tracking exists but could not be read", 4101) from None
            return found.snapshots[0]
        snapshot = parse_tracking(data) if isinstance(data, Mapping) else None
        return snapshot or Snapshot(courier=courier, code=code, status="pending")

    async def batch_create(self, items: Sequence[tuple[str, str]]) -> BatchCreateResult:
        """Register up to 40 (courier, code) pairs in one call."""
        if len(items) > MAX_NUMBERS_PER_REQUEST:
            raise ValueError(f"at most {MAX_NUMBERS_PER_REQUEST} numbers per batch")
        body = [{"tracking_number": code, "courier_code": courier} for courier, code in items]
        data = await self._call("batch", "POST", "trackings/batch", json=body)
        return parse_batch_result(data, items)

    async def get(
        self, courier: str, codes: Sequence[str], known: Mapping[str, str] | None = None
    ) -> Fetched:
        """Current state of up to 40 numbers of one courier.

        `known` maps numbers to the signature of their last answer: a tracking whose answer
        has the same signature is reported `unchanged` and not parsed at all (most of a poll
        cycle's answers, and most of its cost).
        """
        if len(codes) > MAX_NUMBERS_PER_REQUEST:
            raise ValueError(f"at most {MAX_NUMBERS_PER_REQUEST} numbers per get")
        # The query written out once: httpx merging a params dict into the base URL parses and
        # re-encodes the long list of numbers several times per request.
        query = urlencode({"tracking_numbers": ",".join(codes), "courier_code": courier}, safe=",")
        data = await self._call("get", "GET", f"{self._base_url}trackings/get?{query}")
        if not isinstance(data, list):
            raise CarrierBadResponse("get answered without a list of trackings")
        requested = {code.upper(): code for code in codes}
        known = known or {}
        fetched = Fetched([], [])
        present = set()
        for item in data:
            if not isinstance(item, Mapping):
                continue
            code = requested.get(str(item.get("tracking_number") or "").upper())
            if code is None:
                continue
            present.add(code)
            signature = tracking_signature(item)
            if known.get(code) == signature:
                fetched.unchanged.append(code)
            elif (snapshot := parse_tracking(item, signature)) is not None:
                fetched.snapshots.append(snapshot.keyed(courier, code))
        fetched.unknown.extend(code for code in requested.values() if code not in present)
        return fetched

    async def delete(self, carrier_id: str) -> None:
        await self._call("delete", "DELETE", f"trackings/delete/{carrier_id}")

    async def retrack(self, carrier_id: str) -> None:
        await self._call("retrack", "POST", f"trackings/retrack/{carrier_id}")

    async def couriers(self) -> list[Courier]:
        """Every courier TrackingMore knows, with the name people call it by."""
        return parse_couriers(await self._call("couriers", "GET", "couriers/all"))

    async def _call(self, endpoint: str, method: str, path: str, **kwargs: Any) -> Any:
        # A batch create registers like `create` does, and counts against the same limit.
        limiter = self._create_limiter if endpoint in ("create", "batch") else None
        try:
            await self._limiter.acquire()
            if limiter is not None:
                # The stricter limit last: sent right after its slot, so calls in flight
                # together cannot reach TrackingMore closer than 3 a second.
                await limiter.acquire()
            if self._pace is not None:  # several replicas: the account's limits hold for all
                await self._pace.wait_turn("trackingmore", self._intervals[0])
                if limiter is not None:
                    await self._pace.wait_turn("trackingmore-create", self._intervals[1])
            response = await self._http.request(method, path, **kwargs)
            data = _unwrap(response)
        except httpx.TimeoutException as exc:
            error: CarrierError = CarrierUnavailable(
                f"{endpoint}: timed out ({type(exc).__name__})"
            )
            self.stats.record(endpoint, type(error).__name__)
            raise error from None
        except httpx.HTTPError as exc:
            error = CarrierUnavailable(f"{endpoint}: {type(exc).__name__}")
            self.stats.record(endpoint, type(error).__name__)
            raise error from None
        except CarrierAlreadyExists:
            self.stats.record(endpoint, "ok")
            raise
        except CarrierError as exc:
            self.stats.record(endpoint, type(exc).__name__)
            if not isinstance(exc, CarrierRateLimited | CarrierUnavailable | CarrierInvalidInput):
                logger.warning("TrackingMore %s failed: %s", endpoint, exc)
            raise
        self.stats.record(endpoint, "ok")
        return data


def _unwrap(response: httpx.Response) -> Any:
    """Check the envelope and return its `data`, or raise the typed error it stands for."""
    try:
        # orjson: a poll cycle decodes 250 answers of ~100 KB; the standard json module
        # spends about three times its CPU on them.
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    meta = _meta(body)
    if meta is None:
        if response.is_success:
            raise CarrierBadResponse(
                f"answer is not the JSON envelope (HTTP {response.status_code})"
            )
        raise _error_for(response.status_code, response.reason_phrase or "", response)
    code, message = meta
    if code in OK_CODES and response.is_success:
        return body.get("data") if isinstance(body, Mapping) else None
    raise _error_for(code, message, response)


def _meta(body: Any) -> tuple[int, str] | None:
    if not isinstance(body, Mapping):
        return None
    # TrackingMore calls it `meta`; some proxies and wrappers rename it `status`.
    meta = body.get("meta", body.get("status"))
    if not isinstance(meta, Mapping):
        return None
    try:
        code = int(meta.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return code, str(meta.get("message") or "")


def _error_for(code: int, message: str, response: httpx.Response) -> CarrierError:
    text = f"{message or 'error'} (code {code})"
    if code == 429 or response.status_code == 429:
        return CarrierRateLimited(text, _retry_after(response), code)
    if code in EXISTS_CODES:
        return CarrierAlreadyExists(text, code)
    if code in AUTH_CODES:
        return CarrierAuthError(text, code)
    if code in QUOTA_CODES:
        return CarrierQuotaError(text, code)
    if code in NOT_FOUND_CODES:
        return CarrierNotFound(text, code)
    if code in INVALID_CODES:
        return CarrierInvalidInput(text, code)
    if code in UNAVAILABLE_CODES or response.status_code >= 500:
        return CarrierUnavailable(text, code)
    logger.warning("TrackingMore answered an unexpected code %s: %s", code, message)
    return CarrierError(text, code)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER
