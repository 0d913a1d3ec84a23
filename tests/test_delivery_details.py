"""What TrackingMore says beside the status (issue 14): the expected delivery date, who signed
for the parcel, the days in transit; parsed, stored on both engines, diffed, told and merged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from shared_data import require_shared, trackingmore_sample

from bot.carrier import parse_tracking
from bot.carrier.parser import tracking_signature
from bot.core.backlog import merge_notices
from bot.core.lifecycle import Notice, NoticeEvent, is_told_to
from bot.core.shipments import Checkpoint, Snapshot, diff
from bot.storage import Notification, Storage
from bot.storage.records import decode_notice, encode_notice
from bot.texts.i18n import Translator
from bot.texts.shipments import notification

CODE = "RR123456785IT"
POSTE = "poste-italiane"
THURSDAY = "2026-12-03"
IT, EN = Translator("it"), Translator("en")
AMAZON = "v4_get_results_amazon_notfound_via_wrapper.json"


def dhl_delivered() -> dict[str, Any]:
    obj: dict[str, Any] = trackingmore_sample("v4_get_results_dhl_delivered_via_wrapper.json")[
        "data"
    ][0]
    return obj


def realdata(name: str) -> Any:
    return json.loads(require_shared(Path("realdata") / name).read_text(encoding="utf-8"))


# --- the parser on the real payloads -----------------------------------------------------------


def test_transit_time_of_the_delivered_sample_is_its_days_in_transit() -> None:
    snapshot = parse_tracking(dhl_delivered())
    assert snapshot is not None
    assert (snapshot.transit_days, snapshot.expected_delivery, snapshot.signed_by) == (5, "", "")


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(lambda: trackingmore_sample("v4_tracking_object_usps_full_fields_mock.json")),
        pytest.param(lambda: trackingmore_sample(AMAZON)["data"][0]),
        pytest.param(lambda: realdata("tm_anvari182_create_notfound_allnull.json")["data"]),
        pytest.param(lambda: realdata("tm_anvari182_get_list_notfound.json")["data"][0]),
    ],
)
def test_null_date_and_signature_of_real_payloads_are_empty(obj: Any) -> None:
    tracking = obj()
    assert tracking["scheduled_delivery_date"] is None and tracking["signed_by"] is None
    snapshot = parse_tracking(tracking)
    assert snapshot is not None
    assert (snapshot.expected_delivery, snapshot.signed_by, snapshot.transit_days) == ("", "", 0)


@pytest.mark.parametrize(
    "given",
    [THURSDAY, "2026-12-03T18:00:00+08:00", "2026-12-03 18:00:00", "03/12/2026", "2026/12/03"],
)
def test_the_expected_date_is_read_in_the_shapes_carriers_use(given: str) -> None:
    tracking = dhl_delivered() | {"scheduled_delivery_date": given, "signed_by": " D  Johnson "}
    snapshot = parse_tracking(tracking)
    assert snapshot is not None
    assert (snapshot.expected_delivery, snapshot.signed_by) == (THURSDAY, "D Johnson")


@pytest.mark.parametrize("given", ["soon", "", "2026-13-45", 20261203])
def test_an_unreadable_expected_date_is_none(given: object) -> None:
    snapshot = parse_tracking(dhl_delivered() | {"scheduled_delivery_date": given})
    assert snapshot is not None and snapshot.expected_delivery == ""


def test_the_signature_sees_the_date_and_who_signed_but_not_their_absence() -> None:
    obj = dhl_delivered()
    with_nulls = obj | {"scheduled_delivery_date": None, "signed_by": None}
    assert tracking_signature(with_nulls) == tracking_signature(obj)  # no re-parse on upgrade
    dated = obj | {"scheduled_delivery_date": THURSDAY}
    assert tracking_signature(dated) != tracking_signature(obj)
    other_day = obj | {"scheduled_delivery_date": "2026-12-04"}
    assert tracking_signature(other_day) != tracking_signature(dated)
    signed = obj | {"signed_by": "D Johnson"}
    assert tracking_signature(signed) != tracking_signature(obj)


# --- the diff, the notice, the backlog ---------------------------------------------------------

MOVED = Checkpoint("In transito", "BOLOGNA", raw_time="2026-11-20 09:30")


def snap(status: str = "transit", expected: str = "", *checkpoints: Checkpoint) -> Snapshot:
    return Snapshot(POSTE, CODE, status, expected_delivery=expected, checkpoints=checkpoints)


def test_a_new_date_alone_is_a_date_change_not_a_status_change() -> None:
    change = diff(1, "transit", set(), snap(expected=THURSDAY), old_expected="2026-12-02")
    assert change is not None and change.date_only and not change.status_changed
    assert diff(1, "transit", set(), snap(expected=THURSDAY), old_expected=THURSDAY) is None
    assert diff(1, "transit", set(), snap(expected=""), old_expected=THURSDAY) is None
    assert diff(1, "delivered", set(), snap("delivered", THURSDAY)) is None  # late, not news
    first = diff(1, "transit", set(), snap(expected=THURSDAY))
    assert first is not None and first.date_only  # the first date given is news too
    moved = diff(1, "pending", set(), snap("transit", THURSDAY, MOVED), old_expected=THURSDAY)
    assert moved is not None and not moved.date_only and not moved.expected_changed


def test_a_date_change_is_told_in_important_mode_too() -> None:
    change = diff(1, "transit", set(), snap(expected=THURSDAY), old_expected="2026-12-02")
    assert change is not None
    assert is_told_to(change, "all") and is_told_to(change, "important")
    notice = Notice.of(change)
    assert (notice.date_only, notice.expected_delivery) == (True, THURSDAY)


def test_old_outbox_payloads_still_decode_and_new_ones_round_trip() -> None:
    old = decode_notice('{"status": "transit", "events": []}')
    assert (old.expected_delivery, old.date_only, old.signed_by) == ("", False, "")
    notice = Notice("delivered", "pickup", "", (), 0, THURSDAY, False, "D Johnson")
    assert decode_notice(encode_notice(notice)) == notice


EVENT = NoticeEvent("In transito", "BOLOGNA", "2026-11-20T09:30:00")


def test_a_backlog_of_date_changes_is_one_date_change_with_the_newest_date() -> None:
    dates = [
        Notice("transit", "transit", expected_delivery=day, date_only=True)
        for day in ("2026-12-02", THURSDAY)
    ]
    merged = merge_notices(dates)
    assert (merged.date_only, merged.expected_delivery) == (True, THURSDAY)
    moved = Notice("transit", "pending", events=(EVENT,), expected_delivery="2026-12-02")
    mixed = merge_notices([moved, dates[1]])
    assert (mixed.date_only, mixed.expected_delivery, mixed.events) == (False, THURSDAY, (EVENT,))


# --- the texts, both languages -----------------------------------------------------------------


def told(notice: Notice) -> Notification:
    return Notification(
        id=1,
        chat_id=5,
        chat_type="private",
        chat_language=None,
        chat_user_language=None,
        shipment_id=1,
        courier=POSTE,
        code=CODE,
        label="Scarpe",
        following=True,
        notice=notice,
        attempts=0,
        created_at="2026-11-25T09:00:00Z",
    )


def test_a_date_change_says_just_the_new_date() -> None:
    notice = told(Notice("transit", "transit", expected_delivery=THURSDAY, date_only=True))
    it_lines = notification(IT, notice).splitlines()
    en_lines = notification(EN, notice).splitlines()
    assert it_lines[0].startswith("📅 <b>Scarpe</b>") and en_lines[0].startswith("📅 <b>Scarpe</b>")
    assert it_lines[1:] == ["Nuova data di consegna prevista: <b>giovedì 3 dicembre</b>"]
    assert en_lines[1:] == ["New expected delivery date: <b>Thursday 3 December</b>"]


def test_a_move_shows_the_expected_date_and_a_delivery_who_signed() -> None:
    moved = told(Notice("transit", "pending", events=(EVENT,), expected_delivery=THURSDAY))
    assert notification(IT, moved).splitlines()[-1] == "📅 Consegna prevista giovedì 3 dicembre"
    assert notification(EN, moved).splitlines()[-1] == "📅 Expected Thursday 3 December"
    delivered = Notice("delivered", "pickup", events=(EVENT,), expected_delivery=THURSDAY)
    signed = told(replace(delivered, signed_by="Mario <Rossi>"))
    assert notification(IT, signed).splitlines()[-1] == "✍️ Firmata da Mario &lt;Rossi&gt;"
    assert notification(EN, signed).splitlines()[-1] == "✍️ Signed for by Mario &lt;Rossi&gt;"
    assert "📅" not in notification(IT, told(delivered))  # no date once delivered


# --- storage, on both engines ------------------------------------------------------------------


@pytest.fixture
async def storage(database: Path | str):  # type: ignore[no-untyped-def]
    opened = await Storage.open(database)
    yield opened
    await opened.close()


async def test_the_details_are_stored_and_a_new_date_is_queued_once_per_chat(
    storage: Storage,
) -> None:
    for chat in (1, -3):
        await storage.chats.touch_chat(chat, "private" if chat > 0 else "group", None, "it")
        await storage.follows.follow(chat, POSTE, CODE, None, None, None)
    await storage.changes.ingest([snap("transit", "2026-12-02", MOVED)], notify=False)
    shipment = await storage.shipments.get_shipment(POSTE, CODE)
    assert shipment is not None and shipment.expected_delivery == "2026-12-02"

    assert await storage.changes.ingest([snap("transit", "2026-12-02", MOVED)]) == []
    [change] = await storage.changes.ingest([snap("transit", THURSDAY, MOVED)])
    assert change.date_only and change.old_expected == "2026-12-02"
    assert await storage.changes.ingest([snap("transit", THURSDAY, MOVED)]) == []
    due = await storage.outbox.due_notifications()
    assert sorted(n.chat_id for n in due) == [-3, 1]
    assert all(n.notice.date_only and n.notice.expected_delivery == THURSDAY for n in due)

    # Who signed, and the days in transit, are stored without being news of their own.
    delivered = replace(snap("delivered", "", MOVED), signed_by="Ada", transit_days=4)
    [change] = await storage.changes.ingest([delivered])
    assert change.signed_by == "Ada" and not change.date_only
    shipment = await storage.shipments.get_shipment(POSTE, CODE)
    assert shipment is not None
    assert (shipment.expected_delivery, shipment.signed_by, shipment.transit_days) == (
        None,
        "Ada",
        4,
    )
    followed = await storage.follows.get_followed(1, CODE)
    assert followed is not None and followed.shipment.signed_by == "Ada"
    [row] = await storage.reports.desk_rows(1, archived=True)
    assert (row.expected_delivery, row.signed_by, row.transit_days) == (None, "Ada", 4)
