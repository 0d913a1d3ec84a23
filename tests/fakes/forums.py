"""Forum topics for the fake Telegram: which topics a supergroup has, and what Telegram says
when the bot writes in one that is closed or deleted.

Telegram's answers, as the Bot API gives them: "Bad Request: message thread not found" for a
topic that was deleted (or never existed), "Bad Request: TOPIC_CLOSED" for a closed one. The
General topic has no thread id: a message for it carries none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

THREAD_NOT_FOUND = "message thread not found"
TOPIC_CLOSED = "TOPIC_CLOSED"
ICON_COLOR = 7322096  # one of the six colours Telegram allows


@dataclass
class Topic:
    thread_id: int
    name: str
    created: JSON  # the service message that opened it: every message in it quotes this one
    closed: bool = False
    deleted: bool = False


@dataclass
class Forums:
    """Topic state per (chat, thread)."""

    _topics: dict[tuple[int, int], Topic] = field(default_factory=dict)
    _forum_chats: set[int] = field(default_factory=set)

    def is_forum(self, chat_id: int) -> bool:
        return chat_id in self._forum_chats

    def make_forum(self, chat_id: int) -> None:
        self._forum_chats.add(chat_id)

    def add(self, chat_id: int, created: JSON) -> Topic:
        thread_id = int(created["message_id"])
        topic = Topic(thread_id, created["forum_topic_created"]["name"], created)
        self._topics[(chat_id, thread_id)] = topic
        return topic

    def get(self, chat_id: int, thread_id: int) -> Topic:
        topic = self._topics.get((chat_id, thread_id))
        if topic is None or topic.deleted:
            raise KeyError(f"no topic {thread_id} in chat {chat_id}")
        return topic

    def refusal(self, chat_id: int, thread_id: Any) -> str | None:
        """What Telegram answers a message for `thread_id` in `chat_id`; None: accepted."""
        if thread_id in (None, ""):
            return None
        topic = self._topics.get((chat_id, int(thread_id)))
        if topic is None or topic.deleted:
            return THREAD_NOT_FOUND
        if topic.closed:
            return TOPIC_CLOSED
        return None

    def topic_fields(self, chat_id: int, thread_id: Any) -> JSON:
        """What a message sent in that topic carries about it."""
        if thread_id in (None, "") or not self.is_forum(chat_id):
            return {}
        return {"message_thread_id": int(thread_id), "is_topic_message": True}

    @staticmethod
    def created_content(name: str) -> JSON:
        return {"forum_topic_created": {"name": name, "icon_color": ICON_COLOR}}
