"""End to end, the tracking desk: files of codes, many pasted lines, /export, /summary, /digest.

The real bot against the fake Telegram and TrackingMore; to age shipments, the test stops the
bot and edits its (real) database, then starts it again.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import db_reads
import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10, wrong_check_digit

from bot.core.times import ROME
from bot.texts.i18n import Translator

pytestmark = pytest.mark.e2e

CHAT, OTHER_CHAT, GROUP = 1001, 1002, -2001
ADMIN, MEMBER = 501, 502
POSTE = "poste-italiane"
TYPO = "RR123456784IT"
# The digest test must not see the day change: it takes seconds, this is ample.
DAY_CHANGE_MARGIN_SECONDS = 40


def link(fake_tg: FakeTelegram, code: str) -> str:
    """How the bot shows a followable Poste Italiane code: a one-tap deep link."""
    return f'<a href="https://t.me/{fake_tg.bot_username}?start=track_{code}">{code}</a>'


def ask(fake_tg: FakeTelegram, chat_id: int, text: str, **kwargs: Any) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_text(chat_id, text, **kwargs)
    return fake_tg.wait_for_messages(chat_id, before + 1, timeout=30)[before]["text"]


def upload(fake_tg: FakeTelegram, chat_id: int, name: str, content: bytes, **kwargs: Any) -> str:
    before = len(fake_tg.texts(chat_id))
    fake_tg.send_document(chat_id, name, content, **kwargs)
    return fake_tg.wait_for_messages(chat_id, before + 1, timeout=30)[before]["text"]


def documents(fake_tg: FakeTelegram, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in fake_tg.messages(chat_id) if m["method"] == "sendDocument"]


def rome_time(moment: datetime) -> str:
    return moment.astimezone(ROME).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# --- files and many lines --------------------------------------------------------------------


@pytest.mark.in_process
def test_csv_file_in_a_private_chat_is_summarised_and_registered_in_batches_of_40(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    bot_factory()
    already = s10(60_000_999)
    ask(fake_tg, CHAT, already)
    fake_tm.clear_requests()
    codes = [s10(60_000_000 + i) for i in range(95)]
    rows = ["Tracking Number;Name;Courier", ""]  # rows 1-2
    rows += [f"{code};Ordine {i} caffè;" for i, code in enumerate(codes)]  # rows 3-97
    rows += [
        f"{already};gia seguita;",  # 98
        f"{TYPO};typo;",  # 99
        ";Mario Rossi;",  # 100
        f"{codes[0]};di nuovo;",  # 101
        "3UW1CEG000511;SDA;Posta Lenta!",  # 102: no courier is called that
        "ciao;x;",  # 103
    ]
    data = "\r\n".join(rows).encode("cp1252")  # as Excel on Windows saves it

    answer = upload(fake_tg, CHAT, "spedizioni.csv", data)

    assert answer == (
        "📋 <b>101 lines read</b>\n"
        "✅ Added: 95\n"
        "ℹ️ Already tracked: 1\n"
        "❌ Refused: 5\n"
        "\n"
        "<b>Refused</b>\n"
        f"• row 99: <code>{TYPO}</code> — looks like a typo\n"
        "• row 100: <code>Mario Rossi</code> — no code in the code column\n"
        f"• row 101: <code>{codes[0]}</code> — same code as row 3\n"
        "• row 102: <code>Posta Lenta!</code> — unknown courier (write its name, e.g. SDA or "
        "BRT)\n"
        "• row 103: <code>ciao</code> — not a tracking code I recognise"
    )
    batches = [r["numbers"] for r in fake_tm.requests if r["endpoint"] == "batch"]
    # Up to three calls in flight: they may reach TrackingMore in any order.
    assert sorted(len(numbers) for numbers in batches) == [15, 40, 40]
    assert sorted(n for numbers in batches for n in numbers) == sorted(codes)
    assert fake_tm.count("create") == 0
    labels = dict(
        db_reads.rows(
            bot_env,
            "SELECT sh.code, s.label FROM subscriptions s "
            "JOIN shipments sh ON sh.id = s.shipment_id WHERE s.chat_id = ?",
            (CHAT,),
        )
    )
    assert len(labels) == 96
    assert labels[codes[0]] == "Ordine 0 caffè"
    assert labels[already] == "gia seguita"  # a name given again replaces the old one


@pytest.mark.in_process
def test_a_big_file_is_confirmed_even_when_the_creations_limit_outlasts_the_timeout(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """480 codes are 12 batch calls: 4 s at TrackingMore's 3 creations/s, twice the 2 s a
    chat waits for one call here. The wait grows with the list, so every code is confirmed
    in the answer rather than "registered shortly" and told again later."""
    fake_tm.enforce_limits()
    bot = bot_factory(CARRIER_TIMEOUT_SECONDS="1")
    codes = [s10(63_000_000 + i) for i in range(480)]

    answer = upload(fake_tg, CHAT, "grande.csv", "\n".join(codes).encode())

    assert answer.splitlines()[:4] == [
        "📋 <b>480 lines read</b>",
        "✅ Added: 480",
        "ℹ️ Already tracked: 0",
        "❌ Refused: 0",
    ]
    assert "TrackingMore is not answering" not in answer
    assert len(fake_tm.registered()) == 480 and fake_tm.rate_limited_count == 0
    bot.settle_after_poll_cycles(2)  # nothing is told again
    assert len(fake_tg.texts(CHAT)) == 1


@pytest.mark.in_process
def test_a_row_trackingmore_refuses_is_named_by_its_row(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    fake_tm.refuse_courier("corriere-inventato")
    good, refused = s10(60_500_001), s10(60_500_002)
    data = f"code,label,courier\n{good},Rossi,\n{refused},Bianchi,corriere-inventato\n"

    answer = upload(fake_tg, CHAT, "ordini.csv", data.encode())

    assert answer.splitlines()[:7] == [
        "📋 <b>2 lines read</b>",
        "✅ Added: 1",
        "ℹ️ Already tracked: 0",
        "❌ Refused: 1",
        "",
        "<b>Refused</b>",
        f"• row 3: <code>{refused}</code> — code not accepted for corriere-inventato",
    ]
    assert fake_tm.registered() == [(POSTE, good)]


@pytest.mark.in_process
def test_group_imports_a_document_captioned_import_and_ignores_other_documents(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    codes = [s10(61_000_000 + i) for i in range(3)]
    data = "\ufeffetichetta,codice\n" + "\n".join(f"Cliente {i},{c}" for i, c in enumerate(codes))
    content = data.encode()
    in_group: dict[str, Any] = {"chat_type": "group", "user_id": MEMBER}
    uncaptioned = fake_tg.send_document(GROUP, "a.csv", content, **in_group)
    fake_tg.send_document(GROUP, "b.csv", content, caption="/import@other_bot", **in_group)

    answer = upload(
        fake_tg, GROUP, "c.csv", content, caption=f"/import@{fake_tg.bot_username}", **in_group
    )

    added = "\n".join(
        f"• <b>Cliente {i}</b> · {link(fake_tg, code)} — ⏳ In attesa"
        for i, code in enumerate(codes)
    )
    assert answer == (
        "📋 <b>3 righe lette</b>\n"
        "✅ Aggiunte: 3\n"
        "ℹ️ Già seguite: 0\n"
        "❌ Rifiutate: 0\n"
        "\n"
        "<b>Aggiunte</b>\n"
        f"{added}"
    )
    assert fake_tm.count("batch") == 1
    assert "<code>/import</code> come didascalia" in ask(fake_tg, GROUP, "/import", **in_group)
    # /import in reply to a document imports that one: the same codes, now already followed.
    replied = uncaptioned["message"]["message_id"]
    again = ask(fake_tg, GROUP, "/import", reply_to_message_id=replied, **in_group)
    assert again.splitlines()[:4] == [
        "📋 <b>3 righe lette</b>",
        "✅ Aggiunte: 0",
        "ℹ️ Già seguite: 3",
        "❌ Rifiutate: 0",
    ]
    assert len(fake_tg.texts(GROUP)) == 3  # nothing answered the two other documents
    assert fake_tm.count("batch") == 1


@pytest.mark.in_process
def test_files_that_are_not_lists_of_codes_get_a_clear_answer(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    cases = [
        ("fattura.pdf", pdf, "application/pdf", "I can only import <b>.csv</b> or <b>.txt</b>"),
        ("codes.csv", pdf, "text/csv", "This file isn't text, so it isn't a CSV"),
        ("codes.csv", b"PK\x03\x04" + bytes(300), "text/csv", "an Excel (or similar) workbook"),
        ("empty.txt", b"", "text/plain", "This file is empty."),
        (
            "notes.txt",
            b"Dear shop,\nthanks for order 12.\n",
            "text/plain",
            "couldn't find any tracking codes",
        ),
        ("broken.csv", f'{TYPO};ok\n{TYPO};"open\n'.encode() + b"a;b\n" * 20, "text/csv", "line 2"),
        ("big.csv", b"RR123456785IT\n" * 80_000, "text/csv", "I import files up to 1 MB"),
    ]
    for name, content, mime_type, expected in cases:
        assert expected in upload(fake_tg, CHAT, name, content, mime_type=mime_type), name
    downloads = [c for c in fake_tg.calls("getFile")]
    assert len(downloads) == len(cases) - 2  # neither the PDF by name nor the big file
    assert fake_tm.parcel_requests == []
    assert "couldn't find a tracking code" in ask(fake_tg, CHAT, "hello")  # still fine


@pytest.mark.in_process
def test_sixty_pasted_lines_get_a_summary(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    codes = [s10(62_000_000 + i) for i in range(52)]
    typos = [wrong_check_digit(s10(62_100_000 + i)) for i in range(5)]
    lines = [*codes[:20], "grazie!", *typos, *codes[20:], "a dopo", "ciao"]
    assert len(lines) == 60

    answer = ask(fake_tg, CHAT, "\n".join(lines))

    refused = "\n".join(f"• <code>{typo}</code> — looks like a typo" for typo in typos)
    assert answer == (
        "📋 <b>55 lines read</b>\n"
        "✅ Added: 50\n"
        "ℹ️ Already tracked: 0\n"
        "❌ Refused: 5\n"
        "\n"
        "<b>Refused</b>\n"
        f"{refused}\n"
        "\n"
        "⚠️ I read at most 50 codes per message: I skipped the other 2. Send them in another "
        "message."
    )
    batches = [r["numbers"] for r in fake_tm.requests if r["endpoint"] == "batch"]
    assert sorted(len(numbers) for numbers in batches) == [10, 40]


# --- /export ---------------------------------------------------------------------------------


def test_export_is_a_csv_of_everything_followed_and_imports_back(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    moving, delivered, waiting = s10(63_000_001), s10(63_000_002), s10(63_000_003)
    fake_tm.script(
        moving,
        events=[{"detail": "In transito", "location": "BOLOGNA", "time": "2026-11-20 09:30:00"}],
    )
    fake_tm.script(
        delivered,
        events=[
            {
                "detail": "Consegnato",
                "location": "ROMA",
                "time": "2026-11-21 12:40:00",
                "status": "delivered",
            }
        ],
    )
    bot = bot_factory()
    assert "nothing to export" in ask(fake_tg, CHAT, "/export")
    for line in (
        f'{moving} =HYPERLINK("http://x.example","clic")',
        f"{delivered} +39 333 1234567",
        f"{waiting} @mario, scatola",
    ):
        ask(fake_tg, CHAT, line, language_code="it", first_name="Ada")
    bot.stop()
    db_reads.write(
        bot_env,
        "UPDATE subscriptions SET archived_at = '2026-11-22T09:00:00.000+00:00' "
        "WHERE shipment_id = (SELECT id FROM shipments WHERE code = ?)",
        (delivered,),
    )
    bot.start()
    bot.wait_ready(fake_tg)

    fake_tg.send_text(CHAT, "/export", language_code="it")
    [document] = fake_tg.wait_until(lambda f: documents(f, CHAT), what="the export")
    name, content = document["document"]
    today = datetime.now(ROME).strftime("%Y-%m-%d")
    assert name == f"postino-{CHAT}-{today.replace('-', '')}.csv"
    assert document["text"] == "📄 3 spedizioni seguite in questa chat"
    assert content.startswith(b"\xef\xbb\xbf")
    # An Italian chat gets ";" as Excel set to Italian expects.
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert header == [
        "codice",
        "nome",
        "corriere",
        "nome corriere",
        "stato",
        "sottostato",
        "ultimo evento",
        "ora ultimo evento",
        "aggiunta da",
        "aggiunta il",
        "consegnata il",
        "archiviata il",
        "consegna prevista",
        "firmata da",
        "giorni in viaggio",
    ]
    now_pattern = re.compile(rf"{today} \d\d:\d\d")
    added_at = [row.pop(9) for row in rows]
    assert all(now_pattern.fullmatch(value) for value in added_at)
    assert now_pattern.fullmatch(rows[1].pop(9))  # delivered at: when the bot learnt it
    assert rows == [
        [
            moving,
            '\'=HYPERLINK("http://x.example","clic")',
            POSTE,
            "Poste Italiane",
            "In transito",
            "transit001",
            "In transito — BOLOGNA",
            "2026-11-20 09:30",
            "Ada",
            "",
            "",
            "",
            "",
            "0",
        ],
        [
            delivered,
            "'+39 333 1234567",
            POSTE,
            "Poste Italiane",
            "Consegnata",
            "delivered001",
            "Consegnato — ROMA",
            "2026-11-21 12:40",
            "Ada",
            "2026-11-22 10:00",
            "",
            "",
            "0",
        ],
        [
            waiting,
            "'@mario, scatola",
            POSTE,
            "Poste Italiane",
            "In attesa",
            "",
            "",
            "",
            "Ada",
            "",
            "",
            "",
            "",
            "0",
        ],
    ]

    # The export is a valid import: another chat takes the same list, names intact.
    answer = upload(fake_tg, OTHER_CHAT, name, content)
    assert answer.splitlines()[:4] == [
        "📋 <b>3 lines read</b>",
        "✅ Added: 3",
        "ℹ️ Already tracked: 0",
        "❌ Refused: 0",
    ]
    labels = db_reads.rows(
        bot_env,
        "SELECT s.label FROM subscriptions s JOIN shipments sh ON sh.id = s.shipment_id "
        "WHERE s.chat_id = ? ORDER BY sh.code",
        (OTHER_CHAT,),
    )
    assert labels == [
        ('=HYPERLINK("http://x.example","clic")',),
        ("+39 333 1234567",),
        ("@mario, scatola",),
    ]


# --- /summary --------------------------------------------------------------------------------


def test_summary_counts_statuses_and_lists_what_needs_attention(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    recent = rome_time(datetime.now(UTC) - timedelta(hours=2))
    problem, expired, quiet, stale, moving, done, archived = (s10(64_000_000 + i) for i in range(7))
    fake_tm.script(
        problem,
        events=[{"detail": "Indirizzo errato", "time": recent, "status": "exception"}],
    )
    fake_tm.script(expired, status="expired")
    fake_tm.script(moving, events=[{"detail": "In transito", "time": recent}])
    fake_tm.script(
        done,
        events=[{"detail": "Consegnato", "time": "2026-10-01 10:00:00", "status": "delivered"}],
    )
    fake_tm.script(
        archived, events=[{"detail": "Danneggiato", "time": recent, "status": "exception"}]
    )
    bot = bot_factory()
    assert "not tracking any shipments in this chat right now" in ask(fake_tg, CHAT, "/summary")
    for line in (f"{problem} Rossi", expired, quiet, f"{stale} Bianchi", moving, done, archived):
        ask(fake_tg, CHAT, line)
    bot.stop()
    now = datetime.now(UTC)
    for code, column, value in (
        (quiet, "added_at", iso_utc(now - timedelta(days=8, hours=1))),
        (stale, "added_at", iso_utc(now - timedelta(days=40, hours=1))),
        (archived, "archived_at", iso_utc(now)),
    ):
        db_reads.write(
            bot_env,
            f"UPDATE subscriptions SET {column} = ? "
            "WHERE shipment_id = (SELECT id FROM shipments WHERE code = ?)",
            (value, code),
        )
    bot.start()
    bot.wait_ready(fake_tg)

    assert ask(fake_tg, CHAT, "/summary") == (
        "📊 <b>6 shipments tracked here</b>\n"
        "⏳ Pending: 2\n"
        "🚚 In transit: 1\n"
        "✅ Delivered: 1\n"
        "🚨 Delivery problem: 1\n"
        "⌛ Tracking expired: 1\n"
        "\n"
        "⚠️ <b>Needs attention (4)</b>\n"
        f"🚨 <b>Rossi</b> · {link(fake_tg, problem)}\n"
        "    Delivery problem\n"
        f"⌛ {link(fake_tg, expired)}\n"
        "    Tracking expired\n"
        f"🕸 <b>Bianchi</b> · {link(fake_tg, stale)}\n"
        "    stale: no movement for 40 days\n"
        f"💤 {link(fake_tg, quiet)}\n"
        "    no movement for 8 days"
    )


# --- /digest ---------------------------------------------------------------------------------


@pytest.mark.in_process
def test_digest_time_is_set_by_group_admins_only(
    bot_factory: BotFactory, fake_tg: FakeTelegram, bot_env: dict[str, str]
) -> None:
    bot_factory()
    fake_tg.set_chat_admins(GROUP, [ADMIN])
    member: dict[str, Any] = {"chat_type": "group", "user_id": MEMBER}
    admin: dict[str, Any] = {"chat_type": "group", "user_id": ADMIN}

    assert ask(fake_tg, GROUP, "/digest 08:30", **member) == (
        "Solo gli amministratori del gruppo possono cambiare il riepilogo del giorno."
    )
    before = len(fake_tg.texts(GROUP))
    update = fake_tg.send_text(GROUP, "/digest 8.30", **admin)
    answer = fake_tg.wait_for_messages(GROUP, before + 1)[before]["text"]
    written = datetime.fromtimestamp(update["message"]["date"], ROME).strftime("%H:%M")
    starts = "oggi" if written <= "08:30" else "domani"
    assert answer == (
        "🗞 Fatto: il riepilogo arriva ogni giorno alle 08:30 (ora italiana), "
        f"a partire da {starts}."
    )
    assert db_reads.rows(bot_env, "SELECT digest_time FROM chats WHERE id = ?", (GROUP,)) == [
        ("08:30",)
    ]
    assert "Al momento arriva ogni giorno alle 08:30." in ask(fake_tg, GROUP, "/digest", **member)
    assert ask(fake_tg, GROUP, "/digest 25:61", **admin).startswith(
        "⏰ 25:61 non è un'ora del giorno."
    )
    assert ask(fake_tg, GROUP, "/digest off", **member).startswith("Solo gli amministratori")
    assert ask(fake_tg, GROUP, "/digest off", **admin) == "🗞 Riepilogo del giorno disattivato."
    assert db_reads.rows(bot_env, "SELECT digest_time FROM chats WHERE id = ?", (GROUP,)) == [
        (None,)
    ]


def digests(fake_tg: FakeTelegram, chat_id: int) -> list[str]:
    return [text for text in fake_tg.texts(chat_id) if text.startswith("🗞 <b>Daily digest</b>")]


def set_digest_to_this_minute(fake_tg: FakeTelegram, chat_id: int) -> str:
    """`/digest HH:MM` for the minute the message is written in (retried across a boundary)."""
    while True:
        clock = datetime.now(ROME).strftime("%H:%M")
        update = fake_tg.send_text(chat_id, f"/digest {clock}")
        written = datetime.fromtimestamp(update["message"]["date"], ROME).strftime("%H:%M")
        if written == clock:
            return clock


def test_digest_comes_once_a_day_at_the_chosen_minute(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    bot_env: dict[str, str],
) -> None:
    now = datetime.now(ROME)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), ROME)
    if (left := (midnight - now).total_seconds()) < DAY_CHANGE_MARGIN_SECONDS:
        time.sleep(left + 1)  # the day must not change during the test: start it after midnight
    recent = rome_time(datetime.now(UTC) - timedelta(hours=3))
    moving, problem = s10(65_000_001), s10(65_000_002)
    fake_tm.script(
        moving, events=[{"detail": "In transito", "location": "BOLOGNA", "time": recent}]
    )
    fake_tm.script(
        problem,
        events=[
            {
                "detail": "Indirizzo errato",
                "location": "MILANO",
                "time": recent,
                "status": "exception",
            }
        ],
    )
    bot = bot_factory()
    ask(fake_tg, CHAT, moving)
    ask(fake_tg, CHAT, f"{problem} Rossi")

    clock = set_digest_to_this_minute(fake_tg, CHAT)

    [digest] = fake_tg.wait_until(lambda f: digests(f, CHAT), timeout=20, what="the digest")
    when = Translator("en").datetime(datetime.fromisoformat(recent))
    assert digest == (
        "🗞 <b>Daily digest</b>\n"
        "\n"
        "🚚 <b>Moved in the last 24 hours (2)</b>\n"
        f"🚨 <b>Rossi</b> · {link(fake_tg, problem)} — Delivery problem\n"
        f"    Indirizzo errato · 📍 MILANO · 🕒 {when}\n"
        f"🚚 {link(fake_tg, moving)} — In transit\n"
        f"    In transito · 📍 BOLOGNA · 🕒 {when}\n"
        "\n"
        "⚠️ <b>Needs attention (1)</b>\n"
        f"🚨 <b>Rossi</b> · {link(fake_tg, problem)}\n"
        "    Delivery problem"
    )
    assert f"every day at {clock} (Italian time), starting today" in fake_tg.texts(CHAT)[2]

    # A restart the same day does not repeat it (the check runs a second after start, as
    # the first poll cycle does: two cycles later it has run).
    bot.restart()
    bot.wait_ready(fake_tg)
    bot.settle_after_poll_cycles(2)
    assert len(digests(fake_tg, CHAT)) == 1

    # The next day (as far as the database knows) the periodic check sends it again, once.
    bot.stop()
    db_reads.write(bot_env, "UPDATE chats SET digest_sent_day = '2000-01-01' WHERE id = ?", (CHAT,))
    bot.start()
    bot.wait_ready(fake_tg)
    fake_tg.wait_until(lambda f: len(digests(f, CHAT)) == 2, timeout=20, what="the 2nd digest")
    bot.settle_after_poll_cycles(2)
    assert len(digests(fake_tg, CHAT)) == 2
    assert db_reads.rows(bot_env, "SELECT digest_sent_day FROM chats WHERE id = ?", (CHAT,)) == [
        (datetime.now(ROME).date().isoformat(),)
    ]


def test_a_digest_to_a_chat_that_blocked_the_bot_pauses_the_chat(
    bot_factory: BotFactory, fake_tg: FakeTelegram, bot_env: dict[str, str]
) -> None:
    bot = bot_factory()
    ask(fake_tg, CHAT, s10(66_000_001))
    bot.stop()
    db_reads.write(bot_env, "UPDATE chats SET digest_time = '00:00' WHERE id = ?", (CHAT,))
    fake_tg.block_chat(CHAT)
    bot.start()
    bot.wait_ready(fake_tg)

    def refused_sends(f: FakeTelegram) -> list[dict[str, Any]]:
        return [c for c in f.failed_calls("sendMessage") if c["chat_id"] == CHAT]

    fake_tg.wait_until(refused_sends, what="the digest refused with 403")

    def paused() -> bool:
        return bool(
            db_reads.rows(bot_env, "SELECT blocked_at FROM chats WHERE id = ?", (CHAT,))[0][0]
        )

    deadline = time.monotonic() + 10
    while not paused() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused()
    row = db_reads.rows(bot_env, "SELECT digest_sent_day FROM chats WHERE id = ?", (CHAT,))
    assert row == [(None,)]  # not marked: Telegram did not take it
    assert len(refused_sends(fake_tg)) == 1  # paused: not tried again
