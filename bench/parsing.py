"""Reading codes out of hostile messages: the worst of the 5,000-character texts the test
suite feeds the parser, and one message of 20,000 lines, each timed as CPU (the parser runs on
the event loop, so a slow message would hold every chat back)."""

from __future__ import annotations

import time

from bench.common import Row, Sizes, s10, verdict
from bot.core.message_codes import parse_message

# What one message may cost before it delays other chats noticeably.
BUDGET_SECONDS = 0.5
HOSTILE = [
    "RR123456785IT " + "a" * 5000,
    "RR123456785IT " + "a " * 2500,
    "x" * 5000,
    "7" * 5000,
    "1 " * 2500,
    "- " * 2500,
    "RR " * 1700,
    "\u200b" * 5000,
    "RR123456785IT " + "courier=brt " * 400,
    "\n".join(["RR123456785IT"] * 2500),
    "\n".join(["1 2 3 4"] * 1250),
]


def _cpu_seconds(text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        parse_message(text, max_codes=50)
        best = min(best, time.process_time() - began)
    return best


def row(sizes: Sizes) -> Row:
    repeats = 3 if sizes.starts > 1 else 1
    worst = max(_cpu_seconds(text, repeats) for text in HOSTILE)
    lines = "\n".join(f"{s10(n)} label {n}" for n in range(20_000))
    huge = _cpu_seconds(lines, repeats)
    ratio = max(worst, huge) / BUDGET_SECONDS
    return Row(
        "parsing hostile messages",
        f"{len(HOSTILE)} texts of ~5,000 characters, and one of 20,000 lines (50 codes taken)",
        f"worst 5,000-character text {worst * 1000:.1f} ms, 20,000 lines {huge * 1000:.0f} ms CPU",
        f"{BUDGET_SECONDS * 1000:.0f} ms a message",
        ratio,
        "< 1.00",
        verdict(ratio < 1.0),
    )
