"""The one way a snapshot from the carrier becomes stored history: polls, pushes, manual
refreshes and registrations all record through here, and the sender is woken whenever the
changes stored queued messages for chats."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core.shipments import Change, Snapshot
from bot.storage import Storage


class ChangeRecorder:
    def __init__(self, storage: Storage, on_queued: Callable[[], None]) -> None:
        self._storage = storage
        self._on_queued = on_queued

    async def record(
        self, snapshots: Sequence[Snapshot], *, unchanged: Sequence[int] = (), notify: bool = True
    ) -> list[Change]:
        """Diff and write in one transaction (under the storage lock), then wake the sender.

        Two paths seeing the same change (a poll and a push) store it, and tell it, once.
        `notify=False` stores the state as the baseline a chat is told in its answer.
        """
        changes = await self._storage.changes.ingest(snapshots, unchanged=unchanged, notify=notify)
        if changes and notify:
            self._on_queued()
        return changes
