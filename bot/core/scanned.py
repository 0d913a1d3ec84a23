"""Which values read from barcodes are tracking codes: followed as if typed, offered, or dropped.

Pure functions, standard library only. A barcode holds whatever its printer put there (a
product number, a routing code, a web address), so only what is clearly a shipment's code is
followed without asking:

- a UPU S10 code with a valid check digit (`RR123456785IT`), anywhere in the value as a word
  of its own (a QR code's web address or text);
- a Poste Italiane numeric code (12-16 digits), unless its barcode is a product symbology
  (EAN/UPC, ITF-14, DataBar): there those digits are a product number (a GTIN).

A whole value that passes only the generic rules (another courier's alphanumeric code, a
GTIN of 12-14 digits) is a *candidate*: offered, followed only if the user says so. Anything
else is junk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.core.codes import CodeKind, classify, normalize

# A value taken whole: letters, digits and dashes only (dashes are dropped by `normalize`).
_WHOLE_VALUE_RE = re.compile(r"[A-Za-z0-9-]+")
_S10_WORD_RE = re.compile(r"(?<![A-Z0-9])[A-Z]{2}[0-9]{9}[A-Z]{2}(?![A-Z0-9])")
MAX_VALUE_LENGTH = 4096  # a QR code holds at most ~7,000 digits; longer input is cut
GTIN_LENGTHS = frozenset({8, 12, 13, 14})


class Verdict(StrEnum):
    TRACKING = "tracking"
    CANDIDATE = "candidate"


@dataclass(frozen=True)
class ScannedCode:
    code: str  # normalised, as the tracker takes it
    verdict: Verdict


def is_gtin(value: str) -> bool:
    """A GTIN-8/12/13/14 (EAN, UPC, ITF-14) with a valid mod-10 check digit."""
    if len(value) not in GTIN_LENGTHS or not (value.isascii() and value.isdigit()):
        return False
    body, check = value[:-1], int(value[-1])
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == check


def read_value(value: str, *, product_symbology: bool) -> list[ScannedCode]:
    """The tracking codes (and candidates) in one barcode's value, in order."""
    text = value[:MAX_VALUE_LENGTH].strip()
    if _WHOLE_VALUE_RE.fullmatch(text):
        whole = _whole(normalize(text), product_symbology=product_symbology)
        if whole is not None:
            return [whole]
    # A web address or free text: only S10 codes with a valid check digit are clear enough.
    return [
        ScannedCode(match, Verdict.TRACKING)
        for match in dict.fromkeys(_S10_WORD_RE.findall(text.upper()))
        if classify(match) is CodeKind.S10
    ]


def _whole(code: str, *, product_symbology: bool) -> ScannedCode | None:
    kind = classify(code)
    if kind is CodeKind.S10:
        return ScannedCode(code, Verdict.TRACKING)
    if kind is CodeKind.NUMERIC:
        product = product_symbology and is_gtin(code)
        return ScannedCode(code, Verdict.CANDIDATE if product else Verdict.TRACKING)
    if kind is CodeKind.ALNUM:
        return ScannedCode(code, Verdict.CANDIDATE)
    return None  # too short (an EAN-8), a wrong S10 check digit: not a shipment's code


def sort_codes(values: list[tuple[str, bool]]) -> tuple[list[str], list[str]]:
    """The distinct tracking codes and the distinct candidates (not already tracking codes)
    of several barcodes' values `(value, product_symbology)`, in reading order."""
    tracking: dict[str, None] = {}
    candidates: dict[str, None] = {}
    for value, product in values:
        for scanned in read_value(value, product_symbology=product):
            target = tracking if scanned.verdict is Verdict.TRACKING else candidates
            target[scanned.code] = None
    return list(tracking), [code for code in candidates if code not in tracking]
