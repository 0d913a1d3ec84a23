"""What TrackingMore's answers mean: tracking objects to `Snapshot`s, batch-create results."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.carrier.errors import EXISTS_CODES, CarrierBadResponse, CarrierError, CarrierInvalidInput
from bot.core.couriers import Courier
from bot.core.shipments import Checkpoint, Snapshot, merge_checkpoints, note_status
from bot.core.times import parse_carrier_time

logger = logging.getLogger(__name__)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}(?![\d])")


@dataclass(frozen=True)
class BatchCreateResult:
    registered: list[Snapshot] = field(default_factory=list)
    already_registered: list[tuple[str, str]] = field(default_factory=list)  # (courier, code)
    refused: list[tuple[str, str, CarrierError]] = field(default_factory=list)


@dataclass(frozen=True)
class Fetched:
    snapshots: list[Snapshot]  # the trackings that said something new (or all, without `known`)
    unknown: list[str]  # numbers TrackingMore does not have (any more)
    unchanged: list[str] = field(default_factory=list)  # answered as their `known` signature


def parse_batch_result(data: Any, items: Sequence[tuple[str, str]]) -> BatchCreateResult:
    if not isinstance(data, Mapping):
        raise CarrierBadResponse("batch create answered without success/error lists")
    courier_of = {code: courier for courier, code in items}
    result = BatchCreateResult()
    for entry in _dicts(data.get("success")):
        code = str(entry.get("tracking_number") or "")
        if code not in courier_of:
            continue
        snapshot = parse_tracking(entry) if entry.get("delivery_status") else None
        result.registered.append(
            snapshot
            or Snapshot(
                courier=str(entry.get("courier_code") or courier_of[code]),
                code=code,
                status="",
                carrier_id=str(entry.get("id") or ""),
            )
        )
    for entry in _dicts(data.get("error")):
        code = str(entry.get("tracking_number") or "")
        if code not in courier_of:
            continue
        courier = str(entry.get("courier_code") or courier_of[code])
        try:
            error_code = int(entry.get("errorCode") or 0)
        except (TypeError, ValueError):
            error_code = 0
        if error_code in EXISTS_CODES:
            result.already_registered.append((courier, code))
        else:
            message = str(entry.get("errorMessage") or "refused")
            result.refused.append((courier, code, CarrierInvalidInput(message, error_code)))
    return result


def parse_tracking(obj: Any, signature: str | None = None) -> Snapshot | None:
    """A v4 tracking object to a Snapshot; None (logged) when it lacks what identifies it."""
    if not isinstance(obj, Mapping):
        logger.warning("skipping a tracking that is not an object")
        return None
    code = obj.get("tracking_number")
    raw_status = obj.get("delivery_status")
    status = raw_status.strip().lower() if isinstance(raw_status, str) else ""
    if not isinstance(code, str) or not code or not status:
        logger.warning("skipping a tracking without tracking_number or delivery_status")
        return None
    groups = [
        _checkpoints(_section(obj, "origin_info").get("trackinfo")),
        _checkpoints(_section(obj, "destination_info").get("trackinfo")),
        _checkpoints(obj.get("track_info")),  # the layout some wrappers use
    ]
    return Snapshot(
        courier=str(obj.get("courier_code") or ""),
        code=code,
        status=note_status(status),
        substatus=str(obj.get("substatus") or ""),
        carrier_id=str(obj.get("id") or ""),
        checkpoints=merge_checkpoints(groups),
        signature=signature or tracking_signature(obj),
        expected_delivery=_day(obj.get("scheduled_delivery_date")),
        signed_by=_text(obj.get("signed_by")),
        transit_days=_days(obj.get("transit_time")),
    )


def tracking_signature(obj: Mapping[str, Any]) -> str:
    """A short digest of what a tracking says: status, and the size and newest entry of each
    list of checkpoints. Equal signatures mean nothing new to diff; cheap to compute from
    the raw answer, so unchanged trackings are never parsed."""
    parts: list[object] = [
        obj.get("delivery_status"),
        obj.get("substatus"),
        obj.get("latest_checkpoint_time"),
        obj.get("latest_event"),
    ]
    for items in (
        _section(obj, "origin_info").get("trackinfo"),
        _section(obj, "destination_info").get("trackinfo"),
        obj.get("track_info"),
    ):
        if isinstance(items, list) and items:
            newest = items[0] if isinstance(items[0], Mapping) else {}
            parts += [len(items), newest.get("checkpoint_date"), newest.get("tracking_detail")]
        else:
            parts.append(0)
    # Only when given, so that the digest of a tracking without them stays what it was.
    for name in ("scheduled_delivery_date", "signed_by"):
        if obj.get(name):
            parts += [name, obj.get(name)]
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _section(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = obj.get(name)
    return section if isinstance(section, Mapping) else {}


def _checkpoints(items: Any) -> list[Checkpoint]:
    checkpoints = []
    for item in _dicts(items):
        description = _text(item.get("tracking_detail") or item.get("details"))
        status = _text(item.get("checkpoint_delivery_status")).lower()
        if not description and not status:
            continue
        raw_time = _text(item.get("checkpoint_date"))
        checkpoints.append(
            Checkpoint(
                description=description,
                location=_text(item.get("location")),
                occurred_at=parse_carrier_time(raw_time),
                raw_time=raw_time,
                status=status,
                substatus=_text(item.get("checkpoint_delivery_substatus")),
            )
        )
    return checkpoints


def _day(value: Any) -> str:
    """An expected delivery date as an ISO date ("2026-12-03"); "" when there is none or it
    cannot be read. A leading ISO date is the day as the carrier means it (no conversion of
    an offset, which could move it to another day)."""
    if not isinstance(value, str):
        return ""
    text = _text(value)
    match = _ISO_DAY.match(text)
    if match:
        try:
            return date.fromisoformat(match[0]).isoformat()
        except ValueError:
            return ""
    moment = parse_carrier_time(text)
    return moment.date().isoformat() if moment else ""


def _days(value: Any) -> int | None:
    """`transit_time`: whole days, None when missing or not a number."""
    if isinstance(value, bool):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        return None
    return days if days >= 0 else None


def _dicts(items: Any) -> list[Mapping[str, Any]]:
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def parse_couriers(data: Any) -> list[Courier]:
    """`GET /couriers/all`: a list of `{courier_code, courier_name, …}`; entries without both
    are skipped, and an answer that is not a list is a bad response."""
    if not isinstance(data, list):
        raise CarrierBadResponse("the courier list is not a list")
    couriers = []
    for entry in _dicts(data):
        code, name = entry.get("courier_code"), entry.get("courier_name")
        if isinstance(code, str) and isinstance(name, str) and code.strip() and name.strip():
            couriers.append(Courier(code.strip().lower(), " ".join(name.split())))
    return couriers
