"""The TrackingMore parser on the public sample payloads (../shared/samples/trackingmore)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from shared_data import trackingmore_sample

from bot.carrier import (
    CarrierAlreadyExists,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierError,
    CarrierInvalidInput,
    CarrierNotFound,
    CarrierQuotaError,
    CarrierRateLimited,
    CarrierUnavailable,
    parse_tracking,
)
from bot.carrier.client import _unwrap
from bot.carrier.parser import parse_batch_result
from bot.core.shipments import Checkpoint, diff
from bot.core.times import ROME, parse_carrier_time


def sample(name: str) -> Any:
    return trackingmore_sample(name)


@dataclass(frozen=True)
class Sample:
    """A sample named in a parametrisation, read when the test runs (it may be missing)."""

    name: str

    def load(self) -> Any:
        return sample(self.name)


def test_delivered_wrapper_sample_reads_status_and_track_info() -> None:
    snapshot = parse_tracking(sample("v4_get_results_dhl_delivered_via_wrapper.json")["data"][0])
    assert snapshot is not None
    assert (snapshot.courier, snapshot.code, snapshot.status) == ("dhl", "9104223295", "delivered")
    assert snapshot.substatus == "delivered001"
    assert snapshot.carrier_id == "9a71ac3628f63b843820bddbc9fb7e35"
    assert [c.description for c in snapshot.checkpoints] == [
        "Delivered",
        "Shipment is out with courier for delivery",
    ]
    assert snapshot.checkpoints[0].occurred_at == datetime(2023, 9, 15, 15, 0)
    assert snapshot.checkpoints[0].location == "SUZHOU & SURROUNDING AREA - CHINA MAINLAND"


def test_notfound_sample_has_no_checkpoints() -> None:
    snapshot = parse_tracking(sample("v4_get_results_amazon_notfound_via_wrapper.json")["data"][0])
    assert snapshot is not None
    assert snapshot.status == "notfound"
    assert snapshot.checkpoints == ()


def test_unknown_status_in_full_fields_mock_is_kept_raw(caplog: pytest.LogCaptureFixture) -> None:
    snapshot = parse_tracking(sample("v4_tracking_object_usps_full_fields_mock.json"))
    assert snapshot is not None
    assert snapshot.status == "created"
    assert "created" in caplog.text  # logged once as unknown
    caplog.clear()
    parse_tracking(sample("v4_tracking_object_usps_full_fields_mock.json"))
    assert "unknown delivery_status" not in caplog.text


def test_ups_trackinfo_fixture_newest_first_and_times_parsed() -> None:
    snapshot = parse_tracking(sample("v4_tracking_ups_delivered_trackinfo_testfixture.json"))
    assert snapshot is not None
    assert len(snapshot.checkpoints) == 8
    times = [c.occurred_at for c in snapshot.checkpoints]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert snapshot.checkpoints[0].description == "DELIVERED"
    assert snapshot.checkpoints[-1].occurred_at == datetime(2021, 12, 1, 11, 33)


def test_origin_and_destination_merged_without_duplicates() -> None:
    obj = sample("v4_tracking_ups_delivered_trackinfo_testfixture.json")
    destination = [
        obj["origin_info"]["trackinfo"][0],  # the same checkpoint seen on both sides
        {
            "checkpoint_date": "2021-12-07 11:00:00",
            "tracking_detail": "Arrived in Italy",
            "location": "MILANO",
            "checkpoint_delivery_status": "transit",
        },
    ]
    obj["destination_info"] = {"trackinfo": destination}
    snapshot = parse_tracking(obj)
    assert snapshot is not None
    assert len(snapshot.checkpoints) == 9
    assert snapshot.checkpoints[0].description == "Arrived in Italy"


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        "text",
        {"tracking_number": "X"},
        {"delivery_status": "transit"},
        {"tracking_number": "", "delivery_status": "transit"},
    ],
)
def test_objects_missing_identity_are_skipped(broken: Any) -> None:
    assert parse_tracking(broken) is None


def test_garbage_inside_trackinfo_is_ignored() -> None:
    obj = {
        "tracking_number": "RR123456785IT",
        "courier_code": "poste-italiane",
        "delivery_status": "transit",
        "origin_info": {
            "trackinfo": [
                None,
                "junk",
                {"checkpoint_date": "not a date", "tracking_detail": "Partita", "location": None},
                {},
            ]
        },
        "destination_info": None,
    }
    snapshot = parse_tracking(obj)
    assert snapshot is not None
    assert [c.description for c in snapshot.checkpoints] == ["Partita"]
    assert snapshot.checkpoints[0].occurred_at is None
    assert snapshot.checkpoints[0].raw_time == "not a date"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-09-15T15:00:00", datetime(2023, 9, 15, 15, 0)),
        ("2021-12-07 10:31", datetime(2021, 12, 7, 10, 31)),
        ("2022-03-29T13:52:16.000Z", datetime(2022, 3, 29, 15, 52, 16)),  # UTC → Rome (CEST)
        ("2023-10-25T07:02:52+00:00", datetime(2023, 10, 25, 9, 2, 52)),
        ("2023/09/15 15:00", datetime(2023, 9, 15, 15, 0)),
        ("15/09/2023 15:00", datetime(2023, 9, 15, 15, 0)),
        ("2023-09-15", datetime(2023, 9, 15)),
        ("", None),
        ("yesterday", None),
        (None, None),
        (12345, None),
    ],
)
def test_carrier_times_parse_leniently(raw: Any, expected: datetime | None) -> None:
    assert parse_carrier_time(raw) == expected


def test_offset_times_are_converted_to_rome() -> None:
    parsed = parse_carrier_time("2023-01-10T12:00:00+00:00")
    assert parsed == datetime(2023, 1, 10, 13, 0)  # CET in winter
    assert parsed.replace(tzinfo=ROME).utcoffset().total_seconds() == 3600  # type: ignore[union-attr]


def test_same_checkpoint_with_reformatted_time_is_not_new() -> None:
    first = Checkpoint("In transito", "ROMA", parse_carrier_time("2023-09-15T15:00:00"), "x")
    again = Checkpoint("In  transito", "roma", parse_carrier_time("2023-09-15 15:00"), "y")
    assert first.fingerprint == again.fingerprint


def test_diff_reports_status_change_and_new_checkpoints_only() -> None:
    old = Checkpoint("Accettata", "MILANO", datetime(2024, 1, 1, 9, 0))
    new = Checkpoint("In transito", "BOLOGNA", datetime(2024, 1, 2, 9, 0))
    from bot.core.shipments import Snapshot

    snapshot = Snapshot("poste-italiane", "RR123456785IT", "transit", checkpoints=(new, old))
    change = diff(1, "inforeceived", {old.fingerprint}, snapshot)
    assert change is not None
    assert change.status_changed
    assert change.new_checkpoints == (new,)
    assert diff(1, "transit", {old.fingerprint, new.fingerprint}, snapshot) is None


def test_batch_create_fixture() -> None:
    data = sample("v4_batch_create_response_testfixture.json")["data"]
    result = parse_batch_result(data, [("usps", "A"), ("usps", "b")])
    assert [(s.courier, s.code) for s in result.registered] == [("usps", "A")]
    assert result.already_registered == [("usps", "b")]
    assert result.refused == []


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, Sample("v4_error_401_testfixture.json"), CarrierAuthError),
        (200, Sample("v4_error_4190_quota_testfixture.json"), CarrierQuotaError),
        (200, {"meta": {"code": 4001, "message": "Invalid API key"}}, CarrierAuthError),
        (200, {"meta": {"code": 4002, "message": "deleted"}}, CarrierAuthError),
        (200, {"meta": {"code": 402, "message": "pay"}}, CarrierQuotaError),
        (200, {"meta": {"code": 4019, "message": "balance"}}, CarrierQuotaError),
        (200, {"meta": {"code": 4021, "message": "trial"}}, CarrierQuotaError),
        (200, {"meta": {"code": 4101, "message": "exists"}}, CarrierAlreadyExists),
        (200, {"meta": {"code": 4016, "message": "exists"}}, CarrierAlreadyExists),
        (200, {"meta": {"code": 4017, "message": "missing"}}, CarrierNotFound),
        (200, {"meta": {"code": 4013, "message": "bad"}}, CarrierInvalidInput),
        (200, {"meta": {"code": 4014, "message": "bad"}}, CarrierInvalidInput),
        (200, {"meta": {"code": 4015, "message": "bad"}}, CarrierInvalidInput),
        (503, {"meta": {"code": 503, "message": "later"}}, CarrierUnavailable),
        (502, "<html>Bad Gateway</html>", CarrierUnavailable),
        (429, {"meta": {"code": 429, "message": "slow down"}}, CarrierRateLimited),
        (200, "<html>not json</html>", CarrierBadResponse),
        (200, '{"meta": {"code": 200', CarrierBadResponse),
        (200, {"data": []}, CarrierBadResponse),
        (200, {"meta": {"code": 4999, "message": "new"}}, CarrierError),
    ],
)
def test_envelope_codes_map_to_typed_errors(status: int, body: Any, error: type) -> None:
    if isinstance(body, Sample):
        body = body.load()
    with pytest.raises(error) as raised:
        _unwrap(_response(status, body))
    assert type(raised.value) is error


def test_rate_limit_honours_retry_after_header() -> None:
    with pytest.raises(CarrierRateLimited) as raised:
        _unwrap(_response(429, {"meta": {"code": 429}}, {"Retry-After": "7"}))
    assert raised.value.retry_after == 7


def test_wrapper_envelope_named_status_is_accepted() -> None:
    body = sample("v4_get_results_dhl_delivered_via_wrapper.json")
    data = _unwrap(_response(200, body))
    assert data[0]["tracking_number"] == "9104223295"
