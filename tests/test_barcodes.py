"""Reading barcodes out of pictures (bot.imaging.barcodes, on images zxing-cpp itself wrote)
and sorting the values into tracking codes, candidates and junk (bot.core.scanned)."""

from __future__ import annotations

import time

import pytest
from labels import Format, barcode, gtin, huge_png_header, jpeg, label, png, spoil
from PIL import Image
from telegram import InlineKeyboardMarkup, PhotoSize

from bot.core.scanned import ScannedCode, Verdict, is_gtin, read_value, sort_codes
from bot.handlers.photos import name_in, pick_photo_size
from bot.imaging.barcodes import (
    MAX_DECODE_PIXELS,
    Problem,
    UnreadableImage,
    read_barcodes,
)
from bot.texts.i18n import Translator
from bot.texts.photo_offer import offer, offered_codes, without_button

S10, OTHER_S10, POSTE = "RR123456785IT", "EE123456785IT", "123456789013"  # no GTIN
EAN = gtin("800123456789")


def texts(data: bytes) -> list[str]:
    return [reading.text for reading in read_barcodes(data)]


# --- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "product", "expected"),
    [
        (S10, False, [ScannedCode(S10, Verdict.TRACKING)]),
        ("rr-123456785-it", False, [ScannedCode(S10, Verdict.TRACKING)]),
        ("RR123456784IT", False, []),  # wrong check digit: not a code at all
        (POSTE, False, [ScannedCode(POSTE, Verdict.TRACKING)]),
        (EAN, True, [ScannedCode(EAN, Verdict.CANDIDATE)]),
        (EAN, False, [ScannedCode(EAN, Verdict.TRACKING)]),  # in Code 128: a Poste code
        (POSTE, True, [ScannedCode(POSTE, Verdict.TRACKING)]),  # in ITF, no GTIN check digit
        ("1Z999AA10123456784", False, [ScannedCode("1Z999AA10123456784", Verdict.CANDIDATE)]),
        ("96385074", True, []),  # an EAN-8: too short to be anything
        ("12345", False, []),
        (
            f"https://www.poste.it/cerca/#/risultati/{S10}?x=1",
            False,
            [ScannedCode(S10, "tracking")],
        ),
        ("https://example.com/product/1234567890123", False, []),
        ("Hello world 1234567890 and more", False, []),
        (
            f"spedizioni {S10}, {OTHER_S10} e {S10}",
            False,
            [ScannedCode(S10, "tracking"), ScannedCode(OTHER_S10, "tracking")],
        ),
        (f"X{S10}", False, [ScannedCode(f"X{S10}", Verdict.CANDIDATE)]),  # another courier's?
        (f"ref X{S10} here", False, []),  # glued to other letters in a text: not clearly one
        ("", False, []),
    ],
)
def test_values_are_sorted_into_codes_candidates_and_junk(
    value: str, product: bool, expected: list[ScannedCode]
) -> None:
    assert read_value(value, product_symbology=product) == expected


def test_several_values_keep_their_order_once_each() -> None:
    values = [(S10, False), (EAN, True), (S10, False), (OTHER_S10, False), (EAN, True)]
    assert sort_codes(values) == ([S10, OTHER_S10], [EAN])
    # A candidate that another barcode holds as a tracking code is not offered too.
    assert sort_codes([(POSTE, True), (gtin("12345678901"), True), (POSTE, False)]) == (
        [POSTE],
        [gtin("12345678901")],
    )


def test_gtin_check_digits() -> None:
    assert is_gtin("4006381333931") and is_gtin("96385074") and is_gtin(gtin("1234567890123"))
    assert not is_gtin("4006381333932") and not is_gtin("400638133393") and not is_gtin("x" * 13)


# --- reading pictures ------------------------------------------------------------------------


def test_a_clean_code_128() -> None:
    assert texts(png(barcode(S10))) == [S10]


def test_a_photographed_label_turned_shrunk_blurred_and_compressed() -> None:
    picture = label(barcode(S10), barcode(POSTE))
    for angle, scale, blur in ((17, 0.6, 0.8), (90, 0.6, 0.0), (-6, 0.7, 1.0), (183, 0.8, 0.5)):
        data = jpeg(spoil(picture, angle=angle, scale=scale, blur=blur), quality=55)
        assert sorted(texts(data)) == sorted([S10, POSTE]), (angle, scale, blur)


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        (Format.Code39, "AB12345678"),
        (Format.DataMatrix, S10),
        (Format.PDF417, S10),
        (Format.QRCode, f"https://example.com/t/{S10}"),
        (Format.ITF, "12345678901231"),
    ],
)
def test_every_symbology_is_read(fmt: Format, value: str) -> None:
    data = jpeg(spoil(label(barcode(value, fmt)), angle=4, scale=0.8), quality=70)
    assert texts(data) == [value]


def test_a_product_barcode_is_marked_as_one() -> None:
    [reading] = read_barcodes(png(label(barcode(EAN, Format.EAN13))))
    assert (reading.text, reading.symbology, reading.product) == (EAN, "EAN-13", True)
    [code128] = read_barcodes(png(barcode(EAN)))
    assert not code128.product


def test_a_qr_code_at_full_capacity_is_read_and_its_code_found() -> None:
    text = "Ordine 4711 " + "x" * 1400 + f" {S10} " + "y" * 1400
    picture = label(barcode(text.encode(), Format.QRCode, scale=2), size=(1000, 900))
    [reading] = read_barcodes(jpeg(spoil(picture, angle=3, scale=0.9), quality=85))
    assert len(reading.text) == len(text)
    assert sort_codes([(reading.text, reading.product)]) == ([S10], [])


def test_a_picture_without_barcodes_reads_nothing() -> None:
    assert texts(jpeg(label(lines=("Nessun codice qui", "Solo testo")))) == []


def test_a_transparent_background_is_read_as_white() -> None:
    bars = barcode(S10).convert("L")
    rgba = Image.new("RGBA", bars.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(bars, lambda v: 255 - v))  # black bars, transparent gaps
    assert texts(png(rgba)) == [S10]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.4 not a picture at all",
        b"\xff\xd8\xff\xe0 a JPEG's start and nothing else",
        jpeg(label(barcode(S10)))[:2000],  # cut short
    ],
)
def test_what_is_not_a_picture_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImage) as refused:
        read_barcodes(data)
    assert refused.value.problem is Problem.NOT_AN_IMAGE


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(UnreadableImage) as refused:
        read_barcodes(huge_png_header(12_000, 10_000))
    assert (refused.value.problem, refused.value.pixels) == (Problem.TOO_MANY_PIXELS, 120_000_000)


def test_a_twenty_megapixel_screenshot_is_scaled_down_and_read_quickly() -> None:
    screen = Image.new("L", (5472, 3648), 255)
    screen.paste(label(barcode(S10)), (2600, 1900))
    assert screen.width * screen.height > MAX_DECODE_PIXELS
    for data in (png(screen), jpeg(screen, quality=85)):
        started = time.perf_counter()
        assert texts(data) == [S10]
        assert time.perf_counter() - started < 5


# --- the Telegram side's pure parts ----------------------------------------------------------


def test_the_photo_size_read_is_the_largest_up_to_1600_pixels() -> None:
    def size(side: int) -> PhotoSize:
        return PhotoSize(f"id{side}", f"u{side}", side, side * 3 // 4)

    assert pick_photo_size([size(90), size(320), size(800), size(1280), size(2560)]).width == 1280
    assert pick_photo_size([size(90), size(320)]).width == 320
    assert pick_photo_size([size(2560), size(2000)]).width == 2000


def test_the_offer_is_read_back_from_its_own_text() -> None:
    t = Translator("en")
    codes = [EAN, "1Z999AA10123456784"]
    text, keyboard = offer(t, codes)
    assert offered_codes(text) == codes
    # As Telegram hands it back: the text without the markup.
    plain = text.replace("<code>", "").replace("</code>", "")
    assert offered_codes(plain) == codes
    data = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert data == ["pf:0", "pf:1", "pi:0"]
    assert all(len(str(d).encode()) <= 64 for d in data)
    left = without_button(keyboard, "pf:0")
    assert isinstance(left, InlineKeyboardMarkup)
    assert [b.callback_data for row in left.inline_keyboard for b in row] == ["pf:1", "pi:0"]
    assert without_button(left, "pf:1") is None
    assert offered_codes("✅ Now tracking RR123456785IT\n1. nothing") == []
    assert offered_codes("2. 4006381333931") == []  # lines must count from 1


def test_the_name_is_the_caption_after_track() -> None:
    from telegram import Chat, Message

    def message(caption: str | None = None, text: str | None = None) -> Message:
        return Message(1, None, Chat(1, "private"), caption=caption, text=text)  # type: ignore[arg-type]

    assert name_in(message(caption="/track  Scarpe\nrosse")) == "Scarpe rosse"
    assert name_in(message(caption="/track@postino_bot Libri")) == "Libri"
    assert name_in(message(caption="Regalo di Ada")) == "Regalo di Ada"
    assert name_in(message(text="/track")) == ""
    assert name_in(message()) == ""
