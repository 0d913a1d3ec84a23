"""The tracking service refusing the bot's account (a wrong or revoked API key, a spent quota):
noticed at start, logged as an ERROR, told to the admins once, told truthfully to whoever adds
a code meanwhile — and the codes are registered by themselves once it works again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import ENDPOINTS, FakeTrackingMore
from parcels import s10

from bot.carrier import TrackingMoreClient
from bot.storage import Storage
from bot.tracking.recorder import ChangeRecorder
from bot.tracking.registrar import PendingReason, Registrar

CODE, OTHER = "RR123456785IT", s10(64_100_001)
CHAT, CHAT_IT, ADMIN = 1001, 1002, 777
KEY_ERROR = "ERROR bot.tracking.poller: TrackingMore refuses the API key"
QUOTA_ERROR = "ERROR bot.tracking.poller: TrackingMore quota exhausted"


def script_moving(fake_tm: FakeTrackingMore, code: str) -> None:
    fake_tm.script(code, events=[{"detail": "In transito", "location": "BOLOGNA"}])


def admin_texts(fake_tg: FakeTelegram) -> list[str]:
    return [text for text in fake_tg.texts(ADMIN) if "TrackingMore" in text]


@pytest.mark.e2e
@pytest.mark.in_process
def test_a_refused_key_is_noticed_at_start_told_once_and_codes_wait_for_it(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.set_auth_broken(True)
    script_moving(fake_tm, CODE)
    script_moving(fake_tm, OTHER)
    bot = bot_factory(ADMIN_USER_IDS=str(ADMIN), DEFAULT_LANGUAGE="en")

    # At start, with nothing to register or poll: one ERROR line, one alert.
    bot.wait_for_log(KEY_ERROR)
    alert = fake_tg.wait_until(admin_texts, what="the admin alert")[0]
    assert "TrackingMore refused the API key" in alert

    fake_tg.send_text(CHAT, f"{CODE} Scarpe", language_code="en")
    answer = fake_tg.wait_for_messages(CHAT, 1)[0]["text"]
    assert "refusing the bot's account" in answer and "owner has been told" in answer
    assert "isn't answering" not in answer and "TrackingMore" not in answer
    fake_tg.send_text(CHAT_IT, OTHER, language_code="it")
    answer_it = fake_tg.wait_for_messages(CHAT_IT, 1)[0]["text"]
    assert "rifiuta l'account del bot" in answer_it and "TrackingMore" not in answer_it

    bot.settle_after_poll_cycles(3)  # every cycle still refused: no second alert, no answer
    assert len(admin_texts(fake_tg)) == 1
    assert bot.log_count(KEY_ERROR) == 1
    assert len(fake_tg.texts(CHAT)) == len(fake_tg.texts(CHAT_IT)) == 1

    # The owner fixes the key: both codes register by themselves, each chat hears its state.
    fake_tm.set_auth_broken(False)
    told = fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    assert "<b>Scarpe</b>" in told and "In transit" in told
    assert "In transito" in fake_tg.wait_for_messages(CHAT_IT, 2)[1]["text"]
    assert sorted(fake_tm.registered()) == sorted(
        [("poste-italiane", CODE), ("poste-italiane", OTHER)]
    )
    assert "works again" in fake_tg.wait_until(lambda f: admin_texts(f)[1:], what="recovery")[0]


@pytest.mark.e2e
@pytest.mark.in_process
def test_a_spent_quota_is_told_as_such_and_codes_register_when_it_renews(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.set_quota_exhausted(True)  # creations refused; the key itself is fine
    script_moving(fake_tm, CODE)
    bot = bot_factory(ADMIN_USER_IDS=str(ADMIN), DEFAULT_LANGUAGE="en")
    bot.wait_poll_cycles(1)
    assert admin_texts(fake_tg) == []

    fake_tg.send_text(CHAT, CODE, language_code="en")
    answer = fake_tg.wait_for_messages(CHAT, 1)[0]["text"]
    assert "used up its allowance" in answer and "TrackingMore" not in answer
    # The poller's retry meets the quota too: an ERROR line and one alert.
    alert = fake_tg.wait_until(admin_texts, what="the quota alert")[0]
    assert "quota exhausted" in alert
    bot.settle_after_poll_cycles(2)
    assert len(admin_texts(fake_tg)) == 1 and bot.log_count(QUOTA_ERROR) == 1

    fake_tm.set_quota_exhausted(False)
    assert "In transit" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    assert fake_tm.registered() == [("poste-italiane", CODE)]


@pytest.mark.e2e
@pytest.mark.in_process
def test_a_quota_refusing_every_call_is_noticed_at_start(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    fake_tm.set_quota_exhausted(True, endpoints=ENDPOINTS)
    bot = bot_factory(ADMIN_USER_IDS=str(ADMIN), DEFAULT_LANGUAGE="en")
    bot.wait_for_log(QUOTA_ERROR)
    assert "quota exhausted" in fake_tg.wait_until(admin_texts, what="the alert")[0]
    assert fake_tm.parcel_requests == []  # the check asked for no parcel


@pytest.mark.e2e
@pytest.mark.in_process
def test_many_codes_at_once_get_the_reason_in_the_summary(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot = bot_factory()
    bot.wait_poll_cycles(1)
    fake_tm.set_auth_broken(True)
    codes = [s10(64_100_100 + n) for n in range(12)]
    fake_tg.send_text(CHAT, "\n".join(codes), language_code="en")
    summary = fake_tg.wait_for_messages(CHAT, 1)[0]["text"]
    assert "refusing the bot's account" in summary and "12 shipments are saved" in summary
    data = "\n".join(s10(64_100_200 + n) for n in range(3)).encode()
    fake_tg.send_document(CHAT_IT, "codici.csv", data, language_code="it")
    imported = fake_tg.wait_for_messages(CHAT_IT, 1)[0]["text"]
    assert "Ho salvato 3 spedizioni" in imported and "rifiuta l'account del bot" in imported


# --- the registrar says why --------------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "postino.sqlite3")
    await opened.chats.touch_chat(CHAT, "private", None, "en")
    yield opened
    await opened.close()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("meta401", PendingReason.ACCOUNT_REFUSED),
        ("meta:4001:401", PendingReason.ACCOUNT_REFUSED),
        ("meta4190", PendingReason.QUOTA),
        ("http503", PendingReason.UNREACHABLE),
    ],
)
async def test_the_registrar_says_why_a_number_waits(
    fault: str, reason: PendingReason, fake_tm: FakeTrackingMore, storage: Storage
) -> None:
    carrier = TrackingMoreClient(fake_tm.base_url, fake_tm.api_key)
    try:
        keys = [("poste-italiane", CODE), ("poste-italiane", OTHER)]
        for courier, code in keys:
            await storage.follows.follow(CHAT, courier, code, None, CHAT, "Ada")
        registrar = Registrar(storage, carrier, ChangeRecorder(storage, lambda: None))
        fake_tm.fail_next(fault)
        result = await registrar.register(keys, notify=False, wait_at_most=10)
        assert result.unreachable == set(keys)
        assert result.reasons == dict.fromkeys(keys, reason)
    finally:
        await carrier.aclose()
