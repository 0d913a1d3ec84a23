"""Operational alerts to the bot's administrators (ADMIN_USER_IDS), once per episode.

An episode is TrackingMore refusing the key, the quota running out, the carrier failing
for CARRIER_DOWN_ALERT_CYCLES poll cycles in a row, the automatic backups failing
(BACKUP_DIR), or the database refusing writes (disk full, read-only, I/O error); its end is
told once too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.outbound.delivery import Delivery
from bot.outbound.sender import ChatSender
from bot.storage import Storage
from bot.texts.i18n import chat_language, translator
from bot.tracking.health import CarrierHealth, PollState

logger = logging.getLogger(__name__)

_ALERT_KEYS = {
    CarrierHealth.AUTH: "alert.auth",
    CarrierHealth.QUOTA: "alert.quota",
    CarrierHealth.DOWN: "alert.down",
}


class AdminAlerts:
    def __init__(
        self,
        sender: ChatSender,
        storage: Storage,
        admin_ids: Iterable[int],
        *,
        default_language: str,
        down_after_cycles: int,
    ) -> None:
        self._sender = sender
        self._storage = storage
        self._admins = sorted(admin_ids)
        self._default_language = default_language
        self._down_after = down_after_cycles
        self._open: CarrierHealth | None = None  # the episode the admins were told about
        self._backup_failing = False
        self._storage_failing = False

    async def on_health(
        self, previous: CarrierHealth, current: CarrierHealth, state: PollState
    ) -> None:
        """Poller health listener: alert on entering an episode, and once when it ends."""
        if current == CarrierHealth.OK:
            if self._open is not None:
                self._open = None
                await self.send("alert.recovered")
            return
        if current == self._open:
            return
        if current == CarrierHealth.DOWN and state.consecutive_failures < self._down_after:
            return
        self._open = current
        logger.warning("admin alert: %s (%s)", current.value, state.last_error)
        await self.send(
            _ALERT_KEYS[current], cycles=state.consecutive_failures, error=state.last_error
        )

    async def on_backup(self, error: str | None) -> None:
        """Backup job outcome (`None`: written and checked): alert on the first failure, and
        once when a backup works again."""
        if error is None:
            if self._backup_failing:
                self._backup_failing = False
                await self.send("alert.backup_recovered")
            return
        if self._backup_failing:
            return
        self._backup_failing = True
        logger.warning("admin alert: backup failed (%s)", error)
        await self.send("alert.backup_failed", error=error)

    async def on_storage(self, error: str | None) -> None:
        """Database write listener: the disk refused a write (`error`), or takes writes
        again (None). Told once each way."""
        if error is None:
            if self._storage_failing:
                self._storage_failing = False
                await self.send("alert.storage_recovered")
            return
        if self._storage_failing:
            return
        self._storage_failing = True
        logger.warning("admin alert: the database refuses writes (%s)", error)
        await self.send("alert.storage_failed", error=error)

    async def send(self, key: str, **values: object) -> None:
        for admin_id in self._admins:
            chat = await self._storage.chats.get_chat(admin_id)
            language = (
                chat_language(chat.language, chat.user_language, chat.type, self._default_language)
                if chat
                else self._default_language
            )
            text = translator(language)(key, **values)
            outcome = await self._sender.send(admin_id, text)
            if outcome.delivery != Delivery.SENT:
                # Telegram only lets a bot write to users who started it first.
                logger.warning(
                    "could not alert admin %s (%s %s); have they sent /start?",
                    admin_id,
                    outcome.delivery.value,
                    outcome.error,
                )
