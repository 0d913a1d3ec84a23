"""Where a user stands in a chat, asked of Telegram and remembered for a minute: whether they
may manage it, and whether they still belong to it. The chat's admin-only commands and
buttons ask the first (`common.may_manage_chat`), the web desk both on every request, and the
access gate whether someone is in one of ALLOWED_CHAT_IDS for inline queries, which come from
no chat."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from enum import Enum

from telegram import Bot, ChatMemberRestricted
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.core.access import AccessPolicy

logger = logging.getLogger(__name__)

ROLE_CACHE_SECONDS = 60.0
MAX_CACHED_ROLES = 10_000
_MANAGERS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


class ChatRoles:
    """A user's place in a chat, asked of Telegram and remembered for a minute: whether they
    may manage it (its user in a private chat; in a group its administrators and the bot's
    admins, as `may_manage_chat` decides) and whether they still belong to it (a desk session
    of someone who left or was removed from the group stops working within a minute)."""

    def __init__(self, bot: Bot, access: AccessPolicy) -> None:
        self._bot = bot
        self._access = access
        self._known: dict[tuple[int, int], tuple[_Role, float]] = {}

    async def may_manage(self, chat_id: int, user_id: int) -> bool:
        if chat_id > 0:
            return chat_id == user_id
        if self._access.is_admin(user_id):
            return True
        return await self._role(chat_id, user_id) is _Role.MANAGER

    async def belongs(self, chat_id: int, user_id: int) -> bool:
        if chat_id > 0:
            return chat_id == user_id
        if self._access.is_admin(user_id):
            return True
        return await self._role(chat_id, user_id) is not _Role.OUTSIDER

    async def in_any(self, chat_ids: Iterable[int], user_id: int) -> bool:
        """The user belongs to one of these chats (an allowed staff group, say)."""
        for chat_id in sorted(chat_ids):
            if await self._role(chat_id, user_id) is not _Role.OUTSIDER:
                return True
        return False

    async def _role(self, chat_id: int, user_id: int) -> _Role:
        now = time.monotonic()
        known = self._known.get((chat_id, user_id))
        if known is not None and known[1] > now:
            return known[0]
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError:
            logger.warning("could not check the role of user %s in chat %s", user_id, chat_id)
            return known[0] if known is not None else _Role.OUTSIDER  # unknown: no access
        if member.status in _MANAGERS:
            role = _Role.MANAGER
        elif member.status == ChatMemberStatus.MEMBER or (
            isinstance(member, ChatMemberRestricted) and member.is_member
        ):
            role = _Role.MEMBER
        else:
            role = _Role.OUTSIDER
        if len(self._known) >= MAX_CACHED_ROLES:
            self._known.clear()
        self._known[(chat_id, user_id)] = (role, now + ROLE_CACHE_SECONDS)
        return role


class _Role(Enum):
    MANAGER = "manager"
    MEMBER = "member"
    OUTSIDER = "outsider"
