"""Who may use this bot: ALLOWED_USER_IDS / ALLOWED_CHAT_IDS, and the bot's ADMIN_USER_IDS.

The gate that applies it runs before every other handler (`bot.handlers.access`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

MAX_REMEMBERED_REFUSALS = 10_000


class AccessPolicy:
    def __init__(
        self,
        *,
        allowed_user_ids: Collection[int],
        allowed_chat_ids: Collection[int],
        admin_user_ids: Collection[int],
    ) -> None:
        self._allowed_users = frozenset(allowed_user_ids)
        self._allowed_chats = frozenset(allowed_chat_ids)
        self._admins = frozenset(admin_user_ids)
        self._refused: OrderedDict[int, None] = OrderedDict()

    @property
    def is_open(self) -> bool:
        """Nobody was named in ALLOWED_USER_IDS or ALLOWED_CHAT_IDS: everyone may use it."""
        return not self._allowed_users and not self._allowed_chats

    @property
    def allowed_chat_ids(self) -> frozenset[int]:
        return self._allowed_chats

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admins

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if self.is_open or self.is_admin(user_id):
            return True
        return (user_id is not None and user_id in self._allowed_users) or (
            chat_id is not None and chat_id in self._allowed_chats
        )

    def first_refusal(self, chat_id: int) -> bool:
        """True the first time a chat is refused (remembered in a bounded LRU)."""
        if chat_id in self._refused:
            self._refused.move_to_end(chat_id)
            return False
        self._refused[chat_id] = None
        if len(self._refused) > MAX_REMEMBERED_REFUSALS:
            self._refused.popitem(last=False)
        return True
