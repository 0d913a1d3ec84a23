"""Couriers by the names people know: TrackingMore's courier list as a book that turns an API
code into a name ("italy-sda" → "SDA") and a name or code someone typed into the API code
("SDA", "sda", "Poste Italiane" → the code).

Pure: the list is fetched by `bot.tracking.couriers` and put in the book; until then (or if
TrackingMore never answers) the book knows the couriers below, and any other code is shown
as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NOT_ALNUM_RE = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Courier:
    code: str  # TrackingMore's courier_code, e.g. "italy-sda"
    name: str  # what people call it, e.g. "SDA"


# Known without asking: the default courier, so that a fresh bot names it right away.
BUILT_IN = (Courier("poste-italiane", "Poste Italiane"),)


def courier_key(text: str) -> str:
    """What two spellings of one courier share: "Poste Italiane", "poste-italiane" and
    "POSTE_ITALIANE" all give "posteitaliane"."""
    return _NOT_ALNUM_RE.sub("", text.casefold())


class CourierBook:
    def __init__(self, couriers: Iterable[Courier] = ()) -> None:
        self._names: dict[str, str] = {}
        self._codes: dict[str, str] = {}
        self.replace(couriers)

    def replace(self, couriers: Iterable[Courier]) -> None:
        """Take a new list (the built-in couriers stay known)."""
        names: dict[str, str] = {}
        codes: dict[str, str] = {}
        for courier in (*BUILT_IN, *couriers):
            code, name = courier.code.strip().lower(), " ".join(courier.name.split())
            if not code or not name:
                continue
            names[code] = name
            codes[courier_key(code)] = code
            # A name two couriers share ("DHL" in several countries) names the first one.
            codes.setdefault(courier_key(name), code)
        self._names, self._codes = names, codes

    def name_of(self, code: str) -> str:
        """The name people know, or the code itself when the list does not have it."""
        return self._names.get(code, code)

    def code_for(self, text: str) -> str | None:
        """The API code for a courier's code or name as someone typed it, or None."""
        return self._codes.get(courier_key(text))

    def __len__(self) -> int:
        return len(self._names)
