"""No update can stop the others: one the library cannot read is skipped, not retried.

python-telegram-bot reads a whole getUpdates answer at once; one update it cannot parse (a
`from` without `is_bot`, as in Telegram's own documentation, or a member without
`until_date`) fails the whole batch, and long polling asks for the same offset again at
once, for ever: every later update is stuck behind it. The request used for getUpdates
therefore reads each update on its own first, and replaces one that does not parse with a
bare `{"update_id": N}`: the library takes that (no handler matches it), the offset moves
past it and Telegram does not send it again. It is logged once, by kind and reason only
(never its text or names).

The webhook (`bot.ops.webserver`) does the same with `readable_update`: an unreadable update
is answered 200 and skipped, not refused (Telegram would send it again and again).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram._utils.types import JSONDict

from bot.ops.health import RoundTripRecordingRequest

logger = logging.getLogger(__name__)


def update_id_of(data: object) -> int | None:
    """The `update_id` of a would-be update, or None when it has no usable one."""
    if not isinstance(data, dict):
        return None
    value = data.get("update_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def readable_update(data: JSONDict) -> JSONDict:
    """`data` when the library can read it as an Update, else `{"update_id": N}` (logged)."""
    try:
        Update.de_json(data, None)
    except Exception as exc:  # whatever the library trips on: this update alone is skipped
        kinds = ",".join(sorted(str(key) for key in data if key != "update_id")) or "-"
        # The exception names the field the library missed, never the update's contents.
        reason = f"{type(exc).__name__}: {exc}"[:200]
        logger.warning(
            "skipped Telegram update %s (%s) that the library cannot read: %s",
            data.get("update_id"),
            kinds,
            reason,
        )
        return {"update_id": data["update_id"]}
    return data


class SkippingUnreadableUpdates(RoundTripRecordingRequest):
    """The getUpdates request (PTB uses it for nothing else): what it returns holds only
    updates the library can read."""

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        answer = RoundTripRecordingRequest.parse_json_payload(payload)
        result = answer.get("result")
        if answer.get("ok") and isinstance(result, list):
            answer["result"] = _readable_batch(result)
        return answer


def _readable_batch(updates: list[Any]) -> list[JSONDict]:
    """Each update as the library can take it; an item without an update_id is dropped (it
    cannot be confirmed, and the library could not read it either)."""
    readable = []
    for item in updates:
        if update_id_of(item) is None:
            logger.warning("dropped a Telegram update without a usable update_id")
            continue
        readable.append(readable_update(item))
    return readable
