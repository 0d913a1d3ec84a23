"""A photo of the label is enough: the bot reads the barcodes in a picture (zxing-cpp, on
pictures its own writer drew) and follows the tracking codes as if typed; product codes are
offered with buttons; what is not a picture, or too big, is refused with a clear answer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from labels import Format, barcode, gtin, huge_png_header, jpeg, label, png, spoil
from PIL import Image

pytestmark = pytest.mark.e2e

S10, OTHER, THIRD, QR_CODE = "RR123456785IT", "EE123456785IT", "CP123456785IT", "LX123456785IT"
POSTE = "123456789013"
EAN, EAN2 = gtin("800123456789"), gtin("400638133393")
ALICE, BOB = 1001, 1002
GROUP, CHANNEL = -1001234, -1009999
COURIER = "poste-italiane"


def next_answer(fake_tg: FakeTelegram, chat: int, send: Any) -> dict[str, Any]:
    """Do `send()` and return the bot's next sendMessage to `chat`."""
    before = len(fake_tg.texts(chat))
    send()
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def photo(fake_tg: FakeTelegram, chat: int, image: bytes, **kwargs: Any) -> dict[str, Any]:
    return next_answer(fake_tg, chat, lambda: fake_tg.send_photo(chat, image, **kwargs))


def document(
    fake_tg: FakeTelegram, chat: int, name: str, data: bytes, mime: str, **kwargs: Any
) -> dict[str, Any]:
    return next_answer(
        fake_tg, chat, lambda: fake_tg.send_document(chat, name, data, mime_type=mime, **kwargs)
    )


def press(fake_tg: FakeTelegram, chat: int, message_id: int, data: str) -> str:
    callback = fake_tg.press_button(chat, message_id, data, language_code="en")
    fake_tg.wait_until(lambda f: f.callback_answers(callback), what=f"answer to {data}")
    return str(fake_tg.callback_answers(callback)[0].get("text") or "")


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def registered(fake_tm: FakeTrackingMore) -> list[str]:
    return sorted(number for courier, number in fake_tm.registered() if courier == COURIER)


def quiet_after(fake_tg: FakeTelegram, chat: int, count: int) -> None:
    """`chat` got no more than `count` messages: checked after the bot answered a later
    update elsewhere (updates are handled in order)."""
    next_answer(fake_tg, BOB, lambda: fake_tg.send_text(BOB, "/help"))
    assert len(fake_tg.texts(chat)) == count


@pytest.mark.in_process
def test_photos_in_a_private_chat_are_followed_as_if_typed(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    # A clean code, the caption its name.
    answer = photo(fake_tg, ALICE, png(label(barcode(S10))), caption="Scarpe rosse")
    assert "Now tracking" in answer["text"] and "Scarpe rosse" in answer["text"]
    assert registered(fake_tm) == [S10]

    # A phone photo of a label: turned, shrunk, blurred, compressed, two codes on it.
    spoiled = spoil(label(barcode(OTHER), barcode(POSTE)), angle=14, scale=0.7, blur=0.7)
    answer = photo(fake_tg, ALICE, jpeg(spoiled, quality=55))
    assert OTHER in answer["text"] and POSTE in answer["text"]
    assert registered(fake_tm) == sorted([S10, OTHER, POSTE])

    # The same code twice on one label: followed once (and known already: said so).
    answer = photo(fake_tg, ALICE, png(label(barcode(THIRD), barcode(THIRD, Format.DataMatrix))))
    assert answer["text"].count(f">{THIRD}<") == 1 and answer["text"].count("Now tracking") == 1
    assert registered(fake_tm).count(THIRD) == 1

    # A full QR code whose text holds a code: that code is followed.
    text = "Ordine 4711 " + "x" * 1400 + f" {QR_CODE} " + "y" * 1400
    qr = label(barcode(text.encode(), Format.QRCode, scale=2), size=(1000, 900))
    assert QR_CODE in photo(fake_tg, ALICE, jpeg(qr, quality=85))["text"]

    # No barcode: what to try. A QR code with a web address and no code: none is a code.
    answer = photo(fake_tg, ALICE, jpeg(label(lines=("Solo testo", "nessun codice"))))
    assert "couldn't read a barcode" in answer["text"] and "sharp" in answer["text"]
    url = barcode("https://example.com/shop?item=42", Format.QRCode, scale=4)
    answer = photo(fake_tg, ALICE, png(label(url)))
    assert "isn't a tracking code" in answer["text"] and "example.com" in answer["text"]
    assert registered(fake_tm) == sorted([S10, OTHER, POSTE, THIRD, QR_CODE])

    # A sticker is not a picture to read: the usual hint.
    before = len(fake_tg.texts(ALICE))
    fake_tg.send_sticker(ALICE)
    hint = fake_tg.wait_for_messages(ALICE, before + 1)[before]
    assert "couldn't find a tracking code" in hint["text"]


@pytest.mark.in_process
def test_small_codes_on_a_big_label_are_read_at_the_largest_size(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    """At the 1280 px size the bars of these codes blur together; the bot reads the photo
    once more at the largest size Telegram made, and follows both."""
    bot_factory()
    big = label(barcode(S10, scale=1), barcode(OTHER, scale=1), size=(2400, 1800))
    answer = photo(fake_tg, ALICE, jpeg(big, 85))
    assert answer["text"].count("Now tracking") == 2, answer["text"]
    assert registered(fake_tm) == sorted([S10, OTHER])
    downloaded = [c["params"]["file_id"] for c in fake_tg.calls("getFile")]
    assert len(downloaded) == 2  # the usual size, then the largest


@pytest.mark.in_process
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_files_that_are_not_pictures_or_too_big_are_refused_and_big_pictures_bounded(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    # Not a picture, though it says image/jpeg: a clear refusal.
    answer = document(fake_tg, ALICE, "label.jpg", b"%PDF-1.4 nope" * 50, "image/jpeg")
    assert "can't open this file as a picture" in answer["text"]
    # Over 10 MB: refused from the size Telegram gives, without downloading it.
    gets = len(fake_tg.calls("getFile"))
    answer = document(fake_tg, ALICE, "scan.png", b"\0" * (11 * 1024 * 1024), "image/png")
    assert "too big" in answer["text"] and "10 MB" in answer["text"]
    assert len(fake_tg.calls("getFile")) == gets
    # A picture whose header claims 120 megapixels: refused before decoding.
    answer = document(fake_tg, ALICE, "bomb.png", huge_png_header(12_000, 10_000), "image/png")
    assert "too big to read (120 megapixels)" in answer["text"]

    # A 20-megapixel screenshot sent as a file: scaled down, read, answered in good time.
    screen = Image.new("L", (5472, 3648), 255)
    screen.paste(label(barcode(S10)), (2600, 1900))
    started = time.monotonic()
    answer = document(fake_tg, ALICE, "screen.png", png(screen), "image/png", caption="Libri")
    assert "Now tracking" in answer["text"] and "Libri" in answer["text"]
    assert time.monotonic() - started < 10
    assert registered(fake_tm) == [S10]

    # A file of codes is still an import.
    answer = document(fake_tg, ALICE, "codes.csv", f"{OTHER};Lampada\n".encode(), "text/csv")
    assert OTHER in answer["text"] and "can't open" not in answer["text"]


def test_the_fake_refuses_to_serve_files_over_20_mb(fake_tg: FakeTelegram) -> None:
    fake_tg.send_document(ALICE, "big.png", b"\0" * (21 * 1024 * 1024), mime_type="image/png")
    [update] = fake_tg.pending_updates()
    file_id = update["message"]["document"]["file_id"]
    request = urllib.request.Request(
        f"{fake_tg.base_url}{fake_tg.token}/getFile",
        data=json.dumps({"file_id": file_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert "file is too big" in refused.value.read().decode()


@pytest.mark.in_process
def test_a_product_code_is_offered_not_followed_until_asked(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    offer = photo(fake_tg, ALICE, png(label(barcode(EAN, Format.EAN13))), caption="Tostapane")
    assert EAN in offer["text"] and "doesn't look like a shipment's" in offer["text"]
    assert buttons(offer) == ["pf:0", "pi:0"]
    assert registered(fake_tm) == []
    offer_id = offer["message_id"]

    # Forged data: a line the offer does not have, or an offer button on another message.
    assert "out of date" in press(fake_tg, ALICE, offer_id, "pf:7")
    assert "out of date" in press(fake_tg, ALICE, offer_id, "pf:01")
    other = next_answer(fake_tg, ALICE, lambda: fake_tg.send_text(ALICE, "/help"))
    assert "out of date" in press(fake_tg, ALICE, other["message_id"], "pf:0")
    assert "out of date" in press(fake_tg, ALICE, other["message_id"], "pi:0")
    assert registered(fake_tm) == []

    # Follow: the usual confirmation, named by the photo's caption; the button goes.
    before = len(fake_tg.texts(ALICE))
    assert press(fake_tg, ALICE, offer_id, "pf:0") == ""
    confirmation = fake_tg.wait_for_messages(ALICE, before + 1)[before]
    assert "Now tracking" in confirmation["text"] and "Tostapane" in confirmation["text"]
    assert registered(fake_tm) == [EAN]
    stored = fake_tg.stored_message(ALICE, offer_id)
    assert stored is not None and buttons(stored) == []

    # Ignore: the offer goes, nothing is followed.
    offer = photo(fake_tg, ALICE, jpeg(spoil(label(barcode(EAN2, Format.EAN13)), angle=8)))
    assert buttons(offer) == ["pf:0", "pi:0"]
    assert press(fake_tg, ALICE, offer["message_id"], "pi:0") == ""
    fake_tg.wait_until(
        lambda f: f.stored_message(ALICE, offer["message_id"]) is None, what="offer deleted"
    )
    assert registered(fake_tm) == [EAN]

    # A tracking code and a product code on one label: one followed, the other offered.
    before = len(fake_tg.texts(ALICE))
    fake_tg.send_photo(ALICE, png(label(barcode(S10), barcode(EAN2, Format.EAN13))))
    followed, offered = fake_tg.wait_for_messages(ALICE, before + 2)[before:]
    assert S10 in followed["text"] and EAN2 in offered["text"]
    assert registered(fake_tm) == sorted([EAN, S10])


@pytest.mark.in_process
def test_in_groups_only_photos_addressed_with_track_are_read(
    bot_factory: BotFactory, fake_tg: FakeTelegram, fake_tm: FakeTrackingMore
) -> None:
    bot_factory()
    group = {"chat_type": "supergroup", "user_id": ALICE, "title": "Negozio"}
    answer = photo(fake_tg, GROUP, png(label(barcode(S10))), caption="/track Ufficio", **group)
    assert "Ora seguo" in answer["text"] and "Ufficio" in answer["text"]  # groups: Italian
    assert registered(fake_tm) == [S10]
    count = len(fake_tg.texts(GROUP))

    # Without the caption, or for another bot: not for us.
    fake_tg.send_photo(GROUP, png(label(barcode(OTHER))), **group)
    fake_tg.send_photo(GROUP, png(label(barcode(OTHER))), caption="/track@otherbot", **group)
    # In a channel: ignored.
    fake_tg.send_photo(CHANNEL, png(label(barcode(THIRD))), chat_type="channel")
    quiet_after(fake_tg, GROUP, count)
    assert len(fake_tg.texts(CHANNEL)) == 0
    assert registered(fake_tm) == [S10]

    # `/track Name` replying to a photo reads that photo.
    pictured = fake_tg.send_photo(GROUP, png(label(barcode(OTHER))), **group)
    replied = pictured["message"]["message_id"]
    answer = next_answer(
        fake_tg,
        GROUP,
        lambda: fake_tg.send_text(
            GROUP, "/track Magazzino", reply_to_message_id=replied, chat_type="supergroup"
        ),
    )
    assert "Ora seguo" in answer["text"] and "Magazzino" in answer["text"]
    name = f"/track@{fake_tg.bot_username} Vetrina"
    answer = photo(fake_tg, GROUP, png(label(barcode(POSTE))), caption=name, **group)
    assert "Vetrina" in answer["text"]
    assert registered(fake_tm) == sorted([S10, OTHER, POSTE])
