import pytest
from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.parsing import HOSTILE
from bot.core.codes import (
    DEFAULT_COURIER,
    MAX_LABEL_LENGTH,
    MAX_REJECTED_TEXT_LENGTH,
    CodeKind,
    Entry,
    Refusal,
    Rejected,
    classify,
    clean_label,
    is_valid_courier,
    normalize,
    normalize_courier,
    s10_check_digit,
)
from bot.core.message_codes import (
    EXTRA_LINES_EXAMINED,
    ParsedCodes,
    parse_message,
    parse_track_args,
)

VALID_S10 = "RR123456785IT"
WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
EMPTY = ParsedCodes(entries=(), rejected=(), overflow=0)


def reference_check_digit(serial: str) -> int:
    """The UPU S10 formula, written out independently of the module."""
    total = 0
    for position, digit in enumerate(serial):
        total += int(digit) * WEIGHTS[position]
    check = 11 - (total % 11)
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def s10(serial: str, prefix: str = "RR", country: str = "IT") -> str:
    return f"{prefix}{serial}{reference_check_digit(serial)}{country}"


def with_wrong_check_digit(code: str) -> str:
    wrong = (int(code[10]) + 1) % 10
    return f"{code[:10]}{wrong}{code[11:]}"


def parse(text: str, max_codes: int = 20) -> ParsedCodes:
    return parse_message(text, max_codes=max_codes)


def codes_of(result: ParsedCodes) -> list[str]:
    return [entry.code for entry in result.entries]


def entry(code: str, label: str | None = None, courier: str = DEFAULT_COURIER) -> Entry:
    return Entry(code=code, courier=courier, label=label)


# --- normalize -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("rr123456785it", "RR123456785IT"),
        (" RR 123 456 785 IT ", "RR123456785IT"),
        ("RR-123-456-785-IT", "RR123456785IT"),
        ("RR\u2010123\u2011456\u2012785\u2013I\u2014T\u2212", "RR123456785IT"),
        ("RR\t123\u00a0456\u2003785\u3000IT", "RR123456785IT"),
        ("\ufeffRR\u200b123\u200c456\u200d785\u2060I\u00adT", "RR123456785IT"),
        ("ＲＲ１２３４５６７８５ＩＴ", "RR123456785IT"),
        ("rr.123", "RR.123"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@given(st.text())
@settings(max_examples=examples(300), deadline=None)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_normalize_is_idempotent_when_dropping_lets_characters_compose() -> None:
    # "e", zero-width space, combining acute: NFKC only composes once the space is gone.
    text = "e\u200b\u0301"
    assert normalize(text) == "É"
    assert normalize(normalize(text)) == normalize(text)


# --- S10 check digit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("12345678", 5),  # S = 204, 204 mod 11 = 6, C = 5
        ("47312482", 9),  # S = 200, 200 mod 11 = 2, C = 9
        ("00000000", 5),  # S = 0, C = 11 -> 5
        ("00000101", 0),  # S = 12, 12 mod 11 = 1, C = 10 -> 0
        ("00000001", 4),  # S = 7, C = 4
        ("99999999", 5),  # S = 396 = 36 * 11, C = 11 -> 5
    ],
)
def test_s10_check_digit_examples(serial: str, expected: int) -> None:
    assert reference_check_digit(serial) == expected
    assert s10_check_digit(serial) == expected


@given(st.from_regex(r"[0-9]{8}", fullmatch=True))
@settings(max_examples=examples(200), deadline=None)
def test_s10_check_digit_matches_the_formula(serial: str) -> None:
    assert s10_check_digit(serial) == reference_check_digit(serial)


@pytest.mark.parametrize("serial", ["1234567", "123456789", "1234567a", "１２３４５６７８", ""])
def test_s10_check_digit_rejects_bad_serials(serial: str) -> None:
    with pytest.raises(ValueError):
        s10_check_digit(serial)


@pytest.mark.parametrize(
    "code",
    ["RR123456785IT", "EE123456785IT", "AA473124829GB", "CP000000005DE", "LX000001010CN"],
)
def test_valid_s10_codes(code: str) -> None:
    assert classify(code) is CodeKind.S10


def test_every_wrong_check_digit_is_refused() -> None:
    for code in ["RR123456785IT", "AA473124829GB", "LX000001010CN"]:
        for digit in "0123456789":
            if digit == code[10]:
                continue
            assert classify(code[:10] + digit + code[11:]) is Refusal.BAD_CHECK_DIGIT


def test_every_single_wrong_serial_digit_is_refused() -> None:
    code = "AA473124829GB"
    for position in range(2, 10):
        for digit in "0123456789":
            if digit == code[position]:
                continue
            typo = code[:position] + digit + code[position + 1 :]
            assert classify(typo) is Refusal.BAD_CHECK_DIGIT, typo


def test_single_serial_typos_are_caught_exactly_when_the_formula_says_so() -> None:
    # Sums ≡ 0 and ≡ 6 (mod 11) both give check digit 5, so a few typos in codes ending in 5
    # go unnoticed: that is the UPU formula, not a bug.
    code = VALID_S10
    missed = 0
    for position in range(2, 10):
        for digit in "0123456789":
            if digit == code[position]:
                continue
            typo = code[:position] + digit + code[position + 1 :]
            still_valid = reference_check_digit(typo[2:10]) == int(typo[10])
            missed += still_valid
            assert classify(typo) is (CodeKind.S10 if still_valid else Refusal.BAD_CHECK_DIGIT)
    assert missed > 0


@given(
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.integers(min_value=1, max_value=9),
)
@settings(max_examples=examples(200), deadline=None)
def test_changing_the_check_digit_always_refuses(
    prefix: str, serial: str, country: str, shift: int
) -> None:
    code = s10(serial, prefix, country)
    assert classify(code) is CodeKind.S10
    wrong = (int(code[10]) + shift) % 10
    typo = f"{code[:10]}{wrong}{code[11:]}"
    assert classify(typo) is Refusal.BAD_CHECK_DIGIT
    assert parse(typo).rejected == (Rejected(typo, Refusal.BAD_CHECK_DIGIT),)


# --- classify ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("rr 123 456 785 it", CodeKind.S10),
        ("RR123456780IT", Refusal.BAD_CHECK_DIGIT),  # S10 shape: never falls back to ALNUM
        ("123456789012", CodeKind.NUMERIC),
        ("1234567890123456", CodeKind.NUMERIC),
        ("1234 5678 9012", CodeKind.NUMERIC),
        ("12345678901", CodeKind.ALNUM),  # 11 digits: other couriers
        ("9104223295", CodeKind.ALNUM),  # 10 digits: DHL
        ("12345678901234567", CodeKind.ALNUM),  # 17 digits
        ("92612903029511573030094547", CodeKind.ALNUM),  # USPS
        ("123456789", Refusal.NOT_A_CODE),
        ("3UW1CEG000511", CodeKind.ALNUM),
        ("2IMA0012812428", CodeKind.ALNUM),
        ("1ZE2X0010390526665", CodeKind.ALNUM),
        ("3uw1-ceg-000511", CodeKind.ALNUM),
        ("ABCDEF1234", CodeKind.ALNUM),  # 10 characters
        ("ABCDEF123", Refusal.NOT_A_CODE),  # 9 characters
        ("ABCDEFG123", Refusal.NOT_A_CODE),  # 10 characters, 3 digits
        ("A" * 26 + "1234", CodeKind.ALNUM),  # 30 characters
        ("A" * 27 + "1234", Refusal.NOT_A_CODE),  # 31 characters
        ("1" * 30, CodeKind.ALNUM),
        ("1" * 31, Refusal.NOT_A_CODE),
        ("RR123456785IT📦", Refusal.NOT_A_CODE),
        ("📦📦📦📦📦📦📦📦📦📦", Refusal.NOT_A_CODE),
        ("RR.123.456.785.IT", Refusal.NOT_A_CODE),
        ("RR_123456785_IT", Refusal.NOT_A_CODE),
        ("١٢٣٤٥٦٧٨٩٠١٢", Refusal.NOT_A_CODE),  # Arabic-Indic digits are not ASCII after NFKC
        ("", Refusal.NOT_A_CODE),
        ("ciao come stai", Refusal.NOT_A_CODE),
    ],
)
def test_classify(raw: str, expected: CodeKind | Refusal) -> None:
    assert classify(raw) is expected


@given(
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.lists(
        st.lists(st.sampled_from([" ", "-", "\u2013", "\u00a0", "\u200b", "\u200d", "\ufeff"])),
        min_size=12,
        max_size=12,
    ),
)
@settings(max_examples=examples(200), deadline=None)
def test_s10_code_survives_separators_between_its_characters(
    prefix: str, serial: str, country: str, separators: list[list[str]]
) -> None:
    code = s10(serial, prefix, country)
    gaps = ["".join(separator) for separator in separators]
    written = code[0] + "".join(gap + char for gap, char in zip(gaps, code[1:], strict=True))
    assert normalize(written) == code
    assert classify(written) is CodeKind.S10
    assert codes_of(parse(written.lower() + " etichetta")) == [code]


# --- couriers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("courier", "valid"),
    [
        ("poste-italiane", True),
        ("italy-sda", True),
        ("DHL", True),
        (" ups ", True),
        ("a1", True),
        ("a", False),
        ("-dhl", False),
        ("dhl!", False),
        ("dh l", False),
        ("", False),
        ("a" * 50, True),
        ("a" * 51, False),
        ("poste_italiane", False),
        ("dhl\n", True),
    ],
)
def test_is_valid_courier(courier: str, valid: bool) -> None:
    assert is_valid_courier(courier) is valid


def test_normalize_courier() -> None:
    assert normalize_courier(" Italy-SDA ") == "italy-sda"


# --- clean_label ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Mario   Rossi ", ("Mario Rossi", False)),
        ("Mario\tRossi\u00a0\u2028jr", ("Mario Rossi jr", False)),
        ("\u200bMa\u200crio\x00\x07 \u202eRossi\ufeff", ("Mario Rossi", False)),
        ("regalo \ud800ok", ("regalo ok", False)),
        ("👨\u200d👩\u200d👧 famiglia", ("👨\u200d👩\u200d👧 famiglia", False)),
        ("\u200d \u200d", (None, False)),
        ("", (None, False)),
        ("   ", (None, False)),
        ("\u200b\x01", (None, False)),
        ("a" * MAX_LABEL_LENGTH, ("a" * MAX_LABEL_LENGTH, False)),
        ("a" * (MAX_LABEL_LENGTH + 1), ("a" * (MAX_LABEL_LENGTH - 1) + "…", True)),
        ("a" * 78 + " " + "b" * 10, ("a" * 78 + "…", True)),  # no space before the "…"
    ],
)
def test_clean_label(raw: str, expected: tuple[str | None, bool]) -> None:
    assert clean_label(raw) == expected


@given(st.text())
@settings(max_examples=examples(200), deadline=None)
def test_clean_label_is_short_single_line_text(raw: str) -> None:
    label, truncated = clean_label(raw)
    assert label is None or (0 < len(label) <= MAX_LABEL_LENGTH and label == label.strip())
    assert label is None or all(not char.isspace() or char == " " for char in label)
    if truncated:
        assert label is not None
        assert label.endswith("…")
    if label is not None:
        label.encode()  # no lone surrogates


# --- parse_message: single lines -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RR123456785IT", entry(VALID_S10)),
        ("RR123456785IT Mario Rossi", entry(VALID_S10, "Mario Rossi")),
        ("rr123456785it   regalo  di  Anna ", entry(VALID_S10, "regalo di Anna")),
        ("rr 123 456 785 it Mario", entry(VALID_S10, "Mario")),
        ("RR-123-456-785-IT Mario", entry(VALID_S10, "Mario")),
        ("RR 123456785 IT", entry(VALID_S10)),
        ("RR123456785IT, scarpe", entry(VALID_S10, "scarpe")),
        ("RR123456785IT; scarpe", entry(VALID_S10, "scarpe")),
        ("RR123456785IT: scarpe", entry(VALID_S10, "scarpe")),
        ("RR123456785IT - scarpe", entry(VALID_S10, "scarpe")),
        ("- RR123456785IT scarpe", entry(VALID_S10, "scarpe")),
        ("• RR123456785IT", entry(VALID_S10)),
        ("* RR123456785IT", entry(VALID_S10)),
        ("> RR123456785IT", entry(VALID_S10)),
        ("1. RR123456785IT", entry(VALID_S10)),
        ("12) RR123456785IT", entry(VALID_S10)),
        ("  > - RR123456785IT", entry(VALID_S10)),
        ("ＲＲ１２３４５６７８５ＩＴ", entry(VALID_S10)),
        ("\u200bRR123456785IT\u200b", entry(VALID_S10)),
        ("123456789012", entry("123456789012")),
        ("1234 5678 9012", entry("123456789012")),
        ("1234-5678-9012 ordine", entry("123456789012", "ordine")),
        ("1234 5678 9012 ordine 55", entry("123456789012", "ordine 55")),
        ("1234 - 5678 - 9012 - 3456", entry("1234567890123456")),
        ("123456789012 2024", entry("123456789012", "2024")),  # a whole code is not a group
        ("1234 5678 9012 55", entry("12345678901255")),  # a short number is a last group
        ("1234 5678 9012, 3456", entry("123456789012", "3456")),
        ("3UW1CEG000511 scarpe", entry("3UW1CEG000511", "scarpe")),
        ("3uw1-ceg-000511 scarpe", entry("3UW1CEG000511", "scarpe")),
        ("9104223295 dhl", entry("9104223295", "dhl")),
        ("1) 1ZE2X0010390526665", entry("1ZE2X0010390526665")),
        ("92612903029511573030094547", entry("92612903029511573030094547")),
    ],
)
def test_parse_message_reads_a_code_at_the_start_of_a_line(text: str, expected: Entry) -> None:
    assert parse(text) == ParsedCodes(entries=(expected,), rejected=(), overflow=0)


@pytest.mark.parametrize(
    "text",
    [
        "ciao come stai",
        "grazie!",
        "AB12CD",
        "12345",
        "il pacco RR123456785IT è arrivato?",  # a code must start the line
        "3UW1 CEG000511",  # the generic rule takes a single token only
        "1234567 89012",  # digit groups are at most 6 digits long
        "📦📦📦",
        "-",
        "1.",
        "\u200b",
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni",
    ],
)
def test_parse_message_ignores_chat(text: str) -> None:
    assert parse(text) == EMPTY


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ("RR123456780IT", Rejected("RR123456780IT", Refusal.BAD_CHECK_DIGIT)),
        ("rr 123 456 780 it Mario", Rejected("rr 123 456 780 it", Refusal.BAD_CHECK_DIGIT)),
        ("- RR123456780IT, regalo", Rejected("RR123456780IT", Refusal.BAD_CHECK_DIGIT)),
        (
            "XX1234567890123456789012345678901",
            Rejected("XX1234567890123456789012345678901", Refusal.NOT_A_CODE),
        ),
        ("RR123-456/78", Rejected("RR123-456/78", Refusal.NOT_A_CODE)),
        ("RR123456785IT.", Rejected("RR123456785IT.", Refusal.NOT_A_CODE)),
        ("RR123456785IT courier=bad!", Rejected("courier=bad!", Refusal.BAD_COURIER)),
        ("RR123456785IT courier=", Rejected("courier=", Refusal.BAD_COURIER)),
        ("RR123456785IT courier=x", Rejected("courier=x", Refusal.BAD_COURIER)),
    ],
)
def test_parse_message_rejects(text: str, rejected: Rejected) -> None:
    assert parse(text) == ParsedCodes(entries=(), rejected=(rejected,), overflow=0)


def test_rejected_text_is_cut_to_40_characters() -> None:
    result = parse("7" * 100)
    [rejected] = result.rejected
    assert rejected == Rejected("7" * (MAX_REJECTED_TEXT_LENGTH - 1) + "…", Refusal.NOT_A_CODE)


def test_s10_reading_wins_over_the_single_token_reading() -> None:
    # "AB12345678" alone would be a generic code, but with "9CD" it is a mistyped S10 code.
    result = parse("AB12345678 9CD")
    assert result.rejected == (Rejected("AB12345678 9CD", Refusal.BAD_CHECK_DIGIT),)


def test_courier_override() -> None:
    result = parse("RR123456785IT courier=Italy-SDA regalo\n3UW1CEG000511 scarpe courier=brt")
    assert result.entries == (
        entry(VALID_S10, "regalo", courier="italy-sda"),
        entry("3UW1CEG000511", "scarpe", courier="brt"),
    )


def test_last_courier_option_wins() -> None:
    [only] = parse("3UW1CEG000511 courier=brt courier=gls-italy").entries
    assert only.courier == "gls-italy"
    assert only.label is None


def test_courier_option_is_case_insensitive_and_needs_its_own_token() -> None:
    assert parse("3UW1CEG000511 COURIER=BRT").entries == (entry("3UW1CEG000511", courier="brt"),)
    assert parse("3UW1CEG000511 xcourier=brt").entries == (entry("3UW1CEG000511", "xcourier=brt"),)


def test_default_courier() -> None:
    result = parse_message("RR123456785IT", max_codes=5, default_courier="Italy-SDA")
    assert result.entries == (entry(VALID_S10, courier="italy-sda"),)


@pytest.mark.parametrize("courier", ["", "x", "bad courier"])
def test_invalid_default_courier_is_a_programming_error(courier: str) -> None:
    with pytest.raises(ValueError):
        parse_message("RR123456785IT", max_codes=5, default_courier=courier)


def test_negative_max_codes_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_message("RR123456785IT", max_codes=-1)


def test_long_label_is_truncated() -> None:
    [only] = parse("RR123456785IT " + "lungo " * 100).entries
    assert only.label is not None
    assert len(only.label) == MAX_LABEL_LENGTH
    assert only.label.endswith("…")
    assert only.label_truncated


# --- parse_message: whole messages ---------------------------------------------------------


def test_several_lines() -> None:
    text = (
        "Ciao! ecco i codici:\n"
        "\n"
        "- RR123456785IT scarpe\n"
        "• 1234 5678 9012 libri\r\n"
        "3) 3UW1CEG000511\n"
        "RR123456780IT\n"
        "grazie mille\n"
        "   \n"
        "AA473124829GB courier=nope!\n"
    )
    assert parse(text) == ParsedCodes(
        entries=(
            entry(VALID_S10, "scarpe"),
            entry("123456789012", "libri"),
            entry("3UW1CEG000511"),
        ),
        rejected=(
            Rejected("RR123456780IT", Refusal.BAD_CHECK_DIGIT),
            Rejected("courier=nope!", Refusal.BAD_COURIER),
        ),
        overflow=0,
    )


def test_duplicates_keep_the_first() -> None:
    text = "RR123456785IT primo\nrr 123 456 785 it secondo\nRR-123456785-IT terzo"
    assert parse(text).entries == (entry(VALID_S10, "primo"),)


def test_same_code_with_another_courier_is_not_a_duplicate() -> None:
    result = parse("3UW1CEG000511\n3UW1CEG000511 courier=brt\n3UW1CEG000511 courier=BRT")
    assert result.entries == (entry("3UW1CEG000511"), entry("3UW1CEG000511", courier="brt"))


def test_identical_rejections_are_reported_once() -> None:
    result = parse("RR123456780IT\nRR123456780IT\nrr123456780it")
    assert result.rejected == (
        Rejected("RR123456780IT", Refusal.BAD_CHECK_DIGIT),
        Rejected("rr123456780it", Refusal.BAD_CHECK_DIGIT),
    )


def test_max_codes_overflow_with_500_codes() -> None:
    codes = [s10(f"{number:08d}") for number in range(500)]
    result = parse_message("\n".join(codes), max_codes=20)
    assert codes_of(result) == codes[:20]
    assert result.overflow == 480
    assert result.rejected == ()


def test_overflow_does_not_count_duplicates_in_examined_lines() -> None:
    codes = [s10(f"{number:08d}") for number in range(5)]
    result = parse_message("\n".join(codes + codes), max_codes=2)
    assert codes_of(result) == codes[:2]
    assert result.overflow == 3


def test_lines_past_the_examined_ones_are_only_counted() -> None:
    max_codes = 3
    chat = ["chat"] * (max_codes + EXTRA_LINES_EXAMINED)
    late = [VALID_S10, "RR123456780IT", "XX1234567890123456789012345678901", "ciao", VALID_S10]
    result = parse_message("\n".join(chat + late), max_codes=max_codes)
    assert result == ParsedCodes(entries=(), rejected=(), overflow=2)


def test_zero_max_codes_counts_everything_as_overflow() -> None:
    assert parse_message("RR123456785IT\n3UW1CEG000511", max_codes=0) == ParsedCodes((), (), 2)


def test_a_full_4096_character_message_is_read() -> None:
    lines = [f"{s10(f'{number:08d}')} pacco numero {number:04d}" for number in range(128)]
    text = "\n".join(lines)
    assert len(text) <= 4096
    result = parse_message(text, max_codes=50)
    assert len(result.entries) == 50
    assert result.entries[0].label == "pacco numero 0000"
    assert result.overflow == 128 - 50


@pytest.mark.parametrize("text", HOSTILE)
def test_5000_character_messages_are_read_whole(text: str) -> None:
    # How long they take is a benchmark row (`python -m bench --only parsing`), not a test.
    result = parse_message(text, max_codes=50)
    assert len(result.entries) <= 50


def test_huge_message_counts_what_it_does_not_take() -> None:
    text = "\n".join(f"{s10(f'{number:08d}')} label {number}" for number in range(20_000))
    result = parse_message(text, max_codes=50)
    assert len(result.entries) == 50
    assert result.overflow == 20_000 - 50


# --- parse_track_args ----------------------------------------------------------------------


def test_track_args_empty() -> None:
    assert parse_track_args("", max_codes=5) == EMPTY
    assert parse_track_args("  \n \n", max_codes=5) == EMPTY


def test_track_args_code_label_courier() -> None:
    assert parse_track_args("RR123456785IT Mario", max_codes=5).entries == (
        entry(VALID_S10, "Mario"),
    )
    assert parse_track_args("RR123456785IT courier=italy-sda", max_codes=5).entries == (
        entry(VALID_S10, courier="italy-sda"),
    )


def test_track_args_rejects_what_is_not_a_code() -> None:
    result = parse_track_args("ciao RR123456785IT\nAB12CD\n3UW1CEG000511 ok\n📦", max_codes=5)
    assert result == ParsedCodes(
        entries=(entry("3UW1CEG000511", "ok"),),
        rejected=(
            Rejected("ciao", Refusal.NOT_A_CODE),
            Rejected("AB12CD", Refusal.NOT_A_CODE),
            Rejected("📦", Refusal.NOT_A_CODE),
        ),
        overflow=0,
    )


def test_track_args_several_codes() -> None:
    result = parse_track_args("RR123456785IT\n1234 5678 9012\nRR123456780IT", max_codes=1)
    assert result == ParsedCodes(
        entries=(entry(VALID_S10),),
        rejected=(Rejected("RR123456780IT", Refusal.BAD_CHECK_DIGIT),),
        overflow=1,
    )


# --- properties ----------------------------------------------------------------------------

valid_codes = st.one_of(
    st.from_regex(r"[0-9]{8}", fullmatch=True).map(s10),
    st.from_regex(r"[0-9]{12,16}", fullmatch=True),
    st.from_regex(r"[A-Z0-9]{10,30}", fullmatch=True).filter(
        lambda code: isinstance(classify(code), CodeKind)
    ),
)
code_like_text = st.lists(
    st.one_of(
        st.sampled_from(list("RrIT0123456789  -–,;:*>•.)\u200b\u200d\t")),
        st.just("courier="),
        st.characters(),
        st.characters(categories=["Cs", "Cf", "Zl", "Zp", "Cc"]),
    ),
    max_size=40,
).map("".join)
message_lines = st.one_of(
    code_like_text,
    st.tuples(valid_codes, code_like_text).map(" ".join),
    st.tuples(st.sampled_from(["- ", "1) ", "> ", ""]), valid_codes).map("".join),
)
messages = st.lists(message_lines, max_size=30).map(lambda lines: "\n".join(lines)) | st.text(
    max_size=300
)


def check_parsed(result: ParsedCodes, max_codes: int) -> None:
    assert len(result.entries) <= max_codes
    assert result.overflow >= 0
    for item in result.entries:
        assert isinstance(classify(item.code), CodeKind)
        assert normalize(item.code) == item.code
        assert is_valid_courier(item.courier)
        assert item.label is None or 0 < len(item.label) <= MAX_LABEL_LENGTH
        assert item.label is None or not any(char in item.label for char in "\n\r\u2028\x85")
        if item.label_truncated:
            assert item.label is not None
            assert item.label.endswith("…")
    for rejection in result.rejected:
        assert 0 < len(rejection.text) <= MAX_REJECTED_TEXT_LENGTH
        rejection.text.encode()
    keys = [(item.courier, item.code) for item in result.entries]
    assert len(keys) == len(set(keys))


@given(messages, st.integers(min_value=0, max_value=10))
@settings(max_examples=examples(300), deadline=None)
def test_parse_message_properties(text: str, max_codes: int) -> None:
    check_parsed(parse_message(text, max_codes=max_codes), max_codes)


@given(messages, st.integers(min_value=0, max_value=10))
@settings(max_examples=examples(200), deadline=None)
def test_parse_track_args_properties(text: str, max_codes: int) -> None:
    check_parsed(parse_track_args(text, max_codes=max_codes), max_codes)


@given(st.lists(valid_codes, min_size=1, max_size=40), st.integers(min_value=0, max_value=40))
@settings(max_examples=examples(100), deadline=None)
def test_every_code_line_is_kept_or_counted(codes: list[str], max_codes: int) -> None:
    result = parse_message("\n".join(codes), max_codes=max_codes)
    distinct = list(dict.fromkeys(codes))
    assert codes_of(result) == distinct[:max_codes]
    assert result.overflow == max(0, len(distinct) - max_codes)
