"""Fuzzed parsers: everything that reads outside input takes any input without an unhandled
exception, and in bounded time (hypothesis' deadline, per example).

The everyday run keeps a modest budget; `FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py`
is the long run (README, "Test it"). Other property tests of the same parsers live in
tests/test_codes.py, tests/test_imports.py and tests/test_parser_properties.py.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.carrier import CarrierBadResponse, parse_tracking
from bot.carrier.parser import parse_batch_result, parse_couriers, tracking_signature
from bot.core.codefile import MAX_IMPORT_BYTES, parse_import
from bot.core.message_codes import parse_message, parse_track_args
from bot.core.textfile import UnreadableFile
from bot.core.times import parse_clock, parse_window
from bot.ops.telegram_updates import readable_update
from bot.ops.webserver import _trackings_in
from bot.texts.callbacks import Action, Pressed, pack, parse
from bot.tracking.pushes import PushGuard, Verdict, pushed_identity, signature_of

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),  # bounded time; generous for a loaded CI machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=15,
)
# Characters that trip text handling: separators, BOMs, surrogate-free exotic code points.
tricky = st.sampled_from(
    list("\n\r\t ;,|\"'=-–—•·*#@+/\\:.\u00a0\u2028\u2029\x85\ufeff\u200b\u202e\x00")
)
code_like = st.from_regex(r"[A-Za-z]{2}[0-9 -]{9,12}[A-Za-z]{2}|[0-9]{10,18}", fullmatch=True)
messy_text = st.lists(
    st.one_of(code_like, tricky, st.text(max_size=12), st.just("courier="), st.just("corriere=")),
    max_size=25,
).map("".join)


# --- codes in a chat message -----------------------------------------------------------------


@fuzz
@given(messy_text | st.text(), st.integers(min_value=0, max_value=60))
def test_message_code_parser_takes_anything(text: str, max_codes: int) -> None:
    for parser in (parse_message, parse_track_args):
        parsed = parser(text, max_codes=max_codes)
        assert len(parsed.entries) <= max_codes and parsed.overflow >= 0


def test_message_code_parser_is_fast_on_the_longest_messages() -> None:
    """Telegram's longest message (4096 characters) of the worst shapes, well within 1 s."""
    shapes = ["RR123456785IT\n" * 300, "1" * 4096, "a1" * 2048, "-" * 4096, "RR 1 " * 800]
    for text in shapes:
        began = time.process_time()  # CPU: other processes on the machine do not count
        parse_message(text[:4096], max_codes=50)
        parse_track_args(text[:4096], max_codes=50)
        assert time.process_time() - began < 1.0, text[:20]


# --- the code-file reader --------------------------------------------------------------------


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """A file as shops send them: rows of cells, a separator, a header, an encoding."""
    separator = draw(st.sampled_from([";", ",", "\t", "|", ""]))
    rows = draw(st.lists(st.lists(messy_text, max_size=4).map(separator.join), max_size=15))
    header = draw(st.sampled_from(["", "codice;nome;corriere\n", "label,code\n", "\ufeff"]))
    text = header + draw(st.sampled_from(["\n", "\r\n", "\r"])).join(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    return text.encode(encoding, errors="replace")


@fuzz
@given(files() | st.binary(max_size=2000), st.integers(min_value=1, max_value=50))
def test_code_file_reader_takes_anything(data: bytes, max_codes: int) -> None:
    try:
        parsed = parse_import(data, max_codes=max_codes)
    except UnreadableFile:
        return
    assert len(parsed.entries) <= max_codes


_ROW = "RR123456785IT;Scarpe da ginnastica;poste-italiane\r\n"


@pytest.mark.parametrize(
    "data",
    [
        (_ROW * (MAX_IMPORT_BYTES // len(_ROW))).encode(),
        b"x" * MAX_IMPORT_BYTES,
        b";" * MAX_IMPORT_BYTES,
        b'"' + b"a" * (MAX_IMPORT_BYTES - 2) + b'"',
        codecs.BOM_UTF16_LE + ("RR123456785IT\n" * 30_000).encode("utf-16-le"),
    ],
    ids=["rows", "one-word", "separators", "one-quoted-cell", "utf-16"],
)
def test_code_file_reader_is_fast_on_the_largest_files(data: bytes) -> None:
    """The largest file the bot reads (1 MB), of the worst shapes: seconds, not minutes."""
    began = time.process_time()  # CPU: other processes on the machine do not count
    with contextlib.suppress(UnreadableFile):
        parse_import(data[:MAX_IMPORT_BYTES], max_codes=500)
    assert time.process_time() - began < 10.0


# --- TrackingMore's answers ------------------------------------------------------------------

checkpoint = st.fixed_dictionaries(
    {},
    optional={
        "checkpoint_date": json_values | st.sampled_from(["2026-11-20 09:30:00", "2026-13-40T"]),
        "tracking_detail": json_values,
        "location": json_values,
        "checkpoint_delivery_status": json_values | st.sampled_from(["transit", "delivered"]),
        "checkpoint_delivery_substatus": json_values,
    },
)
tracking = st.fixed_dictionaries(
    {
        "tracking_number": st.text(max_size=40) | json_values,
        "delivery_status": st.sampled_from(["transit", "pickup", "", "notfound"]) | json_values,
    },
    optional={
        "courier_code": json_values | st.just("poste-italiane"),
        "substatus": json_values,
        "id": json_values,
        "update_at": json_values,
        "latest_event": json_values,
        "origin_info": json_values
        | st.fixed_dictionaries({"trackinfo": st.lists(checkpoint | json_values, max_size=8)}),
        "destination_info": json_values
        | st.fixed_dictionaries({"trackinfo": st.lists(checkpoint, max_size=8)}),
    },
)
couriers = st.lists(
    st.fixed_dictionaries({}, optional={"courier_code": json_values, "courier_name": json_values}),
    max_size=8,
)


@fuzz
@given(tracking | json_values)
def test_tracking_parser_takes_anything(obj: Any) -> None:
    parse_tracking(obj)
    if isinstance(obj, dict):
        tracking_signature(obj)


@fuzz
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "success": st.lists(tracking | json_values, max_size=5) | json_values,
            "error": st.lists(json_values, max_size=5) | json_values,
        },
    )
    | json_values,
    st.lists(st.tuples(st.just("poste-italiane"), st.text(min_size=1, max_size=15)), max_size=5),
)
def test_batch_result_parser_takes_anything(data: Any, items: list[tuple[str, str]]) -> None:
    with contextlib.suppress(CarrierBadResponse):  # typed: the callers handle CarrierError
        parse_batch_result(data, items)


@fuzz
@given(couriers | json_values)
def test_courier_list_parser_takes_anything(data: Any) -> None:
    try:
        parsed = parse_couriers(data)
    except CarrierBadResponse:  # typed: the courier directory keeps the names it had
        return
    assert all(courier.code for courier in parsed)


# --- button data, /quiet and /digest times ---------------------------------------------------


@fuzz
@given(st.text(max_size=80) | st.from_regex(r"[a-z]{1,3}:[0-9]{0,14}\n?", fullmatch=True))
def test_callback_data_parser_takes_anything(data: str) -> None:
    pressed = parse(data)
    if pressed is not None:
        assert isinstance(pressed, Pressed) and pack(pressed.action, pressed.number) == data


@fuzz
@given(st.sampled_from(list(Action)), st.integers(min_value=0, max_value=10**12 - 1))
def test_callback_data_round_trips(action: Action, number: int) -> None:
    data = pack(action, number)
    assert parse(data) == Pressed(action, number) and len(data.encode()) <= 64


clocks = st.from_regex(r"\s*[0-9]{1,3}[:.][0-9]{1,3}\s*", fullmatch=True)


@fuzz
@given(clocks | st.text(max_size=30))
def test_digest_clock_parser_takes_anything(text: str) -> None:
    clock = parse_clock(text)
    if clock is not None:
        hours, minutes = clock.split(":")
        assert len(clock) == 5 and 0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59


@fuzz
@given(
    st.tuples(clocks, st.sampled_from(["-", "–", " - ", "—", ""]), clocks).map("".join) | st.text()
)
def test_quiet_window_parser_takes_anything(text: str) -> None:
    window = parse_window(text)
    if window is not None:
        start, end = window
        assert start != end and parse_clock(start) == start and parse_clock(end) == end


# --- webhook bodies: TrackingMore's pushes and Telegram's updates -----------------------------


@fuzz
@given(
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries({"meta": json_values, "data": tracking | st.lists(tracking)}).map(
        lambda value: json.dumps(value).encode()
    )
)
def test_push_body_reader_takes_anything(body: bytes) -> None:
    trackings = _trackings_in(body)
    if trackings is not None:
        assert all(isinstance(item, dict) for item in trackings)
        for item in trackings:
            pushed_identity(item)


SECRET = "push-secret-0123456789"


@fuzz
@given(
    st.none() | st.text(max_size=30) | st.floats().map(str),
    st.none() | st.text(max_size=80) | st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True),
    st.binary(max_size=200),
)
def test_push_signature_check_takes_anything(
    timestamp: str | None, signature: str | None, body: bytes
) -> None:
    assert PushGuard(SECRET).check(timestamp, signature, body, now=1_800_000_000.0) in Verdict


@fuzz
@given(st.floats(min_value=-300, max_value=300), st.binary(max_size=200), st.booleans())
def test_a_signed_push_is_accepted_once(skew: float, body: bytes, upper: bool) -> None:
    now = 1_800_000_000.0
    timestamp = str(int(now + skew))
    signature = signature_of(timestamp, SECRET)
    signature = signature.upper() if upper else signature
    guard = PushGuard(SECRET)
    assert guard.check(timestamp, signature, body, now=now) == Verdict.ACCEPTED
    assert guard.check(timestamp, signature, body, now=now) == Verdict.REPLAYED


@fuzz
@given(
    st.integers(min_value=0, max_value=2**31),
    st.dictionaries(
        st.sampled_from(["message", "edited_message", "callback_query", "my_chat_member", "x"]),
        json_values,
        max_size=2,
    ),
)
def test_telegram_update_reader_takes_anything(update_id: int, body: dict[str, Any]) -> None:
    update = {"update_id": update_id, **body}
    assert readable_update(update) in (update, {"update_id": update_id})
