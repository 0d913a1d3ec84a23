"""Chats: who talks to the bot, their language and preferences, pauses and moves."""

from __future__ import annotations

from bot.core.times import iso_utc
from bot.storage.database import Repository
from bot.storage.records import CHAT_COLUMNS, Chat, DigestChat


class Chats(Repository):
    """The chats table."""

    async def touch_chat(
        self, chat_id: int, chat_type: str, title: str | None, user_language: str | None
    ) -> Chat:
        """Create or refresh a chat seen in an update; a chat that writes is not blocked."""
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute(
                """
                INSERT INTO chats (id, type, title, user_language, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    type = excluded.type,
                    title = COALESCE(excluded.title, chats.title),
                    user_language = COALESCE(excluded.user_language, chats.user_language),
                    blocked_at = NULL
                """,
                (chat_id, chat_type, title, user_language, now),
            )
            async with db.execute(
                f"SELECT {CHAT_COLUMNS} FROM chats WHERE id=?", (chat_id,)
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return Chat(*row)

    async def get_chat(self, chat_id: int) -> Chat | None:
        row = await self._fetchone(f"SELECT {CHAT_COLUMNS} FROM chats WHERE id=?", (chat_id,))
        return Chat(*row) if row else None

    async def set_chat_language(self, chat_id: int, language: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET language=? WHERE id=?", (language, chat_id))

    async def set_notify_mode(self, chat_id: int, mode: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET notify_mode=? WHERE id=?", (mode, chat_id))

    async def set_quiet_hours(self, chat_id: int, start: str | None, end: str | None) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE chats SET quiet_start=?, quiet_end=? WHERE id=?", (start, end, chat_id)
            )

    async def block_chat(self, chat_id: int, reason: str) -> int:
        """Pause a chat that blocked or removed the bot; drop what was queued for it."""
        now = iso_utc()
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET blocked_at=? WHERE id=?", (now, chat_id))
            cursor = await db.execute(
                "UPDATE outbox SET failed_at=?, last_error=? "
                "WHERE chat_id=? AND sent_at IS NULL AND failed_at IS NULL",
                (now, reason, chat_id),
            )
            return cursor.rowcount

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything of the old id moves to the new one."""
        async with self._transaction() as db:
            for desk_table in ("desk_links", "desk_sessions"):  # web desk sessions follow
                await db.execute(
                    f"UPDATE {desk_table} SET chat_id=? WHERE chat_id=?", (new_id, old_id)
                )
            async with db.execute("SELECT 1 FROM chats WHERE id=?", (new_id,)) as cursor:
                exists = await cursor.fetchone() is not None
            if not exists:
                await db.execute(
                    "UPDATE chats SET id=?, type='supergroup' WHERE id=?", (new_id, old_id)
                )
                return
            await db.execute(  # what both chats followed stays the new chat's alone
                "UPDATE subscriptions SET chat_id=? WHERE chat_id=? AND shipment_id NOT IN "
                "(SELECT shipment_id FROM subscriptions WHERE chat_id=?)",
                (new_id, old_id, new_id),
            )
            await db.execute("UPDATE outbox SET chat_id=? WHERE chat_id=?", (new_id, old_id))
            await db.execute(
                "UPDATE chats SET language = "
                "COALESCE(language, (SELECT language FROM chats WHERE id=?)) WHERE id=?",
                (old_id, new_id),
            )
            await db.execute("DELETE FROM chats WHERE id=?", (old_id,))

    async def digest_schedule(self, chat_id: int) -> tuple[str | None, str | None]:
        """The chat's digest time ('HH:MM', Rome) and the Rome day it was last sent."""
        row = await self._fetchone(
            "SELECT digest_time, digest_sent_day FROM chats WHERE id=?", (chat_id,)
        )
        return (row[0], row[1]) if row else (None, None)

    async def set_digest(self, chat_id: int, clock: str | None, sent_day: str | None) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE chats SET digest_time=?, digest_sent_day=? WHERE id=?",
                (clock, sent_day, chat_id),
            )

    async def chats_due_for_digest(self, clock: str, day: str) -> list[DigestChat]:
        """Chats not paused whose digest time ('HH:MM') is at or before `clock` and that
        have not had one on `day` (both Rome)."""
        rows = await self._fetchall(
            "SELECT id, type, language, user_language FROM chats "
            "WHERE digest_time IS NOT NULL AND digest_time <= ? "
            "AND (digest_sent_day IS NULL OR digest_sent_day < ?) AND blocked_at IS NULL "
            "ORDER BY id",
            (clock, day),
        )
        return [DigestChat(*r) for r in rows]

    async def mark_digest_sent(self, chat_id: int, day: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET digest_sent_day=? WHERE id=?", (day, chat_id))
