"""The outbox: notifications waiting for Telegram, marked only after Telegram accepted them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

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
        none to the chats in `excluding` (the sender is already serving them)."""
        skipped = tuple(excluding)
        rows = await self._fetchall(
            "SELECT o.id, o.chat_id, c.type, c.language, c.user_language, o.shipment_id, "
            "sh.courier, sh.code, s.label, s.chat_id IS NOT NULL, o.payload, o.attempts, "
            "o.created_at, c.quiet_start, c.quiet_end, s.added_by, s.added_by_name "
            "FROM outbox o JOIN chats c ON c.id = o.chat_id "
            "JOIN shipments sh ON sh.id = o.shipment_id "
            "LEFT JOIN subscriptions s ON s.chat_id = o.chat_id AND s.shipment_id = o.shipment_id "
            "WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ? "
            f"AND c.blocked_at IS NULL {_lane(private)} {not_in('o.chat_id', skipped)} "
            "ORDER BY o.id LIMIT ?",
            (iso_utc(), *skipped, limit),
        )
        return [
            Notification(
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
            )
            for r in rows
        ]

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

    async def mark_sent(self, notification_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET sent_at=?, attempts=attempts+1 WHERE id=?",
                (iso_utc(), notification_id),
            )

    async def mark_retry(self, notification_id: int, next_attempt: datetime, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? WHERE id=?",
                (iso_utc(next_attempt), error[:500], notification_id),
            )

    async def postpone_chat(
        self, notification_id: int, chat_id: int, until: datetime, error: str
    ) -> None:
        """Telegram said to wait before writing to this chat again: this notification is
        tried again then (an attempt spent), and the chat's others not before then."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? WHERE id=?",
                (iso_utc(until), error[:500], notification_id),
            )
            await db.execute(
                "UPDATE outbox SET next_attempt_at=? WHERE chat_id=? AND id != ? "
                "AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at < ?",
                (iso_utc(until), chat_id, notification_id, iso_utc(until)),
            )

    async def mark_failed(self, notification_id: int, error: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts=attempts+1, failed_at=?, last_error=? WHERE id=?",
                (iso_utc(), error[:500], notification_id),
            )

    async def outbox_backlog(self) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        )
        return int(row[0])


def _lane(private: bool | None) -> str:
    """The SQL condition on `c` (chats) for one lane of the outbox."""
    return {None: "", True: "AND c.type = 'private'", False: "AND c.type != 'private'"}[private]
