"""Reading the barcodes in a picture: bytes in, decoded values out. No Telegram, no I/O.

zxing-cpp does the decoding (every symbology it reads, in any direction); Pillow opens the
file. The work is bounded by the picture's size: over `MAX_IMAGE_PIXELS` it is refused before
its pixels are decoded, over `MAX_DECODE_PIXELS` it is scaled down first (a JPEG straight
away by its decoder, at 1/2, 1/4 or 1/8). zxing-cpp releases the GIL, so a thread of its own
keeps the event loop free.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from enum import StrEnum

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_PIXELS = 60_000_000
# ~12 MP decodes in about a third of a second, and keeps the bars of a small barcode on a
# 20 MP screenshot wide enough to read (scaling that one to a 2,000 px side loses them).
MAX_DECODE_PIXELS = 12_000_000
MAX_READINGS = 20
# Pillow warns past its own limit (89 MP) as it opens the header; the check below refuses
# those anyway, so the warning would only clutter the log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
OPENED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Symbologies whose digits are a product's number (a GTIN), not a shipment's.
PRODUCT_FORMATS = frozenset(
    {
        *zxingcpp.barcode_formats_list(zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllRetail)),
        zxingcpp.BarcodeFormat.ITF,
        zxingcpp.BarcodeFormat.ITF14,
    }
)


class Problem(StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    TOO_MANY_PIXELS = "too_many_pixels"


class UnreadableImage(Exception):
    def __init__(self, problem: Problem, pixels: int = 0) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.pixels = pixels


@dataclass(frozen=True)
class Reading:
    text: str
    symbology: str  # zxing-cpp's name: "Code 128", "QR Code", "EAN-13"…
    product: bool  # a retail symbology: its digits are a product number


def read_barcodes(data: bytes) -> list[Reading]:
    """Every barcode zxing-cpp finds in the picture `data`, at most MAX_READINGS."""
    image = _decodable_image(data)
    found = zxingcpp.read_barcodes(image)
    return [
        Reading(barcode.text, str(barcode.format), barcode.format in PRODUCT_FORMATS)
        for barcode in found[:MAX_READINGS]
        if barcode.text
    ]


def _decodable_image(data: bytes) -> Image.Image:
    """The picture in grey, at most MAX_DECODE_PIXELS; UnreadableImage if it cannot be."""
    try:
        opened = Image.open(io.BytesIO(data), formats=OPENED_FORMATS)
        width, height = opened.size
        pixels = width * height
        if pixels > MAX_IMAGE_PIXELS:
            raise UnreadableImage(Problem.TOO_MANY_PIXELS, pixels)
        scale = min(1.0, math.sqrt(MAX_DECODE_PIXELS / max(pixels, 1)))
        target = (max(1, int(width * scale)), max(1, int(height * scale)))
        if scale < 1 and opened.format == "JPEG":
            opened.draft("L", target)
        image = _on_white(opened).convert("L")
        if image.width * image.height > MAX_DECODE_PIXELS:
            image = image.resize(target, Image.Resampling.BOX)
        return image
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(Problem.NOT_AN_IMAGE) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt
        raise UnreadableImage(Problem.NOT_AN_IMAGE) from exc


def _on_white(image: Image.Image) -> Image.Image:
    """A transparent background turned white: dropping the alpha would make it black, like
    the bars."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return image
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
