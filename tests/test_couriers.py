"""Couriers by name: the book that turns API codes into names and typed names into codes."""

from __future__ import annotations

import pytest

from bot.carrier import CarrierBadResponse
from bot.carrier.parser import parse_couriers
from bot.core.couriers import Courier, CourierBook, courier_key
from bot.core.message_codes import parse_track_args

LISTED = [
    Courier("italy-sda", "SDA"),
    Courier("brt-it", "BRT Corriere Espresso"),
    Courier("gls-italy", "GLS Italy"),
    Courier("dhl", "DHL Express"),
    Courier("dhl-it", "DHL"),
]


def test_a_fresh_book_knows_the_default_courier_and_shows_other_codes_as_they_are() -> None:
    book = CourierBook()
    assert book.name_of("poste-italiane") == "Poste Italiane"
    assert book.name_of("italy-sda") == "italy-sda"
    assert book.code_for("Poste Italiane") == "poste-italiane"
    assert book.code_for("SDA") is None


def test_names_and_codes_in_any_spelling_give_the_code() -> None:
    book = CourierBook(LISTED)
    assert book.name_of("italy-sda") == "SDA"
    for typed in ("SDA", "sda", "italy-sda", "ITALY_SDA", "italy sda"):
        assert book.code_for(typed) == "italy-sda", typed
    assert book.code_for("brt-corriere-espresso") == "brt-it"
    assert book.code_for("poste-italiane") == "poste-italiane"  # built in, still known


def test_a_code_wins_over_another_couriers_name() -> None:
    # "DHL" is the name of dhl-it, and "dhl" the code of DHL Express: the code wins.
    book = CourierBook(LISTED)
    assert book.code_for("dhl") == "dhl"
    assert book.code_for("DHL Express") == "dhl"


def test_replacing_the_list_keeps_the_built_in_names() -> None:
    book = CourierBook(LISTED)
    book.replace([Courier("ups", "UPS")])
    assert book.name_of("italy-sda") == "italy-sda"
    assert book.name_of("ups") == "UPS"
    assert book.name_of("poste-italiane") == "Poste Italiane"
    assert len(book) == 2


def test_courier_key_ignores_case_spaces_and_punctuation() -> None:
    assert courier_key("Poste Italiane") == courier_key("poste-italiane") == "posteitaliane"


def test_the_courier_list_keeps_only_entries_with_a_code_and_a_name() -> None:
    data = [
        {"courier_name": "SDA", "courier_code": "italy-sda", "courier_country_iso2": "IT"},
        {"courier_name": "  BRT  ", "courier_code": " BRT-IT "},
        {"courier_name": "", "courier_code": "nameless"},
        {"courier_code": "no-name"},
        {"courier_name": {"it": "no"}, "courier_code": "odd"},
        "not an object",
    ]
    assert parse_couriers(data) == [Courier("italy-sda", "SDA"), Courier("brt-it", "BRT")]


def test_a_courier_list_that_is_not_a_list_is_a_bad_response() -> None:
    with pytest.raises(CarrierBadResponse):
        parse_couriers({"couriers": []})


def test_a_name_is_taken_after_courier_or_corriere() -> None:
    for text in (
        "RR123456785IT courier=SDA",
        "RR123456785IT corriere=sda",
        "RR123456785IT CORRIERE=SDA",
    ):
        [entry] = parse_track_args(text, max_codes=5).entries
        assert entry.courier == "sda", text
        assert entry.label is None
