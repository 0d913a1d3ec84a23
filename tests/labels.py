"""Pictures of shipping labels for the photo tests: barcodes written by zxing-cpp's own
writer, laid out with Pillow beside other text, then spoiled like a phone photo (turned,
shrunk, blurred, JPEG-compressed)."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

Format = zxingcpp.BarcodeFormat


def barcode(value: str | bytes, fmt: Format = Format.Code128, *, scale: int = 3) -> Image.Image:
    """The barcode alone, black on white, with its quiet zones."""
    options = {"ec_level": "L"} if fmt == Format.QRCode else {}
    written = zxingcpp.create_barcode(value, fmt, **options).to_image(scale=scale)
    height, width = written.shape
    image = Image.frombytes("L", (width, height), bytes(memoryview(written)))
    if fmt in (Format.Code128, Format.Code39, Format.ITF, Format.EAN13) and height < 40 * scale:
        image = image.resize((width, 40 * scale))  # linear codes come one module high
    return image


def label(
    *codes: Image.Image,
    lines: tuple[str, ...] = ("MITTENTE: Negozio Rossi srl", "DESTINATARIO: Ada Lovelace"),
    size: tuple[int, int] = (1000, 700),
) -> Image.Image:
    """A white label: lines of text at the top, then the barcodes one under the other."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    y = 20
    for line in (*lines, "Via Roma 1, 00100 Roma RM", "Peso 1,2 kg - Colli 1/1"):
        draw.text((30, y), line, fill=0)
        y += 22
    y += 20
    for code in codes:
        image.paste(code, (40, y))
        y += code.height + 30
    return image


def spoil(
    image: Image.Image,
    *,
    angle: float = 0,
    scale: float = 1.0,
    blur: float = 0,
) -> Image.Image:
    """Like a phone photo of it: turned by `angle`, scaled, blurred."""
    out = image.convert("RGB")
    if angle:
        out = out.rotate(angle, expand=True, fillcolor=(235, 235, 225), resample=Image.BICUBIC)
    if scale != 1.0:
        out = out.resize((int(out.width * scale), int(out.height * scale)), Image.LANCZOS)
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    return out


def jpeg(image: Image.Image, quality: int = 60) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def gtin(body: str) -> str:
    """`body` with its GS1 check digit (EAN-13 from 12 digits)."""
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - weighted % 10) % 10)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels: the header is enough to refuse it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
