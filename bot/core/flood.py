"""One user cannot slow the others: a sliding window of each user's updates.

A user may send `limit` updates in any `window` seconds (in every chat together: a group
shares the bot with everyone in it); beyond that their updates are dropped, and the first
dropped one of an episode gets a note. Pure: the caller passes the time.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from enum import StrEnum

USER_UPDATES_LIMIT = 20
USER_WINDOW_SECONDS = 10.0
MAX_REMEMBERED_USERS = 10_000


class Admission(StrEnum):
    ANSWER = "answer"
    WARN = "warn"  # dropped, and the user is told to slow down (once an episode)
    DROP = "drop"  # dropped silently


class UserRateWindow:
    def __init__(
        self,
        limit: int = USER_UPDATES_LIMIT,
        window: float = USER_WINDOW_SECONDS,
        max_users: int = MAX_REMEMBERED_USERS,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the limit and the window must be positive")
        self._limit = limit
        self._window = window
        self._max_users = max_users
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()

    def admit(self, user_id: int, now: float) -> Admission:
        """Whether this update of `user_id`, arriving at `now` (seconds), is answered."""
        times = self._seen.get(user_id)
        if times is None:
            times = self._seen[user_id] = deque()
            self._forget_oldest()
        else:
            self._seen.move_to_end(user_id)
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) < self._limit:
            times.append(now)
            self._warned.discard(user_id)
            return Admission.ANSWER
        if user_id in self._warned:
            return Admission.DROP
        self._warned.add(user_id)
        return Admission.WARN

    def _forget_oldest(self) -> None:
        while len(self._seen) > self._max_users:
            user_id, _ = self._seen.popitem(last=False)
            self._warned.discard(user_id)
