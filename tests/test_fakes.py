"""The fake servers themselves, driven by httpx and by python-telegram-bot (no bot process)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
import telegram
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from shared_data import trackingmore_sample
from telegram import error as tg_error

CHAT = 4242
NUMBER = "RR123456785IT"
ITEM = {"tracking_number": NUMBER, "courier_code": "poste-italiane"}


# -- helpers ---------------------------------------------------------------------------------


def tg_post(fake: FakeTelegram, method: str, **params: Any) -> httpx.Response:
    """A call as PTB makes it: form-encoded, non-strings JSON-encoded."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return httpx.post(f"{fake.base_url}{fake.token}/{method}", data=data, timeout=10)


def with_bot(fake: FakeTelegram, scenario: Callable[[telegram.Bot], Awaitable[Any]]) -> Any:
    """Run ``scenario`` with a real PTB Bot pointed at the fake."""

    async def main() -> Any:
        bot = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.file_base_url)
        async with bot:
            return await scenario(bot)

    return asyncio.run(main())


def keyboard(*data: str) -> telegram.InlineKeyboardMarkup:
    return telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton(d, callback_data=d) for d in data]]
    )


def tm_client(fake: FakeTrackingMore, timeout: float = 5) -> httpx.Client:
    headers = {"Tracking-Api-Key": fake.api_key, "Content-Type": "application/json"}
    return httpx.Client(base_url=fake.base_url, headers=headers, timeout=timeout)


def sample(name: str) -> Any:
    return trackingmore_sample(name)


# -- Telegram: long polling ------------------------------------------------------------------


def test_get_updates_long_poll_wakes_up_on_injected_update(fake_tg: FakeTelegram) -> None:
    threading.Timer(0.3, fake_tg.send_text, args=(CHAT, "/start")).start()
    began = time.monotonic()
    result = tg_post(fake_tg, "getUpdates", timeout=5).json()["result"]
    assert time.monotonic() - began < 4  # woken by the update, not the 5 s timeout
    message = result[0]["message"]
    assert message["text"] == "/start"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"]["id"] == CHAT == message["chat"]["id"]


def test_get_updates_offset_confirms_and_limit_caps(fake_tg: FakeTelegram) -> None:
    first = fake_tg.send_text(CHAT, "one")
    fake_tg.send_text(CHAT, "two")
    assert len(tg_post(fake_tg, "getUpdates").json()["result"]) == 2
    assert len(tg_post(fake_tg, "getUpdates", limit=1).json()["result"]) == 1
    rest = tg_post(fake_tg, "getUpdates", offset=first["update_id"] + 1).json()["result"]
    assert [u["message"]["text"] for u in rest] == ["two"]
    began = time.monotonic()
    empty = tg_post(fake_tg, "getUpdates", offset=rest[0]["update_id"] + 1, timeout=1)
    assert empty.json() == {"ok": True, "result": []}
    assert 0.9 < time.monotonic() - began < 4  # held for the 1 s asked, not more
    assert fake_tg.pending_updates() == []


def test_a_newer_get_updates_terminates_the_older_with_409(fake_tg: FakeTelegram) -> None:
    with ThreadPoolExecutor(1) as pool:
        older = pool.submit(tg_post, fake_tg, "getUpdates", timeout=5)
        fake_tg.wait_until(lambda f: f.calls("getUpdates"), what="the older getUpdates")
        threading.Timer(0.5, fake_tg.send_text, args=(CHAT, "for the newer one")).start()
        began = time.monotonic()
        newer = tg_post(fake_tg, "getUpdates", timeout=5)
        terminated = older.result(timeout=5)
    assert time.monotonic() - began < 4  # the newer one did not wait for the older's timeout
    assert terminated.status_code == 409
    assert terminated.json() == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    }
    assert [u["message"]["text"] for u in newer.json()["result"]] == ["for the newer one"]
    assert fake_tg.conflict_count == 1
    assert [f["error_code"] for f in fake_tg.failed_calls("getUpdates")] == [409]


def test_a_get_updates_whose_client_hung_up_is_no_conflict(fake_tg: FakeTelegram) -> None:
    """A killed bot's long poll may still be waiting when its successor polls."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake_tg.base_url}{fake_tg.token}/getUpdates", data={"timeout": "5"}, timeout=0.3
        )
    assert tg_post(fake_tg, "getUpdates", timeout=0).json() == {"ok": True, "result": []}
    assert tg_post(fake_tg, "getUpdates", timeout=0).json() == {"ok": True, "result": []}
    assert fake_tg.conflict_count == 0 and fake_tg.failed_calls() == []


def test_allowed_updates_filters_and_drop_pending_updates(fake_tg: FakeTelegram) -> None:
    fake_tg.send_text(CHAT, "text")
    fake_tg.press_button(CHAT, 99, "data")
    got = tg_post(fake_tg, "getUpdates", allowed_updates=["callback_query"]).json()["result"]
    assert [next(k for k in u if k != "update_id") for u in got] == ["callback_query"]
    assert tg_post(fake_tg, "deleteWebhook", drop_pending_updates=True).json()["result"] is True
    assert fake_tg.pending_updates() == []


def test_channel_post_and_reply_to_a_bot_message(fake_tg: FakeTelegram) -> None:
    post = fake_tg.send_text(-1001, "hello", chat_type="channel", title="News")
    assert post["channel_post"]["sender_chat"]["title"] == "News"
    assert "from" not in post["channel_post"]
    sent = tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="which code?").json()["result"]
    reply = fake_tg.send_text(CHAT, "RR1", reply_to_message_id=sent["message_id"])
    quoted = reply["message"]["reply_to_message"]
    assert quoted["text"] == "which code?"
    assert quoted["from"]["id"] == fake_tg.bot_id


# -- Telegram: PTB round trips ---------------------------------------------------------------


def test_ptb_can_talk_to_the_fake(fake_tg: FakeTelegram) -> None:
    upload = fake_tg.send_document(CHAT, "codes.csv", b"code\nRR1\n", caption="import")
    user_file_id = upload["message"]["document"]["file_id"]

    async def scenario(bot: telegram.Bot) -> tuple[Any, ...]:
        me = await bot.get_me()
        sent = await bot.send_message(
            CHAT, "<b>Ciao</b>", parse_mode="HTML", reply_markup=keyboard("a")
        )
        document = await bot.send_document(CHAT, b"a;b\n", filename="export.csv", caption="x")
        own = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
        user = await (await bot.get_file(user_file_id)).download_as_bytearray()
        return me, sent, bytes(own), bytes(user)

    me, sent, own, user = with_bot(fake_tg, scenario)
    assert me.username == fake_tg.bot_username and me.is_bot
    assert sent.text == "<b>Ciao</b>" and sent.from_user.id == fake_tg.bot_id
    assert sent.reply_markup == keyboard("a")
    assert (own, user) == (b"a;b\n", b"code\nRR1\n")
    message, document = fake_tg.messages(CHAT)
    assert message["method"] == "sendMessage" and message["parse_mode"] == "HTML"
    assert message["reply_markup"] == {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}
    assert message["message_id"] == sent.message_id and message["disable_notification"] is False
    assert document["document"] == ("export.csv", b"a;b\n") and document["text"] == "x"
    assert fake_tg.texts(CHAT) == ["<b>Ciao</b>"]


def test_ptb_edit_button_press_and_callback_answer(fake_tg: FakeTelegram) -> None:
    async def send(bot: telegram.Bot) -> telegram.Message:
        return await bot.send_message(CHAT, "pick", reply_markup=keyboard("x", "y"))

    sent = with_bot(fake_tg, send)
    callback_id = fake_tg.press_button(CHAT, sent.message_id, "y")
    query = fake_tg.pending_updates()[-1]["callback_query"]
    assert query["message"]["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "y"

    async def react(bot: telegram.Bot) -> None:
        await bot.answer_callback_query(callback_id, text="ok")
        await bot.edit_message_text("picked y", chat_id=CHAT, message_id=sent.message_id)
        with pytest.raises(tg_error.BadRequest, match="not modified"):
            await bot.edit_message_text("picked y", chat_id=CHAT, message_id=sent.message_id)

    with_bot(fake_tg, react)
    assert fake_tg.callback_answers(callback_id)[0]["text"] == "ok"
    assert fake_tg.stored_message(CHAT, sent.message_id)["text"] == "picked y"
    assert "reply_markup" not in fake_tg.stored_message(CHAT, sent.message_id)
    assert [m["method"] for m in fake_tg.messages(CHAT)] == ["sendMessage", "editMessageText"]


def test_ptb_commands_are_recorded_per_scope_and_language(fake_tg: FakeTelegram) -> None:
    async def scenario(bot: telegram.Bot) -> tuple[telegram.BotCommand, ...]:
        await bot.set_my_commands([("start", "Avvia")], language_code="it")
        await bot.set_my_commands(
            [("admin", "Admin")], scope=telegram.BotCommandScopeAllChatAdministrators()
        )
        return await bot.get_my_commands(language_code="it")

    assert with_bot(fake_tg, scenario) == (telegram.BotCommand("start", "Avvia"),)
    assert [(c["scope"]["type"], c["language_code"]) for c in fake_tg.commands()] == [
        ("default", "it"),
        ("all_chat_administrators", ""),
    ]


def test_chat_members_and_administrators(fake_tg: FakeTelegram) -> None:
    fake_tg.set_chat_admins(-500, [7], creator=6)

    async def scenario(bot: telegram.Bot) -> tuple[Any, ...]:
        admins = await bot.get_chat_administrators(-500)
        member = await bot.get_chat_member(-500, 8)
        return admins, member, await bot.get_chat(-500)

    async def status(bot: telegram.Bot) -> list[str]:
        return [(await bot.get_chat_member(-500, user)).status for user in (8, 9, 10)]

    admins, member, chat = with_bot(fake_tg, scenario)
    assert [(a.user.id, a.status) for a in admins] == [(6, "creator"), (7, "administrator")]
    assert member.status == "left" and chat.type == "group"  # never in the group
    fake_tg.send_text(-500, "hello", user_id=8, chat_type="group")  # wrote there: in it
    fake_tg.join_chat(-500, 9)
    fake_tg.press_button(-500, 1, "x", user_id=10, chat_type="group")  # saw a message there
    assert with_bot(fake_tg, status) == ["member", "member", "member"]
    fake_tg.leave_chat(-500, 8)
    assert with_bot(fake_tg, status) == ["left", "member", "member"]


# -- Telegram: errors ------------------------------------------------------------------------


def _retry_seconds(error: tg_error.RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize(
    ("spec", "expected", "check"),
    [
        ("retry_after:7", tg_error.RetryAfter, lambda e: _retry_seconds(e) == 7),
        ("blocked", tg_error.Forbidden, lambda e: "blocked by the user" in e.message),
        ("kicked", tg_error.Forbidden, lambda e: "kicked" in e.message),
        ("migrate:-100777", tg_error.ChatMigrated, lambda e: e.new_chat_id == -100777),
        ("parse_entities", tg_error.BadRequest, lambda e: "parse entities" in e.message),
        ("server_error", tg_error.NetworkError, lambda e: "Internal Server Error" in e.message),
    ],
)
def test_injected_errors_become_ptb_exceptions(
    fake_tg: FakeTelegram, spec: str, expected: type[Exception], check: Callable[[Any], bool]
) -> None:
    fake_tg.fail_next("sendMessage", spec, chat_id=CHAT)

    async def scenario(bot: telegram.Bot) -> None:
        await bot.send_message(CHAT + 1, "other chat is unaffected")
        with pytest.raises(expected) as caught:
            await bot.send_message(CHAT, "boom")
        assert check(caught.value)
        await bot.send_message(CHAT, "only the next call failed")

    with_bot(fake_tg, scenario)
    assert fake_tg.texts(CHAT) == ["only the next call failed"]
    assert [f["chat_id"] for f in fake_tg.failed_calls("sendMessage")] == [CHAT]


def test_injected_timeout_delays_the_answer(fake_tg: FakeTelegram) -> None:
    fake_tg.fail_next("getMe", "timeout:0.5")
    began = time.monotonic()
    assert tg_post(fake_tg, "getMe").json()["ok"] is True
    assert time.monotonic() - began >= 0.5


def test_blocked_and_migrated_chats_fail_until_cleared(fake_tg: FakeTelegram) -> None:
    fake_tg.block_chat(CHAT)
    fake_tg.migrate_chat(-12, -10012)
    blocked = tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="x").json()
    migrated = tg_post(fake_tg, "sendMessage", chat_id=-12, text="x").json()
    assert blocked["error_code"] == 403 and "blocked by the user" in blocked["description"]
    assert migrated["parameters"] == {"migrate_to_chat_id": -10012}
    fake_tg.unblock_chat(CHAT)
    assert tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="x").json()["ok"] is True
    assert len(fake_tg.failed_calls()) == 2 and len(fake_tg.messages()) == 1


def test_wrong_token_unknown_method_and_bad_html(fake_tg: FakeTelegram) -> None:
    wrong = httpx.post(f"{fake_tg.base_url}1:wrong/getMe")
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    unknown = tg_post(fake_tg, "sendCarrierPigeon")
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")
    assert tg_post(fake_tg, "GETME").json()["result"]["id"] == fake_tg.bot_id
    bad = tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="a<br>b", parse_mode="HTML")
    assert bad.status_code == 400 and 'Unsupported start tag "br"' in bad.json()["description"]


def test_rate_limit_enforcement(fake_tg: FakeTelegram) -> None:
    fake_tg.enforce_limits(per_chat_per_s=1)
    assert tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="1").status_code == 200
    limited = tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="2")
    assert limited.status_code == 429 and limited.json()["parameters"]["retry_after"] >= 1
    assert tg_post(fake_tg, "sendMessage", chat_id=CHAT + 1, text="3").status_code == 200
    assert fake_tg.rate_limited_count == 1


def test_wait_for_messages_reports_what_was_seen(fake_tg: FakeTelegram) -> None:
    tg_post(fake_tg, "sendMessage", chat_id=CHAT, text="only one")
    assert fake_tg.wait_for_messages(CHAT, 1, timeout=1)[0]["text"] == "only one"
    with pytest.raises(AssertionError, match="only one"):
        fake_tg.wait_for_messages(CHAT, 2, timeout=0.2)


# -- TrackingMore ----------------------------------------------------------------------------


def test_create_returns_a_full_tracking_object(fake_tm: FakeTrackingMore) -> None:
    with tm_client(fake_tm) as client:
        body = client.post("/trackings/create", json=ITEM).json()
    assert body["meta"] == {"code": 200, "message": "Request response is successful"}
    tracking = body["data"]
    assert set(sample("v4_tracking_object_usps_full_fields_mock.json")) <= set(tracking)
    assert re.fullmatch(r"[0-9a-f]{32}", tracking["id"])
    assert tracking["created_at"].endswith("+00:00") and tracking["archived"] == "tracking"
    assert (tracking["delivery_status"], tracking["origin_info"]["trackinfo"]) == ("pending", [])
    assert fake_tm.registered() == [("poste-italiane", NUMBER)]


def test_duplicates_and_too_many_numbers_are_refused(fake_tm: FakeTrackingMore) -> None:
    other = {"tracking_number": "4UW1CEG000511", "courier_code": "italy-sda"}
    with tm_client(fake_tm) as client:
        client.post("/trackings/create", json=ITEM)
        again = client.post("/trackings/create", json=ITEM)
        batch = client.post("/trackings/batch", json=[ITEM, other]).json()["data"]
        many = client.get("/trackings/get", params={"tracking_numbers": ",".join("1" * 41)})
        found = client.get("/trackings/get", params={"tracking_numbers": f"{NUMBER},nope"})
    assert again.json() == {
        "meta": {"code": 4101, "message": "Tracking No. already exists."},
        "data": None,
    }
    assert [s["tracking_number"] for s in batch["success"]] == ["4UW1CEG000511"]
    assert batch["error"][0]["errorCode"] == 4101
    assert many.json()["meta"]["code"] == 4103
    assert [t["tracking_number"] for t in found.json()["data"]] == [NUMBER]
    assert fake_tm.numbers_requested("batch") == [NUMBER, "4UW1CEG000511"]


def test_scripted_events_and_moves_appear_newest_first(fake_tm: FakeTrackingMore) -> None:
    fake_tm.script(
        NUMBER,
        events=[
            {
                "detail": "Accettato",
                "location": "Roma",
                "time": "2024-03-01 09:00:00",
                "status": "inforeceived",
            }
        ],
    )
    with tm_client(fake_tm) as client:
        client.post("/trackings/create", json=ITEM)
        fake_tm.move(NUMBER, "delivered", "Consegnato", "Milano", time="2024-03-04 10:00:00")
        tracking = client.get("/trackings/get").json()["data"][0]
    newest, oldest = tracking["origin_info"]["trackinfo"]
    assert newest == {
        "checkpoint_date": "2024-03-04 10:00:00",
        "checkpoint_delivery_status": "delivered",
        "checkpoint_delivery_substatus": "delivered001",
        "tracking_detail": "Consegnato",
        "location": "Milano",
    }
    assert oldest["tracking_detail"] == "Accettato"
    assert tracking["delivery_status"] == "delivered" and tracking["transit_time"] == 3
    assert tracking["latest_event"] == "Consegnato, Milano, 2024-03-04 10:00:00"
    assert tracking["origin_info"]["milestone_date"]["delivery_date"] == "2024-03-04T10:00:00"


def test_delete_retrack_update_and_detect(fake_tm: FakeTrackingMore) -> None:
    with tm_client(fake_tm) as client:
        created = client.post("/trackings/create", json=ITEM)
        tracking_id = created.json()["data"]["id"]
        refused = client.post(f"/trackings/retrack/{tracking_id}").json()["meta"]["code"]
        fake_tm.set_status(NUMBER, "expired")
        retracked = client.post(f"/trackings/retrack/{tracking_id}").json()["data"]
        updated = client.put(f"/trackings/update/{tracking_id}", json={"note": "n"}).json()
        deleted = client.delete(f"/trackings/delete/{tracking_id}").json()["data"]
        missing = client.delete(f"/trackings/delete/{tracking_id}").json()["meta"]["code"]
        detected = client.post("/couriers/detect", json={"tracking_number": NUMBER}).json()
    assert (refused, retracked["delivery_status"], missing) == (4113, "pending", 4102)
    assert updated["data"]["note"] == "n"
    assert deleted == {
        "id": tracking_id,
        "tracking_number": NUMBER,
        "courier_code": "poste-italiane",
    }
    assert detected["data"][0] == {
        "courier_name": "Poste Italiane",
        "courier_code": "poste-italiane",
    }
    assert fake_tm.registered() == []
    assert fake_tm.numbers_requested("delete") == [NUMBER, NUMBER]


def test_authentication_and_persistent_modes(fake_tm: FakeTrackingMore) -> None:
    anonymous = httpx.get(f"{fake_tm.base_url}/trackings/get")
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "meta": {"code": 401, "message": "Authentication failed"},
        "data": None,
    }
    with tm_client(fake_tm) as client:
        fake_tm.set_down(True)
        assert client.get("/trackings/get").status_code == 503
        fake_tm.set_down(False)
        fake_tm.set_auth_broken(True)
        assert client.get("/trackings/get").status_code == 401
        fake_tm.set_auth_broken(False)
        assert client.get("/trackings/get").status_code == 200
    assert [r["status"] for r in fake_tm.requests] == [401, 503, 401, 200]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("kind", "status", "check"),
    [
        ("http429", 429, lambda r: r.headers["Retry-After"] == "1"),
        ("http500", 500, lambda r: r.json()["meta"]["code"] == 511),
        ("http502", 502, lambda r: "Bad Gateway" in r.text and _json_or_none(r) is None),
        ("http503", 503, lambda r: r.headers["Content-Type"].startswith("text/html")),
        ("garbage", 200, lambda r: r.text == "<html>not json</html>"),
        ("truncated", 200, lambda r: _json_or_none(r) is None and r.text.startswith('{"meta')),
        ("missing_fields", 200, lambda r: "delivery_status" not in r.json()["data"]),
        ("meta401", 401, lambda r: r.json()["meta"]["code"] == 401),
        ("meta4190", 400, lambda r: r.json()["meta"]["code"] == 4190),
        ("meta:4190:200", 200, lambda r: r.json()["meta"]["code"] == 4190),
    ],
)
def test_faults_produce_what_they_say(
    fake_tm: FakeTrackingMore, kind: str, status: int, check: Callable[[httpx.Response], bool]
) -> None:
    fake_tm.fail_next(kind, endpoint="create")
    with tm_client(fake_tm) as client:
        assert client.get("/trackings/get").status_code == 200
        response = client.post("/trackings/create", json=ITEM)
    assert response.status_code == status
    assert check(response)
    assert fake_tm.requests[-1]["status"] == status


def test_timeout_fault_outlasts_the_client(fake_tm: FakeTrackingMore) -> None:
    fake_tm.fail_next("timeout:1", endpoint="get")
    with tm_client(fake_tm, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/trackings/get")
    fake_tm.wait_for_requests("get", 1)


def test_rate_limit_enforcement_on_creations(fake_tm: FakeTrackingMore) -> None:
    fake_tm.enforce_limits(per_s=100, create_per_s=2)
    with tm_client(fake_tm) as client:
        codes = [
            client.post(
                "/trackings/create", json={"tracking_number": f"N{i}", "courier_code": "brt"}
            ).status_code
            for i in range(3)
        ]
        assert client.get("/trackings/get").status_code == 200
    assert codes == [200, 200, 429] and fake_tm.rate_limited_count == 1


def test_webhook_signature_reproduces_the_test_vector(fake_tm: FakeTrackingMore) -> None:
    vector = {
        "webhook_secret": "2e55b9a3-4dd1-4416-9897-c4bd1e3d738f",
        "timestamp": "1662371528",
        "signature": "a37084ab68ae16b77db1f8463f31be9fcc965e2515e03efecf8139bb1e511b06",
    }
    assert fake_tm.sign(vector["timestamp"], vector["webhook_secret"]) == vector["signature"]
    fake_tm.script(NUMBER, status="transit")
    payload = fake_tm.webhook_payload(NUMBER)
    assert payload["meta"] == {"code": 200, "message": "Success"}
    assert payload["data"]["delivery_status"] == "transit"
