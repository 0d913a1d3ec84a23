"""One user cannot slow the others: a sliding window of each user's updates.

A user may send `limit` updates in any `window` seconds (in every chat together: a group
shares the bot with everyone in it); beyond that their updates are dropped, and the first
dropped one of an episode gets a note.

The count lives in the database, so that replicas behind a load balancer share one limit: a
user's updates are counted in one-second slices (keyed by Unix second), and an update is
answered when the slices of the last `window` seconds — this one's slice and the `window`
before it, so between `window` and `window` + 1 seconds — hold at most `limit` updates, this
one included. Every update counts, the dropped ones too: a user who keeps sending stays over
until they slow down. Pure: the caller passes the time and the counts.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from enum import StrEnum

USER_UPDATES_LIMIT = 20
USER_WINDOW_SECONDS = 10
MAX_REMEMBERED_USERS = 10_000


class Admission(StrEnum):
    ANSWER = "answer"
    WARN = "warn"  # dropped, and the user is told to slow down (once an episode)
    DROP = "drop"  # dropped silently


def window_slices(now: float, window: int = USER_WINDOW_SECONDS) -> tuple[int, int]:
    """The slice an update arriving at `now` (Unix seconds) counts in, and the oldest slice
    still in its window (both Unix seconds)."""
    if window < 1:
        raise ValueError("the window must be positive")
    current = math.floor(now)
    return current, current - window


def admission(hits: int, *, warned: bool, limit: int = USER_UPDATES_LIMIT) -> Admission:
    """The fate of an update when the window holds `hits` updates of its user, this one
    included; `warned` when the user was told to slow down since their last answered one."""
    if limit < 1:
        raise ValueError("the limit must be positive")
    if hits <= limit:
        return Admission.ANSWER
    return Admission.DROP if warned else Admission.WARN


class SlowDownNotes:
    """Who was told to slow down, until one of their updates is answered again: one note an
    episode. Kept in the process (bounded, the longest unheard forgotten first), so behind a
    load balancer a user may get one note from each replica their updates reach."""

    def __init__(self, max_users: int = MAX_REMEMBERED_USERS) -> None:
        self._max_users = max_users
        self._warned: OrderedDict[int, None] = OrderedDict()

    def admit(self, user_id: int, hits: int, limit: int = USER_UPDATES_LIMIT) -> Admission:
        """The fate of an update of `user_id`, whose window holds `hits` updates with it."""
        verdict = admission(hits, warned=user_id in self._warned, limit=limit)
        if verdict == Admission.ANSWER:
            self._warned.pop(user_id, None)
        elif verdict == Admission.WARN:
            self._warned[user_id] = None
            while len(self._warned) > self._max_users:
                self._warned.popitem(last=False)
        else:
            self._warned.move_to_end(user_id)
        return verdict

    def __len__(self) -> int:
        return len(self._warned)
