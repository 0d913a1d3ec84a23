"""A fake TrackingMore API v4 speaking real HTTP, with scripted shipments and injectable faults.

Shapes follow ../shared/samples/trackingmore/ and the official SDKs' documentation: the
envelope is ``{"meta": {"code", "message"}, "data"}``; business errors (4101 already exists,
4102 does not exist, 4103 more than 40 numbers, ...) come with HTTP 400, authentication errors
with HTTP 401, quota errors (4190) with HTTP 400 too (``fail_next("meta:4190:200")`` if you want
to see the other variant). Checkpoint times carry no UTC offset; ``trackinfo`` is newest first.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import BackgroundServer, TokenBucket, take_all_or_wait

JSON = dict[str, Any]

MAX_NUMBERS_PER_CALL = 40
ENDPOINTS = ("create", "batch", "get", "delete", "retrack", "update", "detect", "couriers")
_ROUTES = [
    ("POST", re.compile(r"/v4/trackings/create/?"), "create"),
    ("POST", re.compile(r"/v4/trackings/batch/?"), "batch"),
    ("GET", re.compile(r"/v4/trackings/get/?"), "get"),
    ("DELETE", re.compile(r"/v4/trackings/delete/(?P<id>[^/]+)"), "delete"),
    ("POST", re.compile(r"/v4/trackings/retrack/(?P<id>[^/]+)"), "retrack"),
    ("PUT", re.compile(r"/v4/trackings/update/(?P<id>[^/]+)"), "update"),
    ("POST", re.compile(r"/v4/couriers/detect/?"), "detect"),
    ("GET", re.compile(r"/v4/couriers/all/?"), "couriers"),
]
# What `GET /v4/couriers/all` lists (a few of TrackingMore's ~1,000), in the shape its SDKs
# document: courier_name, courier_code, courier_country_iso2, courier_url, courier_phone,
# courier_type, tracking_required_fields, optional_fields, default_language,
# support_language, courier_logo.
COURIERS: list[tuple[str, str, str, str]] = [
    ("poste-italiane", "Poste Italiane", "IT", "https://www.poste.it"),
    ("italy-sda", "SDA", "IT", "https://www.sda.it"),
    ("brt-it", "BRT", "IT", "https://www.brt.it"),
    ("gls-italy", "GLS Italy", "IT", "https://www.gls-italy.com"),
    ("dhl", "DHL Express", "DE", "https://www.dhl.com"),
    ("ups", "UPS", "US", "https://www.ups.com"),
]
MESSAGES = {
    200: "Request response is successful",
    400: "Request type error. Please check the API documentation for the request type of this API.",
    401: "Authentication failed",
    404: "Page does not exist. Please check and ensure your link is correct.",
    429: "Too Many Requests",
    503: "Service Unavailable",
    511: "Server error. Please contact us: service@trackingmore.org.",
    4101: "Tracking No. already exists.",
    4102: "Tracking No. does not exist. Please use 「Create a tracking」 API first to create "
    "shipment.",
    4103: "You have exceeded the shipment quantity of API call. The maximum quantity is 40 "
    "shipments per call.",
    4111: "Tracking_number is required.",
    4113: "Retrack is not allowed. You can only retrack an expired tracking.",
    4120: "The value of courier_code is invalid.",
    4190: "You are reaching the maximum quota limitation",
}
COURIER_NAMES = {
    "poste-italiane": "Poste Italiane",
    "italy-sda": "SDA",
    "brt": "BRT Bartolini",
    "gls-italy": "GLS Italy",
    "dhl": "DHL",
    "ups": "UPS",
    "usps": "USPS",
}
_WEBLINKS = {
    "poste-italiane": "https://www.poste.it/",
    "italy-sda": "https://www.sda.it/",
    "brt": "https://www.brt.it/",
    "usps": "https://www.usps.com/",
}
_GENERIC_DETECTION = ("italy-sda", "brt", "gls-italy", "dhl")
_S10_ITALY = re.compile(r"^[A-Z]{2}\d{9}IT$")
_MILESTONES = {
    "inforeceived": "inforeceived_date",
    "transit": "pickup_date",
    "pickup": "outfordelivery_date",
    "delivered": "delivery_date",
}
_REMOVED_BY_MISSING_FIELDS = (
    "delivery_status",
    "substatus",
    "origin_info",
    "destination_info",
    "latest_event",
    "latest_checkpoint_time",
)
_NULL_FIELDS = [
    "order_number",
    "order_date",
    "destination_country",
    "destination_state",
    "destination_city",
    "origin_country",
    "origin_state",
    "origin_city",
    "tracking_postal_code",
    "tracking_ship_date",
    "tracking_destination_country",
    "tracking_origin_country",
    "tracking_key",
    "tracking_courier_account",
    "customer_name",
    "customer_email",
    "customer_sms",
    "recipient_postcode",
    "order_id",
    "title",
    "logistics_channel",
    "note",
    "label",
    "signed_by",
    "service_code",
    "weight",
    "weight_kg",
    "product_type",
    "pieces",
    "dimension",
    "previously",
    "destination_track_number",
    "exchange_number",
    "scheduled_delivery_date",
    "scheduled_address",
    "status_info",
    "substatusV2",
    "substatusTimeV2",
    "stausDataNumV2",
]
_UPDATABLE = frozenset(_NULL_FIELDS) - {"status_info", "substatusV2", "substatusTimeV2"}
_HTML_ERRORS = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}
_CHECKPOINT_FORMAT = "%Y-%m-%d %H:%M:%S"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def default_substatus(status: str) -> str | None:
    return None if status == "pending" else f"{status}001"


@dataclass
class Reply:
    """One HTTP answer of the fake."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def envelope(code: int, data: Any = None, *, status: int | None = None) -> Reply:
    """The v4 envelope; HTTP status 200 for meta 200, else 400 unless told otherwise."""
    http = status if status is not None else (200 if code == 200 else 400)
    meta = {"code": code, "message": MESSAGES.get(code, "Error")}
    return Reply(http, json.dumps({"meta": meta, "data": data}).encode())


def _html_error(status: int) -> Reply:
    title = _HTML_ERRORS.get(status, f"{status} Error")
    page = (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>nginx</center></body></html>"
    )
    return Reply(status, page.encode(), "text/html")


def _too_many_requests() -> Reply:
    reply = envelope(429, status=429)
    reply.headers["Retry-After"] = "1"
    return reply


@dataclass
class Fault:
    """A parsed ``fail_next`` kind."""

    kind: str
    endpoint: str | None
    remaining: int
    delay: float = 0.0
    meta_code: int = 0
    http_status: int = 0


_FAULT_ALIASES = {
    "meta401": "meta:401:401",
    "meta4190": "meta:4190:400",
    "http500": "meta:511:500",
}
_SIMPLE_FAULTS = frozenset(
    {"http429", "http502", "http503", "garbage", "truncated", "missing_fields"}
)


def parse_fault(spec: str, endpoint: str | None, times: int) -> Fault:
    """``http429``, ``http500``, ``http502``, ``http503``, ``timeout:S``, ``garbage``,
    ``truncated``, ``missing_fields``, ``meta401``, ``meta4190`` or ``meta:CODE:HTTPSTATUS``."""
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
    spec = _FAULT_ALIASES.get(spec, spec)
    name, _, arg = spec.partition(":")
    if name == "timeout":
        return Fault("timeout", endpoint, times, delay=float(arg))
    if name == "meta":
        code, _, status = arg.partition(":")
        return Fault("meta", endpoint, times, meta_code=int(code), http_status=int(status or 200))
    if spec not in _SIMPLE_FAULTS:
        raise ValueError(f"unknown TrackingMore fault {spec!r}")
    return Fault(spec, endpoint, times)


def _strip_object(item: Any) -> JSON:
    if not isinstance(item, dict) or "delivery_status" not in item:
        return {}
    return {k: v for k, v in item.items() if k not in _REMOVED_BY_MISSING_FIELDS}


def _strip_fields(data: Any) -> Any:
    """What ``missing_fields`` sends: objects without their status fields, or null data."""
    if isinstance(data, list):
        return [_strip_object(item) for item in data]
    if isinstance(data, dict) and "success" in data:
        return {**data, "success": [_strip_object(item) for item in data["success"]]}
    if isinstance(data, dict) and "delivery_status" in data:
        return _strip_object(data)
    return None


def _apply_fault_to(reply: Reply, kind: str) -> Reply:
    """Faults that corrupt a response computed normally (the request did take effect)."""
    if kind == "truncated":
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)])
    body = json.loads(reply.body)
    return Reply(
        200, json.dumps({"meta": body["meta"], "data": _strip_fields(body.get("data"))}).encode()
    )


def _replacement(fault: Fault) -> Reply | None:
    """Faults answered instead of the real response (the request takes no effect)."""
    if fault.kind == "http429":
        return _too_many_requests()
    if fault.kind in ("http502", "http503"):
        return _html_error(int(fault.kind[4:]))
    if fault.kind == "garbage":
        return Reply(200, b"<html>not json</html>", "text/html")
    if fault.kind == "meta":
        return envelope(fault.meta_code, status=fault.http_status)
    return None


@dataclass
class Shipment:
    """What the carrier knows about one parcel, and whether the bot registered it."""

    courier: str
    number: str
    status: str = "pending"
    substatus: str | None = None
    events: list[JSON] = field(default_factory=list)
    registered: bool = False
    id: str = ""
    created_at: datetime = field(default_factory=_now)
    update_at: datetime = field(default_factory=_now)
    extra: JSON = field(default_factory=dict)

    def add_event(self, event: JSON) -> None:
        """Prepend a checkpoint and make it the shipment's current state."""
        self.events.insert(0, event)
        self.status = event["status"]
        self.substatus = event["substatus"]
        self.update_at = _now()

    def to_object(self) -> JSON:
        """The v4 tracking object, field for field like the full-fields sample."""
        latest = self.events[0] if self.events else None
        obj: JSON = {
            "id": self.id,
            "tracking_number": self.number,
            "courier_code": self.courier,
            **dict.fromkeys(_NULL_FIELDS),
        }
        obj.update(
            created_at=_iso(self.created_at),
            update_at=_iso(self.update_at),
            delivery_status=self.status,
            substatus=self.substatus,
            archived="tracking",
            updating=False,
            source="API",
            latest_event=_summary(latest),
            latest_checkpoint_time=latest["time"].replace(" ", "T") if latest else None,
            transit_time=_transit_days(self.events),
            origin_info=_info(self.courier, self._events_at("origin")),
            destination_info=_info(None, self._events_at("destination")),
        )
        obj.update(self.extra)
        return obj

    def _events_at(self, where: str) -> list[JSON]:
        return [event for event in self.events if event["where"] == where]


def _summary(event: JSON | None) -> str | None:
    if event is None:
        return None
    parts = [event["detail"], event["location"], event["time"]]
    return ", ".join(part for part in parts if part)


def _transit_days(events: list[JSON]) -> int:
    if not events:
        return 0
    first = datetime.strptime(events[-1]["time"], _CHECKPOINT_FORMAT)
    last = datetime.strptime(events[0]["time"], _CHECKPOINT_FORMAT)
    return (last - first).days


def _trackinfo(event: JSON) -> JSON:
    return {
        "checkpoint_date": event["time"],
        "checkpoint_delivery_status": event["status"],
        "checkpoint_delivery_substatus": event["substatus"],
        "tracking_detail": event["detail"],
        "location": event["location"],
    }


def _milestones(events: list[JSON]) -> JSON:
    milestones: JSON = dict.fromkeys(
        (
            "inforeceived_date",
            "pickup_date",
            "outfordelivery_date",
            "delivery_date",
            "returning_date",
            "returned_date",
        )
    )
    for event in reversed(events):  # oldest first: the first occurrence wins
        key = _MILESTONES.get(event["status"])
        if key and milestones[key] is None:
            milestones[key] = event["time"].replace(" ", "T")
    return milestones


def _info(courier: str | None, events: list[JSON]) -> JSON:
    return {
        "courier_code": courier,
        "courier_phone": None,
        "weblink": _WEBLINKS.get(courier or "", f"https://www.{courier}.com/" if courier else None),
        "reference_number": None,
        "milestone_date": _milestones(events),
        "pickup_date": None,
        "departed_airport_date": None,
        "arrived_abroad_date": None,
        "customs_received_date": None,
        "trackinfo": [_trackinfo(event) for event in events],
    }


def _numbers_of(payload: Any, query: JSON) -> list[str]:
    if isinstance(payload, list):
        return [str(item.get("tracking_number")) for item in payload if isinstance(item, dict)]
    if isinstance(payload, dict) and payload.get("tracking_number"):
        return [str(payload["tracking_number"])]
    raw = str(query.get("tracking_numbers") or "")
    return [number for number in raw.split(",") if number]


def _route(method: str, path: str) -> tuple[str, str | None]:
    for route_method, pattern, endpoint in _ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            return endpoint, match.groupdict().get("id")
    return "other", None


def _courier_entry(code: str, name: str, country: str, url: str) -> JSON:
    return {
        "courier_name": name,
        "courier_code": code,
        "courier_country_iso2": country,
        "courier_url": url,
        "courier_phone": "",
        "courier_type": "express",
        "tracking_required_fields": None,
        "optional_fields": None,
        "default_language": "en",
        "support_language": ["en", country.lower()],
        "courier_logo": f"//static.trackingmore.com/images/icons/express/{code}.png",
    }


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


class FakeTrackingMore(BackgroundServer):
    """A fake TrackingMore v4: scripted carrier knowledge, recorded requests, injected faults."""

    def __init__(self, api_key: str = "tm-test-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self._shipments: dict[tuple[str, str], Shipment] = {}
        self._requests: list[JSON] = []
        self._faults: list[Fault] = []
        self._down = False
        self._auth_broken = False
        self._quota_endpoints: frozenset[str] = frozenset()
        self._buckets: tuple[TokenBucket, TokenBucket] | None = None
        self._rate_limited = 0
        self._clock = _now() - timedelta(days=10)
        self._unknown_couriers: set[str] = set()
        self._couriers = list(COURIERS)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v4"

    # -- HTTP ------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = self._new_app()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint, item_id = _route(request.method, request.path)
        payload = _decode_json(await request.read())
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        with self._cond:
            record = self._record(request, endpoint, item_id, query, payload)
            early, fault = self._gatekeep(request, endpoint)
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.delay)
        reply = early or self._answer(endpoint, item_id, query, payload, fault)
        with self._cond:
            record["status"] = reply.status
            self._changed()
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={"Content-Type": reply.content_type, **reply.headers},
        )

    def _record(
        self, request: web.Request, endpoint: str, item_id: str | None, query: JSON, payload: Any
    ) -> JSON:
        numbers = _numbers_of(payload, query)
        if item_id is not None:
            numbers = [s.number for s in self._shipments.values() if s.id == item_id]
        record = {
            "method": request.method,
            "endpoint": endpoint,
            "path": request.path,
            "query": query,
            "json": payload,
            "numbers": numbers,
            "status": None,
            "time": time.monotonic(),
        }
        self._requests.append(record)
        self._changed()
        return record

    def _gatekeep(self, request: web.Request, endpoint: str) -> tuple[Reply | None, Fault | None]:
        """Persistent modes, auth, injected faults and rate limits, in that order."""
        if self._auth_broken or request.headers.get("Tracking-Api-Key") != self.api_key:
            return envelope(401, status=401), None
        if self._down:
            return _html_error(503), None
        if endpoint in self._quota_endpoints:
            return envelope(4190), None
        fault = self._take_fault(endpoint)
        if fault is not None and (replacement := _replacement(fault)) is not None:
            return replacement, fault
        if self._rate_limit_exceeded(endpoint):
            return _too_many_requests(), fault
        if endpoint == "other":
            return envelope(404, status=404), fault
        return None, fault

    def _take_fault(self, endpoint: str) -> Fault | None:
        for fault in self._faults:
            if fault.endpoint in (None, endpoint):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limit_exceeded(self, endpoint: str) -> bool:
        if self._buckets is None:
            return False
        overall, creations = self._buckets
        buckets = [overall, creations] if endpoint in ("create", "batch") else [overall]
        if take_all_or_wait(buckets) == 0:
            return False
        self._rate_limited += 1
        return True

    def _answer(
        self, endpoint: str, item_id: str | None, query: JSON, payload: Any, fault: Fault | None
    ) -> Reply:
        with self._cond:
            if endpoint in ("create", "batch", "detect") and payload is None:
                reply = envelope(400)
            elif item_id is not None:
                reply = self._by_id(endpoint, item_id, payload)
            else:
                reply = self._collection(endpoint, query, payload)
            self._changed()
        if fault is not None and fault.kind in ("truncated", "missing_fields"):
            return _apply_fault_to(reply, fault.kind)
        return reply

    def _collection(self, endpoint: str, query: JSON, payload: Any) -> Reply:
        if endpoint == "create":
            return self._create(payload)
        if endpoint == "batch":
            return self._batch(payload)
        if endpoint == "detect":
            return self._detect(payload)
        if endpoint == "couriers":
            return envelope(200, data=[_courier_entry(*c) for c in self._couriers])
        return self._get(query)

    # -- endpoints (lock held) -------------------------------------------------------------

    def _register(self, item: JSON) -> tuple[int, Shipment | None]:
        number = str(item.get("tracking_number") or "")
        courier = str(item.get("courier_code") or "")
        if not number:
            return 4111, None
        if not courier or courier in self._unknown_couriers:
            return 4120, None
        shipment = self._shipments.setdefault((courier, number), Shipment(courier, number))
        if shipment.registered:
            return 4101, None
        shipment.registered = True
        shipment.id = uuid.uuid4().hex
        shipment.created_at = shipment.update_at = _now()
        # What the request sets, over what the carrier already knew (see `set_fields`).
        shipment.extra.update({k: v for k, v in item.items() if k in _UPDATABLE})
        return 200, shipment

    def _create(self, payload: Any) -> Reply:
        code, shipment = self._register(payload if isinstance(payload, dict) else {})
        return envelope(code, shipment.to_object() if shipment else None)

    def _batch(self, payload: Any) -> Reply:
        if not isinstance(payload, list):
            return envelope(400)
        if len(payload) > MAX_NUMBERS_PER_CALL:
            return envelope(4103)
        success: list[JSON] = []
        errors: list[JSON] = []
        for item in payload:
            code, shipment = self._register(item if isinstance(item, dict) else {})
            if shipment is not None:
                success.append(shipment.to_object())
            else:
                errors.append(_batch_error(item, code))
        return envelope(200, {"success": success, "error": errors})

    def _get(self, query: JSON) -> Reply:
        numbers = [n for n in str(query.get("tracking_numbers") or "").split(",") if n]
        if len(numbers) > MAX_NUMBERS_PER_CALL:
            return envelope(4103)
        courier = query.get("courier_code")
        if numbers and courier:
            # Looked up by key: a benchmark asks about tens of thousands of shipments.
            keys = ((courier, number) for number in dict.fromkeys(numbers))
            candidates = [self._shipments[key] for key in keys if key in self._shipments]
        else:
            candidates = list(self._shipments.values())
        found = [
            s.to_object()
            for s in candidates
            if s.registered
            and (not numbers or s.number in numbers)
            and (not courier or s.courier == courier)
        ]
        return envelope(200, found)

    def _by_id(self, endpoint: str, item_id: str, payload: Any) -> Reply:
        shipment = next(
            (s for s in self._shipments.values() if s.registered and s.id == item_id), None
        )
        if shipment is None:
            return envelope(4102)
        if endpoint == "delete":
            shipment.registered = False
            return envelope(
                200,
                {
                    "id": item_id,
                    "tracking_number": shipment.number,
                    "courier_code": shipment.courier,
                },
            )
        if endpoint == "retrack":
            return self._retrack(shipment)
        if isinstance(payload, dict):
            shipment.extra.update({k: v for k, v in payload.items() if k in _UPDATABLE})
            shipment.update_at = _now()
        return envelope(200, shipment.to_object())

    def _retrack(self, shipment: Shipment) -> Reply:
        if shipment.status != "expired":
            return envelope(4113)
        shipment.status = "transit" if shipment.events else "pending"
        shipment.substatus = default_substatus(shipment.status)
        shipment.update_at = _now()
        return envelope(200, shipment.to_object())

    def _detect(self, payload: Any) -> Reply:
        number = str(payload.get("tracking_number") or "") if isinstance(payload, dict) else ""
        if not number:
            return envelope(4111)
        couriers = [courier for courier, code in self._shipments if code == number]
        if _S10_ITALY.match(number.upper()):
            couriers.append("poste-italiane")
        couriers += _GENERIC_DETECTION
        unique = list(dict.fromkeys(couriers))
        return envelope(
            200,
            [{"courier_name": COURIER_NAMES.get(c, c), "courier_code": c} for c in unique],
        )

    # -- script API ------------------------------------------------------------------------

    def _tick(self) -> str:
        self._clock += timedelta(hours=1)
        return self._clock.strftime(_CHECKPOINT_FORMAT)

    def _find(self, code: str, courier: str | None) -> Shipment | None:
        if courier is not None:
            return self._shipments.get((courier, code))
        matches = [
            s for s in self._shipments.values() if s.number == code and courier in (None, s.courier)
        ]
        if len(matches) > 1:
            raise ValueError(f"{code} is known for several couriers; pass courier=")
        return matches[0] if matches else None

    def _shipment(self, code: str, courier: str | None) -> Shipment:
        """The shipment for ``code`` (of ``courier`` if given); scripted afresh if unknown."""
        found = self._find(code, courier)
        if found is not None:
            return found
        courier = courier or "poste-italiane"
        return self._shipments.setdefault((courier, code), Shipment(courier, code))

    def _event(
        self,
        status: str,
        detail: str,
        location: str = "",
        time: str | None = None,
        substatus: str | None = None,
        where: str = "origin",
    ) -> JSON:
        if where not in ("origin", "destination"):
            raise ValueError(f"where must be 'origin' or 'destination', not {where!r}")
        return {
            "status": status,
            "substatus": substatus or default_substatus(status),
            "detail": detail,
            "location": location,
            "time": time or self._tick(),
            "where": where,
        }

    def script(
        self,
        code: str,
        courier: str = "poste-italiane",
        status: str | None = None,
        substatus: str | None = None,
        events: Iterable[JSON] = (),
        *,
        registered: bool = False,
    ) -> None:
        """Declare what the carrier knows about ``code`` before the bot registers it.

        ``events`` are given oldest first, each ``{"detail", "location", "time", "status",
        "substatus", "where"}`` (all but ``detail`` optional; ``status`` defaults to
        ``transit``). ``status`` defaults to the newest event's status, or ``pending``.
        ``registered=True`` declares it as registered already (a database seeded directly).
        """
        with self._cond:
            shipment = self._shipments.setdefault((courier, code), Shipment(courier, code))
            if registered and not shipment.registered:
                shipment.registered, shipment.id = True, uuid.uuid4().hex
            for event in events:
                spec = {"status": "transit", **event}
                shipment.add_event(self._event(**spec))
            if status is not None or not shipment.events:
                shipment.status = status or "pending"
                shipment.substatus = substatus or default_substatus(shipment.status)
            self._changed()

    def move(
        self,
        code: str,
        status: str,
        detail: str,
        location: str = "",
        time: str | None = None,
        substatus: str | None = None,
        courier: str | None = None,
        where: str = "origin",
    ) -> JSON:
        """A new checkpoint (newest first); ``time`` defaults to an increasing fake clock."""
        with self._cond:
            shipment = self._shipment(code, courier)
            shipment.add_event(self._event(status, detail, location, time, substatus, where))
            self._changed()
            return shipment.to_object()

    def set_status(
        self, code: str, status: str, substatus: str | None = None, courier: str | None = None
    ) -> JSON:
        """Change delivery_status without a checkpoint (e.g. ``expired``)."""
        with self._cond:
            shipment = self._shipment(code, courier)
            shipment.status = status
            shipment.substatus = substatus or default_substatus(status)
            shipment.update_at = _now()
            self._changed()
            return shipment.to_object()

    def set_fields(self, code: str, courier: str | None = None, **fields: Any) -> JSON:
        """Set top-level fields of the tracking object that the carrier fills in over time
        (``scheduled_delivery_date``, ``signed_by``, …); None clears one."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable fields: {sorted(unknown)}")
        with self._cond:
            shipment = self._shipment(code, courier)
            shipment.extra.update(fields)
            shipment.update_at = _now()
            self._changed()
            return shipment.to_object()

    def tracking(self, code: str, courier: str | None = None) -> JSON:
        """The current tracking object of ``code`` (KeyError if never scripted nor created)."""
        with self._cond:
            found = self._find(code, courier)
            if found is None:
                raise KeyError(f"{code} is neither scripted nor registered")
            return found.to_object()

    def registered(self) -> list[tuple[str, str]]:
        """(courier, number) of every tracking currently registered by the bot."""
        with self._cond:
            return [key for key, s in self._shipments.items() if s.registered]

    # -- faults and limits -----------------------------------------------------------------

    def fail_next(self, kind: str, *, times: int = 1, endpoint: str | None = None) -> None:
        """The next ``times`` requests (to ``endpoint`` if given) get fault ``kind``."""
        fault = parse_fault(kind, endpoint, times)
        with self._cond:
            self._faults.append(fault)

    def set_couriers(self, couriers: list[tuple[str, str, str, str]]) -> None:
        """What `couriers/all` lists: (code, name, country, url) each."""
        with self._cond:
            self._couriers = list(couriers)

    def refuse_courier(self, courier: str) -> None:
        """Registrations with ``courier`` get 4120 (courier_code invalid), as TrackingMore
        answers for a courier code it does not have."""
        with self._cond:
            self._unknown_couriers.add(courier)

    def set_down(self, down: bool) -> None:
        """While down, every request gets an HTML 503."""
        with self._cond:
            self._down = down

    def set_auth_broken(self, broken: bool) -> None:
        """While broken, every request gets HTTP 401 (as if the key had been revoked)."""
        with self._cond:
            self._auth_broken = broken

    def set_quota_exhausted(
        self, exhausted: bool, *, endpoints: Iterable[str] = ("create", "batch")
    ) -> None:
        """While exhausted, requests to ``endpoints`` (by default the creations, as when the
        plan has no trackings left; pass ``ENDPOINTS`` for every call) get meta 4190."""
        endpoints = frozenset(endpoints)
        if unknown := endpoints - set(ENDPOINTS):
            raise ValueError(f"unknown endpoints {sorted(unknown)}; expected some of {ENDPOINTS}")
        with self._cond:
            self._quota_endpoints = endpoints if exhausted else frozenset()

    def enforce_limits(self, per_s: float = 10, create_per_s: float = 3) -> None:
        """Answer 429 beyond ``per_s`` requests/s overall or ``create_per_s`` creations/s."""
        with self._cond:
            self._buckets = (TokenBucket(per_s, per_s), TokenBucket(create_per_s, create_per_s))

    @property
    def rate_limited_count(self) -> int:
        with self._cond:
            return self._rate_limited

    # -- recorded requests -----------------------------------------------------------------

    @property
    def requests(self) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._requests)

    @property
    def parcel_requests(self) -> list[JSON]:
        """The requests about parcels: all but the bot's own fetch of the courier list."""
        return [r for r in self.requests if r["endpoint"] != "couriers"]

    def _of(self, endpoint: str) -> list[JSON]:
        return [r for r in self.requests if r["endpoint"] == endpoint]

    def count(self, endpoint: str) -> int:
        return len(self._of(endpoint))

    def numbers_requested(self, endpoint: str) -> list[str]:
        """Every tracking number sent to ``endpoint``, in request order (with repetitions)."""
        return [number for r in self._of(endpoint) for number in r["numbers"]]

    def wait_for_requests(self, endpoint: str, count: int, timeout: float = 15) -> list[JSON]:
        """The first ``count`` requests to ``endpoint``, once there are that many."""

        def ready() -> list[JSON] | None:
            seen = self._of(endpoint)
            return seen[:count] if len(seen) >= count else None

        return self._wait(ready, timeout, f"{count} {endpoint} request(s)")

    def wait_for_requests_since(
        self, endpoint: str, moment: float, count: int, timeout: float = 15
    ) -> list[JSON]:
        """The first ``count`` requests to ``endpoint`` made at or after ``moment``
        (``time.monotonic()``), once there are that many."""

        def ready() -> list[JSON] | None:
            seen = [r for r in self._of(endpoint) if r["time"] >= moment]
            return seen[:count] if len(seen) >= count else None

        return self._wait(ready, timeout, f"{count} {endpoint} request(s) since {moment:.2f}")

    def wait_until(
        self,
        predicate: Callable[[FakeTrackingMore], Any],
        timeout: float = 15,
        what: str = "condition",
    ) -> Any:
        """Block until ``predicate(self)`` is truthy and return its value."""
        return self._wait(lambda: predicate(self), timeout, what)

    def clear_requests(self) -> None:
        with self._cond:
            self._requests.clear()

    def _dump(self) -> str:
        with self._cond:
            lines = [f"requests ({len(self._requests)}):"]
            lines += [
                f"  {r['method']} {r['path']} {r['status']} numbers={r['numbers']}"
                for r in self._requests[-30:]
            ]
            lines.append(f"registered: {self.registered()}")
            return "\n".join(lines)

    # -- webhooks --------------------------------------------------------------------------

    @staticmethod
    def sign(timestamp: str, secret: str) -> str:
        """The webhook signature: hex HMAC-SHA256 of ``timestamp`` keyed by ``secret``."""
        return hmac.new(secret.encode(), timestamp.encode(), hashlib.sha256).hexdigest()

    def webhook_payload(self, code: str, courier: str | None = None) -> JSON:
        return {"meta": {"code": 200, "message": "Success"}, "data": self.tracking(code, courier)}


def _batch_error(item: Any, code: int) -> JSON:
    item = item if isinstance(item, dict) else {}
    return {
        "tracking_number": item.get("tracking_number"),
        "courier_code": item.get("courier_code"),
        "errorCode": code,
        "errorMessage": MESSAGES[code],
    }
