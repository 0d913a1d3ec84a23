"""Couriers by the names people know, end to end: the bot reads TrackingMore's courier list
at start, names couriers from it, and takes a name where a courier code goes."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10

pytestmark = pytest.mark.e2e

CHAT = 4242
SDA_CODE = "3UW1CEG000511"  # an SDA-shaped parcel number (generic alphanumeric rule)


def ask(fake_tg: FakeTelegram, text: str, **kwargs: Any) -> str:
    before = len(fake_tg.texts(CHAT))
    fake_tg.send_text(CHAT, text, **kwargs)
    return fake_tg.wait_for_messages(CHAT, before + 1, timeout=30)[before]["text"]


def registered_courier(fake_tm: FakeTrackingMore, code: str) -> str:
    for request in fake_tm.requests:
        if request["endpoint"] == "create" and code in request["numbers"]:
            return str(request["json"]["courier_code"])
        if request["endpoint"] == "batch" and code in request["numbers"]:
            [item] = [i for i in request["json"] if i["tracking_number"] == code]
            return str(item["courier_code"])
    raise AssertionError(f"{code} was never registered")


@pytest.mark.in_process
def test_names_in_and_out(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(SDA_CODE, courier="italy-sda", status="transit")
    bot_factory()
    fake_tm.wait_for_requests("couriers", 1)

    answer = ask(fake_tg, f"/track {SDA_CODE} Scarpe courier=SDA", language_code="en")
    assert "Now tracking" in answer
    assert registered_courier(fake_tm, SDA_CODE) == "italy-sda"

    status = ask(fake_tg, f"/status {SDA_CODE}", language_code="en")
    assert "Courier: SDA" in status
    assert "Courier: italy-sda" not in status

    brt = s10(64_000_001)
    assert "Ora seguo" in ask(fake_tg, f"{brt} corriere=BRT", language_code="it")
    assert registered_courier(fake_tm, brt) == "brt-it"
    assert "Corriere: BRT" in ask(fake_tg, f"/status {brt}", language_code="it")


@pytest.mark.in_process
def test_an_import_names_couriers_and_the_export_shows_name_beside_code(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    poste, gls = s10(64_000_002), s10(64_000_003)
    bot_factory()
    fake_tm.wait_for_requests("couriers", 1)
    data = f"codice;nome;corriere\n{poste};Borsa;Poste Italiane\n{gls};Libri;GLS Italy\n"
    before = len(fake_tg.texts(CHAT))
    fake_tg.send_document(CHAT, "spedizioni.csv", data.encode())
    answer = fake_tg.wait_for_messages(CHAT, before + 1, timeout=30)[before]["text"]
    assert "Added: 2" in answer and "Refused: 0" in answer
    assert registered_courier(fake_tm, poste) == "poste-italiane"
    assert registered_courier(fake_tm, gls) == "gls-italy"

    fake_tg.send_text(CHAT, "/export", language_code="it")
    [document] = fake_tg.wait_until(
        lambda f: [m for m in f.messages(CHAT) if m["method"] == "sendDocument"],
        what="the export",
    )
    _name, content = document["document"]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    by_code = {row[header.index("codice")]: row for row in rows[1:]}
    courier, courier_name = header.index("corriere"), header.index("nome corriere")
    assert courier_name == courier + 1
    assert (by_code[gls][courier], by_code[gls][courier_name]) == ("gls-italy", "GLS Italy")
    assert (by_code[poste][courier], by_code[poste][courier_name]) == (
        "poste-italiane",
        "Poste Italiane",
    )


@pytest.mark.in_process
def test_without_the_courier_list_codes_are_shown_and_the_default_courier_is_named(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.fail_next("http500", endpoint="couriers", times=3)
    fake_tm.script(SDA_CODE, courier="italy-sda", status="transit")
    bot_factory()
    fake_tm.wait_for_requests("couriers", 1)

    assert "Now tracking" in ask(
        fake_tg, f"/track {SDA_CODE} courier=italy-sda", language_code="en"
    )
    assert "Courier: italy-sda" in ask(fake_tg, f"/status {SDA_CODE}", language_code="en")
    poste = s10(64_000_004)
    ask(fake_tg, poste, language_code="en")
    assert "Courier: Poste Italiane" in ask(fake_tg, f"/status {poste}", language_code="en")
