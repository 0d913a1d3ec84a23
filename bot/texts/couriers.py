"""Courier names in texts: the one book of couriers the bot uses, set once by `bot.app`
(`bot.tracking.couriers` keeps it up to date)."""

from __future__ import annotations

from bot.core.couriers import CourierBook

_book = CourierBook()


def use_courier_book(book: CourierBook) -> None:
    global _book
    _book = book


def courier_name(code: str) -> str:
    """ "Poste Italiane" for "poste-italiane"; the code when the list does not know it."""
    return _book.name_of(code)
