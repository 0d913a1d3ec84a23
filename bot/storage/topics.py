"""Forum topics: the names the bot has seen, and what happens to a group's shipments when a
topic is deleted (they move to the General topic)."""

from __future__ import annotations

from bot.core.times import iso_utc
from bot.storage.database import Repository

MAX_TOPIC_NAME = 128  # Telegram's limit on a topic's name


class Topics(Repository):
    """The forum_topics table, and the topic column of subscriptions."""

    async def remember(self, chat_id: int, thread_id: int, name: str, *, replace: bool) -> None:
        """A topic's name as a message showed it; `replace`: it is the current name (not
        the one it was opened with, which posts quote), so it replaces a stored one."""
        name = name.strip()[:MAX_TOPIC_NAME]
        if not name:
            return
        on_conflict = (
            "DO UPDATE SET name=excluded.name, seen_at=excluded.seen_at"
            if replace
            else "DO UPDATE SET name=excluded.name WHERE forum_topics.name = ''"
        )
        await self._write(
            "INSERT INTO forum_topics (chat_id, thread_id, name, seen_at) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (chat_id, thread_id) {on_conflict}",
            (chat_id, thread_id, name, iso_utc()),
        )

    async def name(self, chat_id: int, thread_id: int) -> str | None:
        row = await self._fetchone(
            "SELECT name FROM forum_topics WHERE chat_id=? AND thread_id=?", (chat_id, thread_id)
        )
        return str(row[0]) if row and row[0] else None

    async def closed(self, chat_id: int, thread_id: int, *, closed: bool = True) -> None:
        """Telegram said the topic is closed (it refused a message, or showed the service
        message), or that it was reopened (`closed=False`)."""
        now = iso_utc()
        if closed:
            await self._write(
                "INSERT INTO forum_topics (chat_id, thread_id, name, seen_at, closed_at) "
                "VALUES (?, ?, '', ?, ?) "
                "ON CONFLICT (chat_id, thread_id) DO UPDATE SET closed_at=excluded.closed_at",
                (chat_id, thread_id, now, now),
            )
        else:
            await self._write(
                "UPDATE forum_topics SET closed_at=NULL WHERE chat_id=? AND thread_id=?",
                (chat_id, thread_id),
            )

    async def topic_gone(self, chat_id: int, thread_id: int) -> int:
        """Telegram no longer knows the topic: its shipments belong to General from now on.
        Returns how many moved. The name stays, for the notes that say where they came from."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET thread_id=NULL WHERE chat_id=? AND thread_id=?",
                (chat_id, thread_id),
            )
            return cursor.rowcount
