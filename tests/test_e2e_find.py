"""/find: a chat's shipments by part of the code, the name or the last event, case- and
accent-insensitive, archived ones marked, paged like /list; and plain text in a private chat
following more than 10 shipments searched after the "no code found" hint."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BotFactory
from db_reads import write
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10

pytestmark = pytest.mark.e2e

CODE, OTHER = "RR123456785IT", "EE123456785IT"
ALICE, BOB = 1001, 1002


def send(fake_tg: FakeTelegram, chat: int, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send a text and return the bot's next sendMessage to that chat."""
    kwargs.setdefault("language_code", "en")
    before = len(fake_tg.texts(chat))
    fake_tg.send_text(chat, text, **kwargs)
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def press(fake_tg: FakeTelegram, chat: int, message: dict[str, Any], data: str) -> str:
    callback = fake_tg.press_button(chat, message["message_id"], data, language_code="en")
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what=f"answer to {data}")
    return str(fake_tg.callback_answers(callback)[0].get("text") or "")


def edited_text(fake_tg: FakeTelegram, chat: int, message: dict[str, Any], fragment: str) -> str:
    def current(f: FakeTelegram) -> str | None:
        text = f.stored_message(chat, message["message_id"]).get("text") or ""
        return text if fragment in text else None

    return str(fake_tg.wait_until(current, what=f"message edited to contain {fragment!r}"))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["callback_data"]: b["text"] for row in rows for b in row if "callback_data" in b}


@pytest.mark.in_process
def test_find_by_code_name_and_place_with_the_archived_marked(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    fake_tm.script(CODE, status="pending")
    fake_tm.script(OTHER, status="pending")
    bot_factory()
    send(fake_tg, ALICE, f"{CODE} Perché no")
    send(fake_tg, ALICE, f"{OTHER} Cliente <Rossi>")
    fake_tm.move(OTHER, "transit", "Arrivata al centro", "CMP BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_until(lambda f: len(f.texts(ALICE)) >= 3, what="the move told")

    # By part of the code, in any case: only that one, with its details button.
    found = send(fake_tg, ALICE, "/find rr1234")
    assert found["text"].startswith("🔎 <b>1 shipment matches “rr1234”</b>")
    assert "Perché no" in found["text"] and OTHER not in found["text"]
    assert buttons(found) == {"d:1": "⏳ Perché no"}
    assert found["reply_to_message_id"] is not None  # the question, read back by the pages

    # By name, without the accent and in capitals; a name with HTML is escaped.
    assert "Perché no" in send(fake_tg, ALICE, "/find PERCHE")["text"]
    rossi = send(fake_tg, ALICE, "/find rossi")["text"]
    assert "Cliente &lt;Rossi&gt;" in rossi and "Perché" not in rossi

    # By the last event's place (and its text): the line shows it.
    by_place = send(fake_tg, ALICE, "/find bologna")
    assert "Arrivata al centro, CMP BOLOGNA" in by_place["text"]
    assert list(buttons(by_place)) == ["d:2"]
    assert "1 shipment" in send(fake_tg, ALICE, "/find al centro")["text"]

    # Archived ones are found too, and marked.
    write(bot_env, "UPDATE subscriptions SET archived_at='2026-01-01T00:00:00.000+00:00'")
    archived = send(fake_tg, ALICE, "/find perche")
    assert "Perché no" in archived["text"] and "<i>(archived)</i>" in archived["text"]
    assert buttons(archived) == {"d:1": "🗄 Perché no"}
    before = len(fake_tg.texts(ALICE))
    press(fake_tg, ALICE, archived, "d:1")  # its details still open
    assert "Perché no" in fake_tg.wait_for_messages(ALICE, before + 1)[before]["text"]
    # Another chat's shipments are not this chat's: Bob finds nothing.
    nothing = send(fake_tg, BOB, "/find perche")["text"]
    assert nothing.startswith("🔎 Nothing tracked here matches “perche”")


@pytest.mark.in_process
def test_find_is_paged_and_plain_text_searches_after_the_hint(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    codes = [s10(40_000_000 + i) for i in range(25)]
    bot_factory()
    lines = [f"{code} Cliente Rossi {i}" for i, code in enumerate(codes[:23])]
    send(fake_tg, ALICE, "\n".join([*lines, f"{codes[23]} Bianchi", f"{codes[24]} Verdi"]))

    page1 = send(fake_tg, ALICE, "/find rossi")
    assert page1["text"].splitlines()[:2] == [
        "🔎 <b>23 shipments match “rossi”</b>",
        "Page 1 of 3",
    ]
    assert len([d for d in buttons(page1) if d.startswith("d:")]) == 10
    assert buttons(page1)["f:1"] == "2/3 ▶️"
    press(fake_tg, ALICE, page1, "f:2")
    page3 = edited_text(fake_tg, ALICE, page1, "Page 3 of 3")
    assert page3.startswith("🔎 <b>23 shipments match “rossi”</b>")
    stored = fake_tg.stored_message(ALICE, page1["message_id"])
    assert stored is not None
    assert len([d for d in buttons(stored) if d.startswith("d:")]) == 3
    assert "f:1" in buttons(stored) and "f:3" not in buttons(stored)

    # Plain text, not a code, in a chat following more than 10: the hint, then the search.
    before = len(fake_tg.texts(ALICE))
    fake_tg.send_text(ALICE, "bianchi", language_code="en")
    hint, results = fake_tg.wait_for_messages(ALICE, before + 2)[before:]
    assert "couldn't find a tracking code" in hint["text"]
    assert results["text"].startswith("🔎 <b>1 shipment matches “bianchi”</b>")
    assert len(buttons(results)) == 1
    # Its pages read the query back from the message it answers.
    page = send(fake_tg, ALICE, "Cliente")
    assert "couldn't find" in page["text"]
    paged = fake_tg.wait_for_messages(ALICE, before + 4)[before + 3]
    assert "23 shipments match “Cliente”" in paged["text"]
    press(fake_tg, ALICE, paged, "f:1")
    edited_text(fake_tg, ALICE, paged, "Page 2 of 3")
    # Nothing matches, or a single character: only the hint.
    send(fake_tg, ALICE, "nessuno")
    send(fake_tg, ALICE, "x")
    fake_tg.send_text(ALICE, "/help", language_code="en")
    last = fake_tg.wait_for_messages(ALICE, before + 7)[before + 6]
    assert "/find TEXT" in last["text"]


@pytest.mark.in_process
def test_plain_text_is_not_searched_in_a_chat_following_ten_or_fewer(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot_factory()
    send(fake_tg, ALICE, "\n".join(f"{s10(50_000_000 + i)} Rossi" for i in range(10)))
    before = len(fake_tg.texts(ALICE))
    assert "couldn't find a tracking code" in send(fake_tg, ALICE, "Rossi")["text"]
    assert "/find" in send(fake_tg, ALICE, "/find")["text"]  # the next answer: no search
    assert len(fake_tg.texts(ALICE)) == before + 2


@pytest.mark.in_process
@pytest.mark.parametrize(
    ("language", "usage", "too_short", "too_long", "none"),
    [
        ("en", "What should I look for?", "at least 2 characters", "at most 100", "Nothing"),
        ("it", "Cosa devo cercare?", "almeno 2 caratteri", "al massimo 100", "Nessuna"),
    ],
)
def test_find_bad_input_is_answered_in_both_languages(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    language: str,
    usage: str,
    too_short: str,
    too_long: str,
    none: str,
) -> None:
    bot_factory()
    send(fake_tg, ALICE, f"{CODE} Tom & Jerry", language_code=language)

    def ask(text: str) -> str:
        return str(send(fake_tg, ALICE, text, language_code=language)["text"])

    assert usage in ask("/find")
    assert usage in ask("/find    ")
    assert too_short in ask("/find x")
    assert too_long in ask("/find " + "x" * 300)
    answer = ask("/find <b>x</b>")  # HTML is plain text: escaped back, and matches nothing
    assert none in answer and "&lt;b&gt;x&lt;/b&gt;" in answer and "<b>x</b>" not in answer
    header = "1 shipment matches" if language == "en" else "1 spedizione corrisponde a"
    found = ask("/find tom & JERRY")
    assert header in found and "Tom &amp; Jerry" in found
    if language == "it":
        assert "«tom &amp; JERRY»" in found
    menus = {entry["language_code"]: entry["commands"] for entry in fake_tg.commands()}
    described = {c["command"]: c["description"] for c in menus[language]}
    assert described["find"].startswith("Search" if language == "en" else "Cerca")
