"""The web desk's server over real HTTP against the real bot (in process): /desk and its
login links, sessions, Mini App initData, every endpoint of /desk/api/, the rights in a group,
and the chat and the page agreeing on what was done in either."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import BotFactory
from db_reads import write
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import free_port, settle_updates
from parcels import s10, wrong_check_digit
from webdesk import (
    COOKIE,
    ask,
    buttons,
    desk_link,
    init_data,
    login_link_in,
    open_link,
    row_of,
    rows,
    session,
)

from bot.core.desk_tokens import new_token, token_hash
from bot.core.times import iso_utc, utcnow

pytestmark = [pytest.mark.full, pytest.mark.e2e, pytest.mark.in_process]

ALICE, BOB, CAROL, SHOP = 1001, 1002, 1003, -2001
A, B, C = s10(1), s10(2), s10(3)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def desk(bot_factory: BotFactory, port: int, base: str) -> str:
    """A bot with its web server on `port` (PUBLIC_BASE_URL by default: that address)."""
    # No poll cycle during a test: the carrier's calls are the page's own.
    bot = bot_factory(WEBHOOK_LISTEN=f"127.0.0.1:{port}", POLL_INTERVAL_SECONDS="3600")
    bot.wait_poll_cycles(1)  # the first one (a second after start) is over before the test
    return base


def follow(fake_tg: FakeTelegram, chat: int, *codes: str, **kwargs: Any) -> None:
    for code in codes:
        ask(fake_tg, chat, code if chat > 0 else f"/track {code}", **kwargs)


# --- a private chat -----------------------------------------------------------------------


def test_a_login_link_opens_a_session_and_the_page_acts_as_the_chat_does(
    desk: str, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    for code in (A, B, C):
        fake_tm.script(code, status="transit")
    follow(fake_tg, ALICE, A, B, C)
    answer = ask(fake_tg, ALICE, "/desk")
    assert "web desk" in answer["text"]
    assert [b.get("web_app") for b in buttons(answer)] == [None]  # http: no Mini App
    link = login_link_in(answer)
    assert link.startswith(f"{desk}/desk/login/")
    opened = open_link(desk, link)
    assert opened.status_code == 303 and opened.headers["location"] == "/desk/"
    cookie = opened.headers["set-cookie"]
    for part in ("HttpOnly", "SameSite=Lax", "Path=/desk/", "Max-Age=43200"):
        assert part.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()
    assert open_link(desk, link).status_code == 401  # single use
    client = session(desk, link := desk_link(fake_tg, ALICE))

    me = client.get("/desk/api/session").json()
    assert me["chat"] == {"id": ALICE, "title": "Ada", "type": "private"}
    assert me["user"] == {"id": ALICE, "name": "Ada"}
    assert (me["language"], me["can_manage"], me["bot_username"]) == (
        "en",
        True,
        "postino_test_bot",
    )
    assert all(key.startswith("desk.") for key in me["texts"])

    shown = rows(client, ALICE)
    assert [r["code"] for r in shown] == [A, B, C]
    first = shown[0]
    assert (first["status"], first["status_text"], first["attention"]) == (
        "transit",
        "In transit",
        False,
    )
    assert first["follow_url"] == f"https://t.me/postino_test_bot?start=track_{A}"
    assert first["carrier_url"] and A in first["carrier_url"]
    assert first["can_remove"] and not first["muted"] and not first["archived"]

    # rename: the chat's /list shows the name; "-" clears it
    renamed = client.post(
        f"/desk/api/chats/{ALICE}/shipments/{first['id']}/rename", json={"label": "  Scarpe  "}
    )
    assert renamed.status_code == 200 and renamed.json()["row"]["label"] == "Scarpe"
    assert "Scarpe" in ask(fake_tg, ALICE, "/list")["text"]
    # mute, as the chat's button would
    muted = client.post(
        f"/desk/api/chats/{ALICE}/shipments/{first['id']}/mute", json={"muted": True}
    )
    assert muted.json()["row"]["muted"] is True
    # refresh asks the carrier, then not again within 10 minutes
    fake_tm.move(A, "pickup", "In consegna")
    gets = fake_tm.count("get")
    refreshed = client.post(f"/desk/api/chats/{ALICE}/shipments/{first['id']}/refresh", json={})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["changed"] is True and refreshed.json()["row"]["status"] == "pickup"
    again = client.post(f"/desk/api/chats/{ALICE}/shipments/{first['id']}/refresh", json={})
    assert again.status_code == 429 and "refresh again at" in again.json()["error"]
    assert fake_tm.count("get") == gets + 1
    # the timeline, newest first
    events = client.get(f"/desk/api/chats/{ALICE}/shipments/{first['id']}/timeline").json()
    assert events["events"][0]["description"] == "In consegna"
    # remove: gone from the chat's list too
    third = shown[2]
    removed = client.post(f"/desk/api/chats/{ALICE}/shipments/{third['id']}/remove", json={})
    assert removed.json() == {"removed": True}
    listed = ask(fake_tg, ALICE, "/list")["text"]
    assert A in listed and C not in listed
    assert [r["code"] for r in rows(client, ALICE)] == [A, B]
    # what the chat does shows on the page
    ask(fake_tg, ALICE, f"/remove {B}")
    assert [r["code"] for r in rows(client, ALICE)] == [A]


def test_the_rows_carry_an_etag_and_polling_gets_304_until_something_changes(
    desk: str, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    follow(fake_tg, ALICE, A, B)
    client = session(desk, desk_link(fake_tg, ALICE))
    first = client.get(f"/desk/api/chats/{ALICE}/shipments", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["etag"]
    assert etag == f'W/"{first.json()["revision"]}"'  # weak: sent gzipped or not
    assert first.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers.get("vary", "")
    same = client.get(f"/desk/api/chats/{ALICE}/shipments", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    ask(fake_tg, ALICE, f"{A} Regalo")  # a name given in the chat
    changed = client.get(f"/desk/api/chats/{ALICE}/shipments", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    # The carrier's news (a refresh stores it as a poll would) moves the revision too…
    etag = changed.headers["etag"]
    fake_tm.move(B, "transit", "In transito", "BOLOGNA")
    moved = client.post(
        f"/desk/api/chats/{ALICE}/shipments/{row_of(client, ALICE, B)['id']}/refresh", json={}
    )
    assert moved.status_code == 200 and moved.json()["changed"] is True
    polled = client.get(f"/desk/api/chats/{ALICE}/shipments", headers={"If-None-Match": etag})
    assert polled.status_code == 200 and row_of(client, ALICE, B)["place"] == "BOLOGNA"
    # The refresh's notification is delivered on its own time: wait for it, or it could be
    # taken for the answer to /lang below.
    fake_tg.wait_until(
        lambda tg: any("BOLOGNA" in (m.get("text") or "") for m in tg.messages(ALICE)),
        what="the news of the refresh",
    )
    # …and so does the chat's language, which every word of the rows is in.
    etag = polled.headers["etag"]
    ask(fake_tg, ALICE, "/lang it")
    relabelled = client.get(f"/desk/api/chats/{ALICE}/shipments", headers={"If-None-Match": etag})
    assert relabelled.status_code == 200 and relabelled.json()["rows"][0]["status_text"]


def test_export_is_the_chats_export_and_takes_a_selection(desk: str, fake_tg: FakeTelegram) -> None:
    follow(fake_tg, ALICE, A, B)
    client = session(desk, desk_link(fake_tg, ALICE))
    fake_tg.send_text(ALICE, "/export", language_code="en")
    document = fake_tg.wait_until(
        lambda f: [m for m in f.messages(ALICE) if m["method"] == "sendDocument"],
        what="the chat's export",
    )[0]
    name, content = document["document"]
    exported = client.post(f"/desk/api/chats/{ALICE}/export", json={"ids": []})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert exported.content == content
    some = rows(client, ALICE)[1]["id"]
    picked = client.post(f"/desk/api/chats/{ALICE}/export", json={"ids": [some]})
    header, *lines = list(csv.reader(io.StringIO(picked.content.decode("utf-8-sig"))))
    assert header[0] == "code" and [line[0] for line in lines] == [B]


def test_adding_codes_and_bulk_actions(
    desk: str, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    for courier in ("brt", "brt-it"):  # "brt" is "brt-it" once the courier list is in
        fake_tm.refuse_courier(courier)
    follow(fake_tg, ALICE, A)
    client = session(desk, desk_link(fake_tg, ALICE))
    typo = wrong_check_digit(C)
    text = f"{A}\n{B} Libri\n{typo}\n123456789012 courier=brt\nhello there"
    added = client.post(f"/desk/api/chats/{ALICE}/add", json={"text": text}).json()
    assert added["added"] == [B] and added["already"] == [A]
    refused = {item["text"]: item["reason"].lower() for item in added["refused"]}
    assert refused == {typo: "looks like a typo", "123456789012": "code not accepted for brt"}
    assert added["headline"] == "1 shipment added · 1 already tracked · 2 not added"
    assert "Libri" in added["summary"] and "<" not in added["summary"]  # the chat's, as text
    assert "Libri" in ask(fake_tg, ALICE, "/list")["text"]  # in the chat too
    ids = {r["code"]: r["id"] for r in rows(client, ALICE)}

    bulk = f"/desk/api/chats/{ALICE}/bulk"
    muted = client.post(bulk, json={"action": "mute", "ids": [ids[A], ids[B], 999999]}).json()
    assert muted == {"done": [ids[A], ids[B]], "refused": [999999]}
    assert all(r["muted"] for r in rows(client, ALICE))
    client.post(bulk, json={"action": "unmute", "ids": [ids[A]]})
    assert not row_of(client, ALICE, A)["muted"]
    gone = client.post(bulk, json={"action": "remove", "ids": [ids[B]]}).json()
    assert gone == {"done": [ids[B]], "refused": []}
    assert [r["code"] for r in rows(client, ALICE)] == [A]
    wrong = client.post(bulk, json={"action": "explode", "ids": [ids[A]]})
    assert wrong.status_code == 400 and "error" in wrong.json()
    too_many = client.post(bulk, json={"action": "mute", "ids": list(range(501))})
    assert too_many.status_code == 400


# --- what is refused ----------------------------------------------------------------------


def test_what_is_refused_and_how(desk: str, fake_tg: FakeTelegram, bot_env: dict[str, str]) -> None:
    follow(fake_tg, ALICE, A)
    follow(fake_tg, BOB, B, language_code="en")
    # an expired link, without waiting ten minutes
    expired = desk_link(fake_tg, ALICE)
    write(bot_env, "UPDATE desk_links SET expires_at = '2020-01-01T00:00:00.000+00:00'")
    assert open_link(desk, expired).status_code == 401
    assert open_link(desk, f"{desk}/desk/login/{new_token()}").status_code == 401  # unknown
    alice = session(desk, desk_link(fake_tg, ALICE))
    bob = session(desk, desk_link(fake_tg, BOB))
    a_id = rows(alice, ALICE)[0]["id"]
    b_id = rows(bob, BOB)[0]["id"]
    # another chat's data: 403, whatever exists there
    for path in (
        f"/desk/api/chats/{BOB}/shipments",
        f"/desk/api/chats/{BOB}/shipments/{b_id}/timeline",
    ):
        answer = alice.get(path)
        assert (answer.status_code, answer.json()) == (403, {"error": "forbidden"})
    assert alice.post(f"/desk/api/chats/{BOB}/shipments/{b_id}/remove", json={}).status_code == 403
    # no or a wrong session: 401
    plain = httpx.Client(base_url=desk, timeout=10)
    for client in (plain, httpx.Client(base_url=desk, cookies={COOKIE: "forged"}, timeout=10)):
        answer = client.get(f"/desk/api/chats/{ALICE}/shipments")
        assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"})
    assert plain.get("/desk/api/session").status_code == 401
    # a shipment this chat does not follow (Bob's): 404
    missing = alice.post(f"/desk/api/chats/{ALICE}/shipments/{b_id}/mute", json={"muted": True})
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    # bodies: JSON only, at most 64 KB, well formed, with the right types
    url = f"/desk/api/chats/{ALICE}/shipments/{a_id}/rename"
    form = alice.post(url, data={"label": "x"})
    assert form.status_code == 415 and form.json()["error"]
    huge = alice.post(
        url, content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["error"]
    broken = alice.post(url, content=b'{"label": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]
    typed = alice.post(url, json={"label": 7})
    assert typed.status_code == 400
    assert (
        alice.post(f"/desk/api/chats/{ALICE}/add", json={"text": "x" * 20_001}).status_code == 413
    )
    # nothing changed by any of it
    assert rows(alice, ALICE)[0]["label"] is None


def test_a_stranger_gets_nothing_even_with_a_link_or_session_made_before(
    bot_factory: BotFactory, port: int, base: str, bot_env: dict[str, str], fake_tg: FakeTelegram
) -> None:
    bot_factory(WEBHOOK_LISTEN=f"127.0.0.1:{port}", ALLOWED_USER_IDS=str(ALICE))
    token, sid = new_token(), new_token()
    now, later = "2026-01-01T00:00:00.000+00:00", "2999-01-01T00:00:00.000+00:00"
    write(
        bot_env,
        "INSERT INTO desk_links (token_hash, chat_id, user_id, user_name, created_at, "
        "expires_at) VALUES (?, ?, ?, 'Eve', ?, ?)",
        (token_hash(token), CAROL, CAROL, now, later),
    )
    write(
        bot_env,
        "INSERT INTO desk_sessions (id_hash, chat_id, user_id, user_name, created_at, "
        "last_seen_at) VALUES (?, ?, ?, 'Eve', ?, ?)",
        (token_hash(sid), CAROL, CAROL, later, later),
    )
    assert open_link(base, f"{base}/desk/login/{token}").status_code == 401
    eve = httpx.Client(base_url=base, cookies={COOKIE: sid}, timeout=10)
    assert eve.get(f"/desk/api/chats/{CAROL}/shipments").status_code == 401
    tma = {"Authorization": f"tma {init_data(fake_tg.token, CAROL)}"}
    assert httpx.get(f"{base}/desk/api/session", headers=tma, timeout=10).status_code == 401
    # Alice, allowed, still gets in
    assert session(base, desk_link(fake_tg, ALICE)).get("/desk/api/session").status_code == 200


# --- the Mini App -------------------------------------------------------------------------


def test_mini_app_init_data_authorizes_the_users_private_chat(
    desk: str, fake_tg: FakeTelegram
) -> None:
    follow(fake_tg, ALICE, A)
    url = f"{desk}/desk/api/chats/{ALICE}/shipments"

    def get(data: str) -> httpx.Response:
        return httpx.get(url, headers={"Authorization": f"tma {data}"}, timeout=10)

    valid = get(init_data(fake_tg.token, ALICE))
    assert valid.status_code == 200 and [r["code"] for r in valid.json()["rows"]] == [A]
    assert get(init_data(fake_tg.token, ALICE, age=25 * 3600)).status_code == 401  # too old
    forged = init_data("123456:another-bots-token-entirely", ALICE)
    assert get(forged).status_code == 401
    tampered = init_data(fake_tg.token, ALICE).replace("1001", "1002")
    assert get(tampered).status_code == 401
    other = httpx.get(
        f"{desk}/desk/api/chats/{BOB}/shipments",
        headers={"Authorization": f"tma {init_data(fake_tg.token, ALICE)}"},
        timeout=10,
    )
    assert other.status_code == 403


# --- groups -------------------------------------------------------------------------------


def test_in_a_group_the_link_goes_privately_and_rights_are_the_chats(
    desk: str, fake_tg: FakeTelegram
) -> None:
    fake_tg.set_chat_admins(SHOP, [BOB])
    follow(fake_tg, SHOP, A, chat_type="group", user_id=ALICE, first_name="Alice")
    follow(fake_tg, SHOP, B, chat_type="group", user_id=BOB, first_name="Bob")
    before = len(fake_tg.messages(ALICE))
    said = ask(fake_tg, SHOP, "/desk", chat_type="group", user_id=ALICE, first_name="Alice")
    assert "ti ho mandato il link della scrivania in privato" in said["text"]
    assert "/desk/login/" not in json.dumps(said)  # never in the group
    private = fake_tg.wait_for_messages(ALICE, before + 1)[before]
    assert "Test group" in private["text"] or "web desk" in private["text"]
    alice = session(desk, login_link_in(private))
    me = alice.get("/desk/api/session").json()
    assert me["chat"]["id"] == SHOP and me["chat"]["type"] == "group"
    assert me["can_manage"] is False
    ids = {r["code"]: r for r in rows(alice, SHOP)}
    assert ids[A]["can_remove"] and not ids[B]["can_remove"]
    assert ids[B]["added_by"] == "Bob"
    # a member renames and mutes anything, removes only their own
    base = f"/desk/api/chats/{SHOP}/shipments"
    assert alice.post(f"{base}/{ids[B]['id']}/rename", json={"label": "Bob's"}).status_code == 200
    refused = alice.post(f"{base}/{ids[B]['id']}/remove", json={})
    assert refused.status_code == 403 and "Bob" in refused.json()["error"]
    bulk = alice.post(
        f"/desk/api/chats/{SHOP}/bulk",
        json={"action": "remove", "ids": [ids[A]["id"], ids[B]["id"]]},
    ).json()
    assert bulk == {"done": [ids[A]["id"]], "refused": [ids[B]["id"]]}
    # the group's admin removes anyone's
    before = len(fake_tg.messages(BOB))
    ask(fake_tg, SHOP, "/desk", chat_type="group", user_id=BOB, first_name="Bob")
    bob = session(desk, login_link_in(fake_tg.wait_for_messages(BOB, before + 1)[before]))
    assert bob.get("/desk/api/session").json()["can_manage"] is True
    assert bob.post(f"{base}/{ids[B]['id']}/remove", json={}).status_code == 200
    assert rows(bob, SHOP) == []


def test_a_session_lasts_until_twelve_hours_without_use(
    desk: str, fake_tg: FakeTelegram, bot_env: dict[str, str]
) -> None:
    follow(fake_tg, ALICE, A)
    alice = session(desk, desk_link(fake_tg, ALICE))
    assert "set-cookie" not in alice.get("/desk/api/session").headers  # used a moment ago
    # Used two minutes ago: marked as used again, and its cookie's 12 hours start again.
    write(bot_env, "UPDATE desk_sessions SET last_seen_at = ?", (ago(minutes=2),))
    renewed = alice.get(f"/desk/api/chats/{ALICE}/shipments")
    assert renewed.status_code == 200
    cookie = renewed.headers["set-cookie"]
    assert "Max-Age=43200" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Not used for 12 hours and a minute: over, whatever the browser still holds.
    write(bot_env, "UPDATE desk_sessions SET last_seen_at = ?", (ago(hours=12, minutes=1),))
    assert alice.get("/desk/api/session").status_code == 401


def ago(**elapsed: float) -> str:
    return iso_utc(utcnow() - timedelta(**elapsed))


def test_a_session_stops_working_for_someone_no_longer_in_the_group(
    desk: str, fake_tg: FakeTelegram
) -> None:
    follow(fake_tg, SHOP, A, chat_type="group", user_id=CAROL, first_name="Carol")
    before = len(fake_tg.messages(CAROL))
    ask(fake_tg, SHOP, "/desk", chat_type="group", user_id=CAROL, first_name="Carol")
    carol = session(desk, login_link_in(fake_tg.wait_for_messages(CAROL, before + 1)[before]))
    fake_tg.leave_chat(SHOP, CAROL)  # removed from the staff group after getting the link
    assert carol.get("/desk/api/session").status_code == 403
    assert carol.get(f"/desk/api/chats/{SHOP}/shipments").status_code == 403


def test_a_group_member_who_never_started_the_bot_is_told_to_start_it(
    desk: str, fake_tg: FakeTelegram
) -> None:
    fake_tg.block_chat(CAROL)  # Telegram answers 403 for that private chat
    said = ask(fake_tg, SHOP, "/desk", chat_type="group", user_id=CAROL, first_name="Carol")
    # the group speaks Italian (DEFAULT_LANGUAGE): "Avvia" is Telegram's Start button there
    assert "https://t.me/postino_test_bot" in said["text"] and "Avvia" in said["text"]
    assert "/desk/login/" not in said["text"]


# --- what Telegram refuses, and the desk turned off -------------------------------------


def test_a_button_address_telegram_refuses_is_sent_as_text(
    bot_factory: BotFactory, port: int, base: str, fake_tg: FakeTelegram
) -> None:
    bot = bot_factory(WEBHOOK_LISTEN=f"127.0.0.1:{port}")
    desk = base
    fake_tg.fail_next("sendMessage", f"button_url:{desk}/desk/login/x", chat_id=ALICE)
    answer = ask(fake_tg, ALICE, "/desk")
    assert buttons(answer) == []
    assert answer["params"].get("link_preview_options", {}).get("is_disabled") is True
    link = login_link_in(answer)
    assert session(desk, link).get("/desk/api/session").status_code == 200
    token = link.rsplit("/", 1)[1]
    assert "login link was used" in bot.log_text() and token not in bot.log_text()


def test_with_https_a_private_chat_gets_the_mini_app_and_a_browser_link(
    bot_factory: BotFactory, port: int, base: str, fake_tg: FakeTelegram
) -> None:
    bot_factory(WEBHOOK_LISTEN=f"127.0.0.1:{port}", PUBLIC_BASE_URL="https://desk.example.com/")
    answer = ask(fake_tg, ALICE, "/desk")
    app, browser = buttons(answer)
    assert app["web_app"] == {"url": "https://desk.example.com/desk/"}
    assert browser["url"].startswith("https://desk.example.com/desk/login/")
    opened = open_link(base, browser["url"])
    assert opened.status_code == 303 and "secure" in opened.headers["set-cookie"].lower()
    group = ask(fake_tg, SHOP, "/desk", chat_type="group", user_id=ALICE)
    assert "in privato" in group["text"]
    private = fake_tg.messages(ALICE)[-1]
    assert all("web_app" not in b for b in buttons(private))  # bound to the group: a link


def test_desk_is_off_without_a_web_server_and_asks_for_a_public_address(
    bot_factory: BotFactory, port: int, fake_tg: FakeTelegram
) -> None:
    bot = bot_factory()
    assert "WEBHOOK_LISTEN" in ask(fake_tg, ALICE, "/desk")["text"]
    bot.stop()
    bot_factory(WEBHOOK_LISTEN=f"0.0.0.0:{port}")
    assert "PUBLIC_BASE_URL" in ask(fake_tg, ALICE, "/desk")["text"]
    settle_updates(fake_tg)


# --- the page and its files ---------------------------------------------------------------


def test_the_page_and_its_files(desk: str) -> None:
    moved = httpx.get(f"{desk}/desk", follow_redirects=False, timeout=10)
    assert moved.status_code == 308 and moved.headers["location"] == "desk/"
    page = httpx.get(f"{desk}/desk/", timeout=10)
    if page.status_code == 200:  # the page (bot/web/static) may not be there yet
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors https://web.telegram.org" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "server" not in page.headers
    for path in (
        "/desk/static/..%2Fapi.py",
        "/desk/static/.hidden",
        "/desk/static/nope.js",
        "/desk/static/../auth.py",
        "/desk/nothing",
    ):
        assert httpx.get(f"{desk}{path}", timeout=10).status_code == 404, path
