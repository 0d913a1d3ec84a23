"""Tracking numbers for tests: valid UPU S10 codes from a serial, and their typo'd twins."""

from __future__ import annotations

from bot.core.codes import s10_check_digit


def s10(serial: int, country: str = "IT") -> str:
    """A valid S10 code for serial 0..99999999 (the check digit computed by the bot's rule,
    which tests/test_codes.py checks against the UPU's own vectors)."""
    digits = f"{serial:08d}"
    return f"RR{digits}{s10_check_digit(digits)}{country}"


def wrong_check_digit(code: str) -> str:
    return f"{code[:10]}{(int(code[10]) + 1) % 10}{code[11:]}"
