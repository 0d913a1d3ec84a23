"""Inline mode (issue 14): `@bot` in any chat lists the user's shipments (their private chat's
and those they added in groups, once each, newest change first), `@bot TEXT` filters them as
/find matches, and a result posts the status for the chat to read, with a link to follow it.
A code the user does not track is offered to follow, never looked up; strangers get nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10

from bot.storage import Storage

pytestmark = pytest.mark.e2e

PRIVATE_CODE, GROUP_CODE, BOTH_CODE, BOBS_CODE = (
    "RR123456785IT",
    "EE123456785IT",
    "AA123456785IT",
    "CC123456785IT",
)
UNTRACKED = "LX123456785IT"
ALICE, BOB, CAROL, STRANGER = 1001, 1002, 1003, 6666
GROUP = -3001
LINK = "https://t.me/postino_test_bot?start=track_"


def ask_inline(fake_tg: FakeTelegram, user: int, query: str, **kwargs: Any) -> dict[str, Any]:
    """The bot's answer to `@bot query`, once it is there (accepted by the fake's checks)."""
    query_id = fake_tg.send_inline_query(user, query, **kwargs)
    found = fake_tg.wait_until(lambda f: f.inline_answers(query_id), what=f"answer to {query!r}")
    assert fake_tg.failed_calls("answerInlineQuery") == []
    return dict(found[0])


def titles(answer: dict[str, Any]) -> list[str]:
    return [result["title"] for result in answer["results"]]


def message_of(answer: dict[str, Any], index: int = 0) -> str:
    return str(answer["results"][index]["input_message_content"]["message_text"])


def url_buttons(result: dict[str, Any]) -> list[str]:
    rows = (result.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["url"] for row in rows for button in row if "url" in button]


def send(fake_tg: FakeTelegram, chat: int, text: str, **kwargs: Any) -> str:
    before = len(fake_tg.texts(chat))
    fake_tg.send_text(chat, text, **kwargs)
    return fake_tg.wait_for_messages(chat, before + 1)[before]["text"]


def in_group(fake_tg: FakeTelegram, user: int, text: str) -> str:
    return send(fake_tg, GROUP, text, chat_type="group", user_id=user, language_code="en")


@pytest.mark.in_process
def test_inline_lists_filters_and_posts_the_users_shipments(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.script(
        PRIVATE_CODE,
        events=[{"detail": "Accettata", "location": "MILANO", "time": "2026-11-19 18:00:00"}],
    )
    fake_tm.set_fields(PRIVATE_CODE, scheduled_delivery_date="2026-12-02")
    for code in (GROUP_CODE, BOTH_CODE, BOBS_CODE):
        fake_tm.script(code, status="pending")
    bot = bot_factory()
    send(fake_tg, ALICE, f"{PRIVATE_CODE} Perché no", language_code="en")
    in_group(fake_tg, ALICE, f"/track {GROUP_CODE} Cliente Rossi")
    in_group(fake_tg, BOB, f"/track {BOBS_CODE} Bob's")
    in_group(fake_tg, ALICE, f"/track {BOTH_CODE}")
    send(fake_tg, ALICE, f"{BOTH_CODE} Anche qui", language_code="en")

    # Alice's three, once each (the one followed in both as her private chat names it),
    # not Bob's; the oldest change last.
    listed = ask_inline(fake_tg, ALICE, "")
    assert len(titles(listed)) == 3 and titles(listed)[-1].endswith("Perché no")
    assert sorted(title.split(" ", 1)[1] for title in titles(listed)) == [
        "Anche qui",
        "Cliente Rossi",
        "Perché no",
    ]
    assert listed["is_personal"] is True and 10 <= listed["cache_time"] <= 30
    assert listed["next_offset"] == "" and listed["button"] is None

    # It moves: now it comes first, and its message tells what the chat needs to know.
    seen = len(fake_tg.texts(ALICE))
    detail = "Arrivata al centro & <smistamento>"
    fake_tm.move(PRIVATE_CODE, "transit", detail, "CMP BOLOGNA", time="2026-11-20 09:30:00")
    fake_tg.wait_for_messages(ALICE, seen + 1)
    moved = ask_inline(fake_tg, ALICE, "")
    assert titles(moved)[0] == "🚚 Perché no"
    first = moved["results"][0]
    assert PRIVATE_CODE in first["description"] and "In transit" in first["description"]
    text = message_of(moved).splitlines()
    assert text[0] == f"🚚 Shipment <code>{PRIVATE_CODE}</code>"
    assert "Status: <b>In transit</b>" in text
    assert "Last update: Arrivata al centro &amp; &lt;smistamento&gt;" in text
    assert "📍 CMP BOLOGNA · 🕒 20 Nov, 09:30" in text
    assert "📅 Expected Wednesday 2 December" in text
    assert f'🔔 <a href="{LINK}{PRIVATE_CODE}">Get its updates on Telegram</a>' in text
    assert "Perché" not in message_of(moved)  # her name for it stays hers
    assert url_buttons(first) == [f"{LINK}{PRIVATE_CODE}"]

    # Filtered by part of the code, by name (without the accent), in any case.
    assert titles(ask_inline(fake_tg, ALICE, "rr 1234")) == ["🚚 Perché no"]
    assert titles(ask_inline(fake_tg, ALICE, "PERCHE")) == ["🚚 Perché no"]
    assert titles(ask_inline(fake_tg, ALICE, "rossi")) == ["⏳ Cliente Rossi"]
    assert titles(ask_inline(fake_tg, BOB, "")) == ["⏳ Bob's"]

    # A code she does not track: offered to follow, not looked up.
    before = len(fake_tm.requests)
    for code in (UNTRACKED, BOBS_CODE):
        offer = ask_inline(fake_tg, ALICE, code.lower())
        assert offer["button"] == {
            "text": f"➕ Track {code} in the bot",
            "start_parameter": f"track_{code}",
        }
        [result] = offer["results"]
        assert result["id"] == "follow" and code in result["title"]
        assert f"<code>{code}</code>" in message_of(offer)
        assert url_buttons(result) == [f"{LINK}{code}"]
    bot.settle_after_poll_cycles(1)
    assert UNTRACKED not in json.dumps(fake_tm.requests[before:])
    assert PRIVATE_CODE in json.dumps(fake_tm.requests[before:])  # the polls go on as usual

    # Bad input: too long, or HTML; nothing matches, and nothing breaks.
    for query in ("x" * 300, "<b>Rossi</b> & co", "&"):
        nothing = ask_inline(fake_tg, ALICE, query)
        assert nothing["results"] == []
        assert nothing["button"]["text"] == "🔎 Nothing you track matches: open the bot"

    # Her language: the chat's /lang first, else the query's; someone tracking nothing.
    assert "Stato: <b>In transito</b>" in message_of(
        ask_inline(fake_tg, ALICE, "rr", language_code="it")
    )
    send(fake_tg, ALICE, "/lang it", language_code="en")
    assert "Spedizione" in message_of(ask_inline(fake_tg, ALICE, "rr", language_code="en"))
    empty = ask_inline(fake_tg, CAROL, "", language_code="it")
    assert empty["results"] == [] and empty["button"] == {
        "text": "📭 Non segui ancora niente: mandami un codice",
        "start_parameter": "inline",
    }

    # Telegram sends inline queries to a bot that asks for them and says it takes them.
    allowed = fake_tg.calls("getUpdates")[-1]["params"]["allowed_updates"]
    assert "inline_query" in allowed
    with urllib.request.urlopen(f"{fake_tg.base_url}{fake_tg.token}/getMe") as answer:
        assert json.load(answer)["result"]["supports_inline_queries"] is True


@pytest.mark.in_process
def test_strangers_get_nothing_and_long_lists_come_in_pages(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory(ALLOWED_USER_IDS=f"{ALICE},{BOB}")
    refused = ask_inline(fake_tg, STRANGER, UNTRACKED)
    assert refused["results"] == [] and refused["button"] is None
    assert refused["is_personal"] is True and refused["cache_time"] <= 10
    assert fake_tm.parcel_requests == [] and fake_tg.texts(STRANGER) == []

    codes = [s10(60_000_000 + i) for i in range(55)]
    send(fake_tg, ALICE, "\n".join(codes[:30]), language_code="en")
    send(fake_tg, ALICE, "\n".join(codes[30:]), language_code="en")
    page1 = ask_inline(fake_tg, ALICE, "")
    assert len(page1["results"]) == 50 and page1["next_offset"] == "50"
    page2 = ask_inline(fake_tg, ALICE, "", offset="50")
    assert len(page2["results"]) == 5 and page2["next_offset"] == ""
    shown = [r["id"] for r in page1["results"] + page2["results"]]
    assert len(set(shown)) == 55
    # A valid code not among them: only the offer; a broken offset reads as the start.
    offered = ask_inline(fake_tg, ALICE, UNTRACKED)
    assert [r["id"] for r in offered["results"]] == ["follow"]
    assert ask_inline(fake_tg, ALICE, "", offset="garbage")["next_offset"] == "50"


@pytest.mark.in_process
def test_staff_allowed_through_the_shop_group_may_use_inline_mode(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """Inline queries come from no chat: a member of an allowed group (not named in
    ALLOWED_USER_IDS) tells a customer about the parcels they added there; someone who left
    the group, or was never in it, gets nothing."""
    fake_tm.script(GROUP_CODE, status="transit", events=[{"detail": "In transito"}])
    bot_factory(ALLOWED_CHAT_IDS=str(GROUP))
    send(fake_tg, GROUP, f"/track {GROUP_CODE} Cliente Rossi", chat_type="group", user_id=CAROL)
    send(fake_tg, GROUP, f"/track {BOBS_CODE}", chat_type="group", user_id=BOB)
    answer = ask_inline(fake_tg, CAROL, "")
    [shown] = titles(answer)
    assert shown.endswith("Cliente Rossi")
    assert f"{LINK}{GROUP_CODE}" in json.dumps(answer["results"][0])
    # Telegram says "left" of whoever is not in the group: never was, or has gone.
    refused = ask_inline(fake_tg, STRANGER, UNTRACKED)
    assert refused["results"] == [] and refused["button"] is None
    fake_tg.leave_chat(GROUP, BOB)  # added a parcel there, then left the staff group
    assert ask_inline(fake_tg, BOB, "")["results"] == []
    assert UNTRACKED not in json.dumps(fake_tm.parcel_requests)


def test_the_fake_answers_inline_queries_as_telegram_does(fake_tg: FakeTelegram) -> None:
    def call(**params: Any) -> tuple[int, str]:
        body = json.dumps(params).encode()
        request = urllib.request.Request(
            f"{fake_tg.base_url}{fake_tg.token}/answerInlineQuery",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, ""
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)["description"]

    def article(result_id: str, text: str = "ok") -> dict[str, Any]:
        content = {"message_text": text, "parse_mode": "HTML"}
        return {"type": "article", "id": result_id, "title": "t", "input_message_content": content}

    too_old = (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    assert call(inline_query_id="unknown", results=[]) == too_old
    query_id = fake_tg.send_inline_query(ALICE, "x")
    assert call(inline_query_id=query_id, results=[article("a")] * 2)[1].endswith("DUPLICATE")
    assert call(inline_query_id=query_id, results=[article("a" * 65)])[1].endswith("ID_INVALID")
    assert call(inline_query_id=query_id, results=[article(str(i)) for i in range(51)])[0] == 400
    assert "parse entities" in call(inline_query_id=query_id, results=[article("a", "<b>x")])[1]
    assert "too long" in call(inline_query_id=query_id, results=[article("a", "x" * 4097)])[1]
    bad_button = {"text": "go", "start_parameter": "track RR"}
    assert call(inline_query_id=query_id, results=[], button=bad_button)[0] == 400
    assert call(inline_query_id=query_id, results=[article("a")], cache_time=10) == (200, "")
    assert call(inline_query_id=query_id, results=[]) == too_old  # answered once
    [recorded] = fake_tg.inline_answers(query_id)
    assert recorded["cache_time"] == 10 and recorded["results"][0]["id"] == "a"


async def test_followed_by_user_on_both_engines(database: Any) -> None:
    """The storage query: the user's private chat and what they added in groups, once each,
    newest change first, filtered as /find matches; another user's group rows are not theirs."""
    storage = await Storage.open(database)
    try:
        for chat_id, kind in ((ALICE, "private"), (BOB, "private"), (GROUP, "group")):
            await storage.chats.touch_chat(chat_id, kind, None, "en")
        follows = storage.follows
        await follows.follow(ALICE, "poste-italiane", PRIVATE_CODE, "Perché", ALICE, "Alice")
        await follows.follow(GROUP, "poste-italiane", GROUP_CODE, "Rossi", ALICE, "Alice")
        await follows.follow(GROUP, "poste-italiane", BOBS_CODE, None, BOB, "Bob")
        await follows.follow(GROUP, "poste-italiane", BOTH_CODE, "in group", ALICE, "Alice")
        await follows.follow(ALICE, "poste-italiane", BOTH_CODE, "private", ALICE, "Alice")

        def codes(rows: list[Any]) -> list[tuple[str, str | None]]:
            return [(followed.shipment.code, followed.label) for followed, _ in rows]

        assert codes(await follows.followed_by_user(ALICE)) == [
            (BOTH_CODE, "private"),
            (GROUP_CODE, "Rossi"),
            (PRIVATE_CODE, "Perché"),
        ]
        assert codes(await follows.followed_by_user(ALICE, "PERCHE")) == [(PRIVATE_CODE, "Perché")]
        assert codes(await follows.followed_by_user(ALICE, "in group")) == [(BOTH_CODE, "private")]
        assert codes(await follows.followed_by_user(ALICE, "ee 1234")) == [(GROUP_CODE, "Rossi")]
        assert codes(await follows.followed_by_user(BOB)) == [(BOBS_CODE, None)]
        assert await follows.followed_by_user(STRANGER) == []
        [(_, event)] = await follows.followed_by_user(BOB)
        assert event is None
    finally:
        await storage.close()
