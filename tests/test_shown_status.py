"""What a person is told about a status: "ready for pickup" apart from "out for delivery"
(TrackingMore calls both `pickup`), what needs the person, substatuses in plain words, and
the notification and /status texts built on them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from bot.core.lifecycle import Notice, NoticeEvent, is_important, is_told_to
from bot.core.shipments import (
    READY_FOR_PICKUP,
    Change,
    Checkpoint,
    Snapshot,
    diff,
    needs_person,
    shown_status,
)
from bot.storage import Event, Followed, Notification, Shipment, Storage
from bot.storage.records import decode_notice, encode_notice
from bot.texts.i18n import Translator
from bot.texts.shipments import notification, status_with_emoji, timeline

EN, IT = Translator("en"), Translator("it")
CODE, POSTE = "RR123456785IT", "poste-italiane"


@pytest.mark.parametrize(
    ("status", "substatus", "shown", "person"),
    [
        ("pickup", "pickup001", "pickup", False),
        ("pickup", "pickup003", "pickup", False),
        ("pickup", "", "pickup", False),
        ("pickup", None, "pickup", False),
        ("pickup", "pickup002", READY_FOR_PICKUP, True),
        ("transit", "pickup002", "transit", False),  # only pickup's substatus means it
        ("exception", "exception004", "exception", True),
        ("undelivered", "undelivered002", "undelivered", True),
        ("delivered", "delivered003", "delivered", False),
        (None, None, "", False),
    ],
)
def test_shown_status_and_who_must_act(
    status: str | None, substatus: str | None, shown: str, person: bool
) -> None:
    assert shown_status(status, substatus) == shown
    assert needs_person(status, substatus) is person


def ready(*checkpoints: Checkpoint) -> Snapshot:
    return Snapshot(POSTE, CODE, "pickup", "pickup002", checkpoints=checkpoints)


def test_out_for_delivery_turning_ready_for_pickup_is_a_change_without_new_events() -> None:
    change = diff(1, "pickup", set(), ready(), old_substatus="pickup001")
    assert change is not None and change.status_changed
    assert (change.old_shown, change.new_shown) == ("pickup", READY_FOR_PICKUP)
    assert is_important(change) and is_told_to(change, "important")
    # The same shown status again, or a substatus that changes nothing shown: no change.
    assert diff(1, "pickup", set(), ready(), old_substatus="pickup002") is None
    transit = Snapshot(POSTE, CODE, "transit", "transit002")
    assert diff(1, "transit", set(), transit, old_substatus="transit001") is None
    # Back out for delivery is a change too.
    out = Snapshot(POSTE, CODE, "pickup", "pickup003")
    assert diff(1, "pickup", set(), out, old_substatus="pickup002") is not None


def test_a_notice_keeps_the_substatus_in_the_same_payload_keys() -> None:
    change = Change(1, "pickup", "pickup", "pickup002", (), "pickup001")
    notice = Notice.of(change)
    assert notice.shown_status == READY_FOR_PICKUP and notice.needs_person
    payload = encode_notice(notice)
    assert set(__import__("json").loads(payload)) == {
        "status",
        "old_status",
        "substatus",
        "events",
        "more_events",
    }
    assert decode_notice(payload).needs_person


@pytest.fixture
async def storage(database: Path | str):  # type: ignore[no-untyped-def]
    opened = await Storage.open(database)
    yield opened
    await opened.close()


async def test_storage_tells_ready_for_pickup_even_with_no_new_event(storage: Storage) -> None:
    await storage.chats.touch_chat(1, "private", None, "it")
    await storage.chats.set_notify_mode(1, "important")
    await storage.follows.follow(1, POSTE, CODE, None, 1, "Ada")
    when = datetime(2026, 11, 25, 9, 0)
    out = Checkpoint("In consegna", "MILANO", when, when.isoformat(), "pickup", "pickup001")
    first = await storage.changes.ingest(
        [Snapshot(POSTE, CODE, "pickup", "pickup001", checkpoints=(out,))]
    )
    assert [c.new_shown for c in first] == ["pickup"]
    again = await storage.changes.ingest(
        [Snapshot(POSTE, CODE, "pickup", "pickup001", checkpoints=(out,))]
    )
    assert again == []
    changes = await storage.changes.ingest(
        [Snapshot(POSTE, CODE, "pickup", "pickup002", checkpoints=(out,))]
    )
    assert [(c.old_shown, c.new_shown) for c in changes] == [("pickup", READY_FOR_PICKUP)]
    assert await storage.outbox.outbox_backlog() == 2


# --- the texts -------------------------------------------------------------------------------


def note(
    status: str, substatus: str = "", *events: NoticeEvent, chat_type: str = "private"
) -> Notification:
    notice = Notice(status=status, substatus=substatus, events=events)
    return Notification(
        id=1,
        chat_id=-5 if chat_type != "private" else 5,
        chat_type=chat_type,
        chat_language=None,
        chat_user_language=None,
        shipment_id=1,
        courier=POSTE,
        code=CODE,
        label=None,
        following=True,
        notice=notice,
        attempts=0,
        created_at="2026-11-25T09:00:00Z",
        added_by=42,
        added_by_name="Ada",
    )


WAITING = NoticeEvent(
    "In giacenza presso l'ufficio postale, ritirabile entro il 12/12/2026",
    "UFFICIO POSTALE MILANO 12",
    "2026-11-25T09:00:00",
)


def test_ready_for_pickup_says_where_and_until_when() -> None:
    text = notification(IT, note("pickup", "pickup002", WAITING))
    assert text.splitlines() == [
        f"🏤 <code>{CODE}</code>",
        "<b>Da ritirare</b>",
        "In giacenza presso l'ufficio postale, ritirabile entro il 12/12/2026",
        "📍 Dove ritirarla: UFFICIO POSTALE MILANO 12",
        "⏳ Ritirala entro il 12 dicembre 2026",
        "🕒 25 nov, 09:00",
    ]
    english = notification(EN, note("pickup", "pickup002", WAITING))
    assert "<b>Ready for pickup</b>" in english
    assert "📍 Where to pick it up: UFFICIO POSTALE MILANO 12" in english
    assert "⏳ Pick it up by 12 December 2026" in english


def test_ready_for_pickup_without_a_deadline_gets_none() -> None:
    plain = replace(WAITING, description="In giacenza presso l'ufficio postale")
    text = notification(IT, note("pickup", "pickup002", plain))
    assert "Dove ritirarla" in text and "⏳" not in text


def test_out_for_delivery_stays_out_for_delivery() -> None:
    event = NoticeEvent("Il corriere è in consegna", "MILANO", "2026-11-25T09:00:00")
    text = notification(IT, note("pickup", "pickup001", event))
    assert text.splitlines()[:2] == [f"🛵 <code>{CODE}</code>", "<b>In consegna</b>"]
    assert "📍 MILANO" in text and "ritirar" not in text


def test_the_status_is_not_repeated_when_the_carrier_text_starts_with_it() -> None:
    event = NoticeEvent(
        "In transito presso il Centro di Smistamento", "BOLOGNA", "2026-11-25T09:00:00"
    )
    text = notification(IT, note("transit", "transit001", event))
    assert text.splitlines()[1:] == [
        "<b>In transito</b> presso il Centro di Smistamento",
        "📍 BOLOGNA · 🕒 25 nov, 09:00",
    ]
    same = NoticeEvent("IN CONSEGNA", "", None, "oggi")
    assert notification(IT, note("pickup", "", same)).splitlines()[1:] == [
        "<b>IN CONSEGNA</b>",
        "🕒 oggi",
    ]
    # A word that only starts like the status is not the status.
    other = NoticeEvent("In transitorio", "", None)
    assert notification(IT, note("transit", "", other)).splitlines()[1:3] == [
        "<b>In transito</b>",
        "In transitorio",
    ]


@pytest.mark.parametrize(
    ("status", "substatus", "italian", "english"),
    [
        ("delivered", "delivered002", "Ritirata dal destinatario", "Picked up by the recipient"),
        ("delivered", "delivered003", "Firmata dal destinatario", "Signed for by the recipient"),
        ("undelivered", "undelivered002", "Destinatario assente", "Nobody was home"),
        ("transit", "transit005", "Sdoganata", "Cleared customs"),
        ("exception", "exception004", "Non ritirata in tempo", "Not collected in time"),
    ],
)
def test_a_substatus_that_says_more_is_said_in_plain_words(
    status: str, substatus: str, italian: str, english: str
) -> None:
    event = NoticeEvent("Evento", "", "2026-11-25T09:00:00")
    it_text = notification(IT, note(status, substatus, event))
    en_text = notification(EN, note(status, substatus, event))
    assert f"ℹ️ {italian}" in it_text and f"ℹ️ {english}" in en_text
    assert it_text.splitlines()[2].startswith("ℹ️ ")  # right under the status


def test_a_substatus_that_adds_nothing_adds_no_line() -> None:
    event = NoticeEvent("Evento", "", "2026-11-25T09:00:00")
    assert "ℹ️" not in notification(IT, note("delivered", "delivered001", event))


def test_in_a_group_a_parcel_to_collect_mentions_who_added_it() -> None:
    text = notification(IT, note("pickup", "pickup002", WAITING, chat_type="group"))
    assert '👤 Aggiunta da <a href="tg://user?id=42">Ada</a>' in text
    calm = notification(IT, note("pickup", "pickup001", WAITING, chat_type="group"))
    assert "👤" not in calm


def test_status_page_names_the_courier_and_the_pickup_place() -> None:
    shipment = Shipment(1, POSTE, CODE, None, True, "pickup", "pickup002", None, None)
    item = Followed(shipment, "Regalo", 1, "Ada", "2026-11-20T10:00:00Z")
    events = [
        Event(
            "2026-11-25T09:00:00", "", "pickup", "pickup002", WAITING.description, WAITING.location
        )
    ]
    text = timeline(IT, item, events)
    lines = text.splitlines()
    assert lines[1:5] == [
        "Corriere: Poste Italiane",
        "Stato: <b>Da ritirare</b>",
        "📍 Dove ritirarla: UFFICIO POSTALE MILANO 12",
        "⏳ Ritirala entro il 12 dicembre 2026",
    ]
    assert "— Da ritirare" in text  # the event's own status, shown the same way
    assert status_with_emoji(EN, "pickup", "pickup002") == "🏤 Ready for pickup"
    assert status_with_emoji(EN, "notfound") == "🔎 No tracking info yet"
