"""bot.texts.reports and the bulk answer of bot.texts.answers, on hand-made rows (the e2e
tests cover the wiring; these cover the edges: thresholds, formulas in cells, long lists,
every reason)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.codefile import RejectedRow, RowRefusal, parse_import
from bot.core.codes import Entry, Refusal, Rejected
from bot.core.textfile import FileProblem
from bot.core.times import ROME
from bot.storage import DeskRow, Shipment
from bot.texts import answers, reports
from bot.texts.couriers import courier_name
from bot.texts.i18n import LANGUAGES, Translator
from bot.texts.message import MAX_MESSAGE_LENGTH
from bot.tracking.tracker import FollowOutcome, FollowResult

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
EN = Translator("en")
IT = Translator("it")


def row(code: str = "RR123456785IT", **changes: object) -> DeskRow:
    base = DeskRow(
        code=code,
        courier="poste-italiane",
        label=None,
        status="transit",
        substatus="transit001",
        refused=False,
        latest_event_at=(NOW - timedelta(hours=1))
        .astimezone(ROME)
        .replace(tzinfo=None)
        .isoformat(),
        last_change_at=(NOW - timedelta(hours=1)).isoformat(),
        added_by_name="Ada",
        added_at=(NOW - timedelta(days=2)).isoformat(),
        delivered_at=None,
        archived_at=None,
        muted=False,
        event_description="In transito",
        event_location="BOLOGNA",
        event_occurred_at="2026-11-26 20:00:00",
        event_raw_time="2026-11-26 20:00:00",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def idle(days: float, **changes: Any) -> DeskRow:
    moved = (NOW - timedelta(days=days)).astimezone(ROME).replace(tzinfo=None).isoformat()
    return row(latest_event_at=moved, **changes)


# --- attention -------------------------------------------------------------------------------


def test_no_movement_counts_from_the_newest_event_or_else_from_when_it_was_added() -> None:
    assert reports.idle_days(idle(7), NOW) == 7
    added_long_ago = row(latest_event_at=None, added_at=(NOW - timedelta(days=9)).isoformat())
    assert reports.idle_days(added_long_ago, NOW) == 9


@pytest.mark.parametrize(
    ("days", "expected"),
    [(6.99, None), (7, "no_movement"), (29.9, "no_movement"), (30, "no_movement")],
)
def test_attention_and_long_idle_thresholds(days: float, expected: str | None) -> None:
    items = reports.needs_attention([idle(days)], NOW, attention_after_days=7)
    assert [item.reason for item in items] == ([expected] if expected else [])
    assert [item.long_idle for item in items] == ([days >= 30] if expected else [])


def test_delivered_never_needs_attention_and_problems_always_do() -> None:
    rows = [
        idle(90, code="A", status="delivered"),
        idle(0, code="B", status="exception"),
        idle(0, code="C", status="undelivered"),
        idle(0, code="D", status="expired"),
        idle(0, code="E", status=None, refused=True),
        idle(12, code="F", status="pending"),
        idle(40, code="G", status="notfound"),
        idle(45, code="H", status="exception"),
    ]
    items = reports.needs_attention(rows, NOW, attention_after_days=7)
    assert [(i.row.code, i.reason.value, i.long_idle) for i in items] == [
        ("H", "exception", True),
        ("B", "exception", False),
        ("C", "undelivered", False),
        ("E", "refused", False),
        ("D", "expired", False),
        ("G", "no_movement", True),
        ("F", "no_movement", False),
    ]


def test_summary_shows_idle_days_on_problems_and_cuts_long_lists() -> None:
    rows = [idle(45, code="OLD", status="exception")] + [
        idle(8 + i, code=f"Q{i:03d}", status="pending") for i in range(40)
    ]
    text = reports.summary(EN, rows, NOW, attention_after_days=7)
    assert "🚨 <code>OLD</code>\n    Delivery problem · stale: no movement for 45 days" in text
    assert text.endswith(f"… and {41 - reports.MAX_LISTED_PER_SECTION} more")
    assert len(text) <= MAX_MESSAGE_LENGTH


def test_summary_of_an_empty_chat_and_of_a_calm_one() -> None:
    assert reports.summary(EN, [], NOW, 7).startswith("📊 I'm not tracking any shipments")
    assert reports.summary(EN, [row()], NOW, 7).endswith("✨ Nothing needs attention.")


# --- digest ----------------------------------------------------------------------------------


def test_digest_is_skipped_for_a_chat_that_follows_nothing() -> None:
    assert reports.digest(EN, [], NOW, 7) is None


def test_all_quiet_digest_when_nothing_moved_and_nothing_needs_attention() -> None:
    calm = row(last_change_at=(NOW - timedelta(hours=30)).isoformat())
    assert reports.digest(EN, [calm, calm], NOW, 7) == (
        "🗞 <b>Daily digest</b>\n☀️ All quiet: nothing moved in the last 24 hours and nothing "
        "needs attention (2 shipments tracked)."
    )


def test_muted_shipments_are_left_out_of_what_moved() -> None:
    rows = [row(code="LOUD"), row(code="MUTED", muted=True)]
    moved = reports.moved_recently(rows, NOW)
    assert [r.code for r in moved] == ["LOUD"]


# --- export ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+39 333", "'+39 333"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("\r=x", "'\r=x"),
        ("Regalo = bello", "Regalo = bello"),
        ("", ""),
    ],
)
def test_formulas_are_neutralised(value: str, expected: str) -> None:
    assert reports.neutralise(value) == expected


def test_export_quotes_what_needs_quoting_and_reads_back() -> None:
    tricky = 'Rossi, "il grande"\nsecond line'
    rows = [row(label=tricky, event_location="")]
    data = reports.export_csv(EN, rows)
    assert data.startswith(b"\xef\xbb\xbf")
    header, line = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:4] == ["code", "name", "courier", "courier name"] and len(header) == 15
    assert line[1] == tricky
    assert line[3] == courier_name("poste-italiane") == "Poste Italiane"
    assert line[6] == "In transito"  # without a location, no dash
    assert line[7] == "2026-11-26 20:00"


@pytest.mark.parametrize(
    ("t", "names"),
    [
        (EN, ["expected delivery", "signed by", "days in transit"]),
        (IT, ["consegna prevista", "firmata da", "giorni in viaggio"]),
    ],
)
def test_export_has_the_expected_date_who_signed_and_the_days_in_transit(
    t: Translator, names: list[str]
) -> None:
    rows = [row(expected_delivery="2026-12-03", signed_by="Ada", transit_days=5), row()]
    delimiter = ";" if t.language == "it" else ","
    data = reports.export_csv(t, rows).decode("utf-8-sig")
    header, told, untold = list(csv.reader(io.StringIO(data), delimiter=delimiter))
    assert header[-3:] == names
    assert told[-3:] == ["2026-12-03", "Ada", "5"] and untold[-3:] == ["", "", ""]


def test_export_times_are_rome_local() -> None:
    summer = row(added_at="2026-07-01T22:30:00.000+00:00", delivered_at=None)
    [line] = list(csv.reader(io.StringIO(reports.export_csv(EN, [summer]).decode("utf-8-sig"))))[1:]
    assert line[9] == "2026-07-02 00:30"  # CEST


def test_export_filename_uses_the_rome_date() -> None:
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # already the 27th in Rome
    assert reports.export_filename(-100123, late) == "postino--100123-20261127.csv"


# --- the bulk answer -------------------------------------------------------------------------


def shipment(code: str, status: str = "pending") -> Shipment:
    return Shipment(1, "poste-italiane", code, None, True, status, None, None, None)


def added(
    code: str, outcome: FollowOutcome = FollowOutcome.ADDED, **kwargs: object
) -> FollowResult:
    entry = Entry(code, "poste-italiane", None)
    return FollowResult(entry, outcome, shipment(code), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_refusal_has_a_reason_in_every_language(language: str) -> None:
    t = Translator(language)
    for reason in RowRefusal:
        key = f"bulk.reason.{reason.value}"
        assert t(key, first=3) != key
    for refusal in Refusal:
        assert RowRefusal(refusal.value)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_file_problem_has_an_answer_in_every_language(language: str) -> None:
    t = Translator(language)
    for problem in FileProblem:
        key = f"import.problem.{problem.value}"
        assert t(key, line=2) != key


def test_ten_lines_are_answered_one_by_one_and_eleven_summarised() -> None:
    ten = [added(f"C{i}") for i in range(10)]
    one_by_one = answers.follow_results(EN, ten, [], 0, max_codes=50, max_shipments=500)
    assert one_by_one.count("Now tracking") == 10
    rejected = [Rejected("RR123456784IT", Refusal.BAD_CHECK_DIGIT)]
    summary = answers.follow_results(EN, ten, rejected, 0, max_codes=50, max_shipments=500)
    assert summary.startswith("📋 <b>11 lines read</b>\n✅ Added: 10\n")
    assert summary.count("\n• ") == 11  # the refused one and the ten added


def test_bulk_summary_groups_the_over_limit_and_notes_pending_and_cut_names() -> None:
    results = [
        added("A"),
        added("B", pending_registration=True),
        FollowResult(Entry("C", "poste-italiane", "x" * 79 + "…", True), FollowOutcome.ALREADY),
        FollowResult(Entry("D", "brt", None), FollowOutcome.REFUSED_BY_CARRIER),
        *(
            FollowResult(Entry(f"L{i}", "poste-italiane", None), FollowOutcome.OVER_LIMIT)
            for i in range(3)
        ),
    ]
    rejected = [RejectedRow(9, "RR1", RowRefusal.DUPLICATE, first_row=4)]
    text = answers.bulk_summary(EN, results, rejected, max_shipments=500, more_rejected=2)
    assert text.splitlines()[:4] == [
        "📋 <b>10 lines read</b>",
        "✅ Added: 2",
        "ℹ️ Already tracked: 1",
        "❌ Refused: 7",
    ]
    assert "• row 9: <code>RR1</code> — same code as row 4\n… and 2 more refused rows\n" in text
    assert f"• <code>D</code> — code not accepted for {courier_name('brt')}" in text
    assert "• 3 codes not added: I'm already tracking 500 shipments in this chat" in text
    assert "I'll register 1 shipment shortly" in text
    assert "TrackingMore" not in text
    assert "✂️ 1 name was too long" in text


def test_bulk_summary_lists_added_shipments_only_when_few() -> None:
    many = [added(f"C{i}") for i in range(answers.MAX_ADDED_LISTED + 1)]
    assert "<b>Added</b>" not in answers.bulk_summary(EN, many, [], max_shipments=500)
    assert "<b>Added</b>" in answers.bulk_summary(EN, many[:-1], [], max_shipments=500)


def test_bulk_summary_of_hundreds_of_refusals_fits_one_message() -> None:
    rejected = [RejectedRow(i, "x" * 40, RowRefusal.NOT_A_CODE) for i in range(2, 102)]
    text = answers.bulk_summary(EN, [], rejected, max_shipments=500, more_rejected=400)
    assert len(text) <= MAX_MESSAGE_LENGTH
    assert "❌ Refused: 500" in text and text.endswith("… (shortened)")


# --- ready for pickup, and the export read back ----------------------------------------------

READY = {
    "status": "pickup",
    "substatus": "pickup002",
    "event_description": "In giacenza presso l'ufficio postale, ritirabile entro il 05/12/2026",
    "event_location": "UFFICIO POSTALE MILANO 12",
    "event_occurred_at": "2026-11-26T10:00:00",
}


def test_a_parcel_to_collect_needs_attention_with_its_place_and_deadline() -> None:
    rows = [row(code="OUT", status="pickup", substatus="pickup001"), row(code="WAIT", **READY)]
    items = reports.needs_attention(rows, NOW, attention_after_days=7)
    assert [(i.row.code, i.reason.value) for i in items] == [("WAIT", "ready_for_pickup")]
    text = reports.summary(EN, rows, NOW, 7)
    assert "🛵 Out for delivery: 1\n🏤 Ready for pickup: 1" in text
    assert (
        "🏤 <code>WAIT</code>\n    Ready for pickup · 📍 UFFICIO POSTALE MILANO 12 · "
        "by 5 December 2026"
    ) in text
    it = reports.summary(Translator("it"), rows, NOW, 7)
    assert "Da ritirare · 📍 UFFICIO POSTALE MILANO 12 · entro il 5 dicembre 2026" in it


def test_the_attention_order_puts_parcels_to_collect_after_failed_deliveries() -> None:
    rows = [
        idle(0, code="X", status="expired"),
        idle(0, code="R", **{k: v for k, v in READY.items() if k in ("status", "substatus")}),
        idle(0, code="U", status="undelivered"),
        idle(0, code="E", status="exception"),
    ]
    items = reports.needs_attention(rows, NOW, attention_after_days=7)
    assert [i.row.code for i in items] == ["E", "U", "R", "X"]


def test_a_parcel_to_collect_without_a_deadline_gets_none_invented() -> None:
    waiting = row(**{**READY, "event_description": "Arrivata il 25/11/2026 all'ufficio postale"})
    text = reports.summary(EN, [waiting], NOW, 7)
    assert "Ready for pickup · 📍 UFFICIO POSTALE MILANO 12\n" in text + "\n"
    assert " by " not in text


def test_the_digest_tells_a_status_once_when_the_event_starts_with_it() -> None:
    moved = row(status="transit", event_description="In transit at the sorting centre")
    text = reports.digest(EN, [moved], NOW, 7)
    assert text is not None
    assert "🚚 <code>RR123456785IT</code>\n    In transit at the sorting centre" in text
    other = reports.digest(EN, [row()], NOW, 7)
    assert other is not None and "<code>RR123456785IT</code> — In transit\n" in other


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_export_imports_back_as_before(language: str) -> None:
    """The courier's name beside its code does not confuse the import: same codes, names and
    couriers come back."""
    rows = [
        row(code="RR123456785IT", label="Regalo mamma"),
        row(code="1Z999AA10123456784", courier="ups", label=None, **READY),
        row(code="386123456789", label='Rossi; "il grande"', refused=True, status=None),
    ]
    data = reports.export_csv(Translator(language), rows)
    parsed = parse_import(data, max_codes=100)
    assert [(e.code, e.courier, e.label) for e in parsed.entries] == [
        ("RR123456785IT", "poste-italiane", "Regalo mamma"),
        ("1Z999AA10123456784", "ups", None),
        ("386123456789", "poste-italiane", 'Rossi; "il grande"'),
    ]
    assert parsed.rejected == ()


def test_export_says_ready_for_pickup_in_the_status_column() -> None:
    data = reports.export_csv(Translator("it"), [row(**READY)])
    header, line = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert header[:4] == ["codice", "nome", "corriere", "nome corriere"]
    assert line[header.index("stato")] == "Da ritirare"
