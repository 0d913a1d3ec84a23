"""The couriers TrackingMore knows, by name: fetched at start and once a day into the one
`CourierBook` the bot uses, so that texts say "SDA" and input may say `courier=SDA`.

A failed fetch keeps the book as it was (at worst the built-in names): couriers are then
shown by their API code and named input is taken as a code. It is tried again at the next
refresh; the list is small (one call a day).
"""

from __future__ import annotations

import logging
import time

from bot.carrier import CarrierError, TrackingMoreClient
from bot.core.couriers import Courier, CourierBook

logger = logging.getLogger(__name__)

REFRESH_EVERY_SECONDS = 24 * 3600.0
# After a failure, the next try comes sooner than a day (but not at every caller).
RETRY_AFTER_FAILURE_SECONDS = 3600.0
# How long an answer to the courier list also answers "does the key work?".
FRESH_SECONDS = 5.0


class CourierDirectory:
    def __init__(self, carrier: TrackingMoreClient, book: CourierBook) -> None:
        self._carrier = carrier
        self.book = book
        self._next_fetch_at = 0.0  # monotonic
        self._fetched_at: float | None = None  # monotonic, the last answer or refusal
        self._fetch_error: CarrierError | None = None

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the list when it is older than a day (or `force`); returns whether the book
        holds a fetched list now."""
        if not force and time.monotonic() < self._next_fetch_at:
            return True
        try:
            couriers = await self._fetch()
        except CarrierError as exc:
            logger.warning("could not fetch the courier list: %s; names wait", exc)
            self._next_fetch_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
            return False
        if not couriers:
            logger.warning("the courier list came back empty; keeping the names known so far")
            self._next_fetch_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
            return False
        self.book.replace(couriers)
        self._next_fetch_at = time.monotonic() + REFRESH_EVERY_SECONDS
        logger.info("courier list: %d couriers", len(self.book))
        return True

    async def check_account(self) -> None:
        """Whether TrackingMore takes the bot's key: the courier list is the cheapest call
        only the key and the account decide. A fetch of the last few seconds (the one at
        start) answers for it instead of a second call; a refusal is raised."""
        fresh = self._fetched_at is not None and time.monotonic() - self._fetched_at < FRESH_SECONDS
        if not fresh:
            couriers = await self._fetch()
            if couriers:
                self.book.replace(couriers)
                self._next_fetch_at = time.monotonic() + REFRESH_EVERY_SECONDS
        elif self._fetch_error is not None:
            raise self._fetch_error

    async def _fetch(self) -> list[Courier]:
        try:
            couriers = await self._carrier.couriers()
        except CarrierError as exc:
            self._fetched_at, self._fetch_error = time.monotonic(), exc
            raise
        self._fetched_at, self._fetch_error = time.monotonic(), None
        return couriers

    def resolve(self, courier: str) -> str:
        """The API code for what someone wrote after `courier=` (a code or a name): the
        book's code when it knows it, else the text as written (the tracking service then
        accepts it or refuses the code)."""
        return self.book.code_for(courier) or courier
