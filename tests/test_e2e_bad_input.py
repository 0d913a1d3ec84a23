"""Whatever users send, the bot answers clearly (or ignores on purpose) and keeps working."""

from __future__ import annotations

import random

import pytest
from conftest import BotFactory
from db_reads import rows
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from harness import settle_updates
from parcels import s10

# Handlers' answers: the bot runs in the test process (see tests/inprocess.py).
pytestmark = [pytest.mark.e2e, pytest.mark.in_process]

CHAT, GROUP, CHANNEL = 1001, -2001, -1003001
CODE = "RR123456785IT"


def ask(fake_tg: FakeTelegram, text: str, *, chat_id: int = CHAT, **kwargs: object) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, text, language_code=kwargs.pop("language_code", "en"), **kwargs)  # type: ignore[arg-type]
    return fake_tg.wait_for_messages(chat_id, before + 1)[before]["text"]


def assert_still_alive(fake_tg: FakeTelegram) -> None:
    assert "Hi, I'm postino" in ask(fake_tg, "/help")


def test_random_unicode_and_huge_messages_get_a_hint(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    rng = random.Random(1234)
    alphabet = "".join(chr(c) for c in range(0x20, 0x2FF)) + "🙂📦\u200b\u202e\ufeff漢字"
    for length in (1, 50, 4096):
        junk = "".join(rng.choice(alphabet) for _ in range(length)).strip() or "?"
        if junk.startswith("/"):
            junk = "x" + junk
        answer = ask(fake_tg, junk)
        assert "couldn't find a tracking code" in answer or "isn't a tracking code" in answer
        assert len(answer) <= 4096
    assert fake_tm.count("create") == fake_tm.count("batch") == 0
    assert_still_alive(fake_tg)


def test_five_hundred_codes_are_bounded_and_the_limit_told(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory(MAX_CODES_PER_MESSAGE="20")
    codes = [s10(10_000_000 + i) for i in range(500)]
    answer = ask(fake_tg, "\n".join(codes))
    assert "I read at most 20 codes per message: I skipped the other 480" in answer
    assert "✅ Added: 20\n" in answer  # more than 10 lines: a summary, not one line each
    assert fake_tm.count("batch") == 1  # 20 new numbers: one batch call
    assert len(fake_tm.numbers_requested("batch")) == 20


def test_shipments_per_chat_limit_is_told(bot_factory: BotFactory, fake_tg: FakeTelegram) -> None:
    bot_factory(MAX_SHIPMENTS_PER_CHAT="3")
    answer = ask(fake_tg, "\n".join(s10(20_000_000 + i) for i in range(5)))
    assert answer.count("Now tracking") == 3
    assert answer.count("I'm already tracking 3 shipments in this chat, the most I can") == 2


def test_codes_with_emoji_and_zero_width_spaces(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot_factory()
    answer = ask(fake_tg, "RR\u200b1234\u200d5678\ufeff5IT 📦 gift")
    assert answer.startswith("✅ Now tracking <b>📦 gift</b> · <a href=")
    assert f'start=track_{CODE}">{CODE}</a>' in answer
    answer = ask(fake_tg, "RR1234📦56785IT")
    assert "couldn't find a tracking code" in answer or "isn't a tracking code" in answer


def test_long_and_html_labels_are_cut_and_escaped(
    bot_factory: BotFactory, fake_tg: FakeTelegram, bot_env: dict[str, str]
) -> None:
    bot = bot_factory()
    answer = ask(fake_tg, f"{CODE} " + "<i>x</i>&" * 100)
    assert "<i>" not in answer and "&lt;i&gt;x&lt;/i&gt;&amp;" in answer
    assert "The name was too long, so I shortened it" in answer
    listing = ask(fake_tg, "/list")
    assert "<i>" not in listing
    bot.stop()
    [(label,)] = rows(bot_env, "SELECT label FROM subscriptions")
    assert len(label) == 80 and label.endswith("…")


def test_forged_and_stale_buttons_answer_politely(
    bot_factory: BotFactory, fake_tg: FakeTelegram
) -> None:
    bot_factory()
    for data in ("st:999999", "st:abc", "st:", "zz:1", "x" * 64, "st:1" + "9" * 60):
        callback = fake_tg.press_button(CHAT, 12345, data)
        fake_tg.wait_until(lambda f, c=callback: f.callback_answers(c), what=f"answer to {data}")
        assert "out of date" in fake_tg.callback_answers(callback)[0]["text"]
    assert_still_alive(fake_tg)


def test_edits_channels_and_stickers(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    ask(fake_tg, "hello")
    # An edited message is ignored on purpose: editing old text must not re-run it.
    fake_tg.edit_text(CHAT, 1, CODE)
    # A channel post: the bot does not ask for them, and would ignore them.
    fake_tg.send_text(CHANNEL, f"/track {CODE}", chat_type="channel")
    # A sticker in a group: ignored; in a private chat: a hint.
    fake_tg.send_sticker(GROUP, chat_type="group")
    assert "couldn't find a tracking code" in fake_tg.wait_for_messages(CHAT, 1)[0]["text"]
    fake_tg.send_sticker(CHAT, language_code="en")
    assert "couldn't find a tracking code" in fake_tg.wait_for_messages(CHAT, 2)[1]["text"]
    settle_updates(fake_tg)
    assert fake_tg.texts(CHANNEL) == [] and fake_tg.texts(GROUP) == []
    assert len(fake_tg.texts(CHAT)) == 2
    assert fake_tm.count("create") == 0


def test_plain_text_in_groups_is_ignored(bot_factory: BotFactory, fake_tg: FakeTelegram) -> None:
    bot_factory()
    fake_tg.send_text(GROUP, CODE, chat_type="group")
    assert "Ora seguo" in ask(fake_tg, f"/track {CODE}", chat_id=GROUP, chat_type="group")
    assert len(fake_tg.texts(GROUP)) == 1


def test_track_with_junk_argument_is_refused_clearly(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    assert "isn't a tracking code I recognise" in ask(fake_tg, "/track hello")
    assert "looks like there's a typo. Check the code again." in ask(
        fake_tg, "/track RR123456784IT"
    )
    assert "I don't know this courier" in ask(fake_tg, f"/track {CODE} courier=<b>")
    assert fake_tm.count("create") == 0
