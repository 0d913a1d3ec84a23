"""The outbox: notifications waiting for Telegram, marked only after Telegram accepted them."""

from __future__ import annotations

from collections.abc import Collection, Sequence, Sized
from datetime import datetime
from typing import Any

from bot.core.times import iso_utc
from bot.storage.database import Repository, not_in
from bot.storage.records import Notification, decode_notice


class Outbox(Repository):
    """The outbox table."""

    async def due_notifications(
        self,
        limit: int = 200,
        *,
        private: bool | None = None,
        excluding: Collection[int] = (),
    ) -> list[Notification]:
        """Due notifications, oldest first: to private chats, to groups, or (None) to all;
        none to the chats in `excluding` (the sender is already serving them). With a due
        one come the same chat's other unsent ones about the same shipment, due or not, so a
        backlog about one shipment is told as one message."""
        skipped = tuple(excluding)
        now = iso_utc()
        rows = await self._fetchall(
            f"{_SELECT} WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ? "
            f"AND c.blocked_at IS NULL {_lane(private)} {not_in('o.chat_id', skipped)} "
            "ORDER BY o.id LIMIT ?",
            (now, *skipped, limit),
        )
        due = [_notification(r) for r in rows]
        pairs = sorted({(n.chat_id, n.shipment_id) for n in due})
        if not pairs:
            return due
        later = await self._fetchall(
            # Typed: PostgreSQL takes untyped VALUES parameters for text.
            "WITH k(chat_id, shipment_id) AS (VALUES "
            f"{','.join('(CAST(? AS BIGINT), CAST(? AS BIGINT))' for _ in pairs)}) "
            f"{_SELECT} JOIN k ON k.chat_id = o.chat_id AND k.shipment_id = o.shipment_id "
            "WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at > ? "
            "ORDER BY o.id",
            (*(part for pair in pairs for part in pair), now),
        )
        return sorted([*due, *map(_notification, later)], key=lambda n: n.id)

    async def next_notification_due(
        self, *, private: bool | None = None, excluding: Collection[int] = ()
    ) -> str | None:
        skipped = tuple(excluding)
        row = await self._fetchone(
            "SELECT MIN(o.next_attempt_at) FROM outbox o JOIN chats c ON c.id = o.chat_id "
            f"WHERE o.sent_at IS NULL AND o.failed_at IS NULL {_lane(private)} "
            f"{not_in('o.chat_id', skipped)}",
            skipped,
        )
        return row[0] if row else None

    async def mark_sent(self, *notification_ids: int) -> None:
        """Telegram accepted the message these rows became: one statement (atomic, one hop
        to the database thread), ahead of every other use of the connection, because until
        it lands a crash would send the message again."""
        await self._write(
            "UPDATE outbox SET sent_at=?, attempts=attempts+1 "
            f"WHERE id IN ({_marks(notification_ids)})",
            (iso_utc(), *notification_ids),
            urgent=True,
        )

    async def mark_retry(
        self, notification_ids: int | Sequence[int], next_attempt: datetime, error: str
    ) -> None:
        """Refused: tried again at `next_attempt`, an attempt spent."""
        ids = _ids(notification_ids)
        await self._write(
            "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? "
            f"WHERE id IN ({_marks(ids)})",
            (iso_utc(next_attempt), error[:500], *ids),
        )

    async def postpone_chat(
        self,
        notification_ids: int | Sequence[int],
        chat_id: int,
        until: datetime,
        error: str,
        *,
        spend_attempt: bool = True,
    ) -> None:
        """Telegram said to wait before writing to this chat again (or could not be reached):
        these notifications are tried again then, and the chat's others not before then. An
        attempt is spent unless the failure was Telegram's own (`spend_attempt=False`)."""
        ids = _ids(notification_ids)
        spent = "attempts=attempts+1, " if spend_attempt else ""
        async with self._transaction() as db:
            await db.execute(
                f"UPDATE outbox SET {spent}next_attempt_at=?, last_error=? "
                f"WHERE id IN ({_marks(ids)})",
                (iso_utc(until), error[:500], *ids),
            )
            await db.execute(
                "UPDATE outbox SET next_attempt_at=? WHERE chat_id=? "
                f"AND id NOT IN ({_marks(ids)}) "
                "AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at < ?",
                (iso_utc(until), chat_id, *ids, iso_utc(until)),
            )

    async def mark_failed(self, notification_ids: int | Sequence[int], error: str) -> None:
        ids = _ids(notification_ids)
        await self._write(
            "UPDATE outbox SET attempts=attempts+1, failed_at=?, last_error=? "
            f"WHERE id IN ({_marks(ids)})",
            (iso_utc(), error[:500], *ids),
        )

    async def outbox_backlog(self) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        )
        return int(row[0])


_SELECT = (
    "SELECT o.id, o.chat_id, c.type, c.language, c.user_language, o.shipment_id, "
    "sh.courier, sh.code, s.label, s.chat_id IS NOT NULL, o.payload, o.attempts, "
    "o.created_at, c.quiet_start, c.quiet_end, s.added_by, s.added_by_name, s.thread_id, "
    "ft.name, ft.closed_at "
    "FROM outbox o JOIN chats c ON c.id = o.chat_id "
    "JOIN shipments sh ON sh.id = o.shipment_id "
    "LEFT JOIN subscriptions s ON s.chat_id = o.chat_id AND s.shipment_id = o.shipment_id "
    "LEFT JOIN forum_topics ft ON ft.chat_id = o.chat_id AND ft.thread_id = s.thread_id"
)


def _notification(r: Sequence[Any]) -> Notification:
    return Notification(
        id=r[0],
        chat_id=r[1],
        chat_type=r[2],
        chat_language=r[3],
        chat_user_language=r[4],
        shipment_id=r[5],
        courier=r[6],
        code=r[7],
        label=r[8],
        following=bool(r[9]),
        notice=decode_notice(r[10]),
        attempts=r[11],
        created_at=r[12],
        quiet_start=r[13],
        quiet_end=r[14],
        added_by=r[15],
        added_by_name=r[16],
        thread_id=r[17],
        topic_name=r[18] or None,
        topic_closed_at=r[19],
    )


def _ids(ids: int | Sequence[int]) -> tuple[int, ...]:
    return (ids,) if isinstance(ids, int) else tuple(ids)


def _marks(values: Sized) -> str:
    return ",".join("?" * len(values))


def _lane(private: bool | None) -> str:
    """The SQL condition on `c` (chats) for one lane of the outbox."""
    return {None: "", True: "AND c.type = 'private'", False: "AND c.type != 'private'"}[private]
