"""bot.core.deadlines: until when a parcel waits at the post office, from the carrier's text;
and no deadline when the text gives none."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.deadlines import first_deadline, pickup_deadline

EVENT_DAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "In giacenza presso l'ufficio postale, ritirabile entro il 12/12/2026",
            date(2026, 12, 12),
        ),
        ("Disponibile per il ritiro fino al 12.12.2026", date(2026, 12, 12)),
        ("In giacenza fino all'11/12/2026 presso Punto Poste", date(2026, 12, 11)),
        ("Ritirabile entro e non oltre il giorno 3 dicembre 2026", date(2026, 12, 3)),
        ("Ritirabile entro il 3 dicembre", date(2026, 12, 3)),
        ("Ritirabile fino al 12 dic.", date(2026, 12, 12)),
        ("Scadenza giacenza: 10/12/2026", date(2026, 12, 10)),
        ("ritirabile dal 26/11 al 06/12", date(2026, 12, 6)),
        ("entro il 12/12/26", date(2026, 12, 12)),
        ("Ready for collection until 12/12/2026", date(2026, 12, 12)),
        ("Ready for collection until 12 December 2026", date(2026, 12, 12)),
        ("Available for pickup until December 12, 2026", date(2026, 12, 12)),
        ("Available for pickup until Friday, 4 Dec 2026", date(2026, 12, 4)),
        ("Collect by 2026-12-12", date(2026, 12, 12)),
        ("Held at the access point until 2026-12-12 18:00", date(2026, 12, 12)),
        ("until 12/25/2026", date(2026, 12, 25)),  # only month first makes sense
        ("Da ritirare entro il 5/01", date(2027, 1, 5)),  # written in November: next January
    ],
)
def test_a_deadline_the_carrier_writes_is_read(text: str, expected: date) -> None:
    assert pickup_deadline(text, EVENT_DAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "In giacenza presso l'ufficio postale",
        "Arrivata il 25/11/2026 all'ufficio postale",  # a date, but no deadline
        "Spedizione accettata 2026-11-20",
        "Ritirabile entro le 18.00",  # a time of day
        "Ready for pickup by 10.30",
        "entro il 31/02/2026",  # no such day
        "entro il 12/12/2020",  # before the event: not a deadline of it
        "entro il 12/12/2030",  # years ahead: not a collection deadline
        "Delivered by courier on 12/12/2026",
    ],
)
def test_no_deadline_is_invented(text: str) -> None:
    assert pickup_deadline(text, EVENT_DAY) is None


def test_without_the_event_day_a_date_needs_its_year() -> None:
    assert pickup_deadline("entro il 12/12/2026") == date(2026, 12, 12)
    assert pickup_deadline("entro il 12 dicembre") is None


def test_the_newest_event_that_gives_one_wins() -> None:
    texts = ["In giacenza", "ritirabile entro il 10/12/2026", "entro il 20/12/2026"]
    assert first_deadline(texts, EVENT_DAY) == date(2026, 12, 10)
    assert first_deadline(["In consegna"], EVENT_DAY) is None
