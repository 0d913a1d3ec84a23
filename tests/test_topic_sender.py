"""A topic known to be closed is not tried for an hour, then tried again: it may have been
reopened while the bot was not looking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.outbound.sender import CLOSED_TOPIC_RECHECK, InTopic

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_an_open_topic_is_tried() -> None:
    assert not InTopic(7, "for General").known_closed(NOW)


def test_a_topic_closed_within_the_hour_is_not_tried() -> None:
    topic = InTopic(7, "for General", closed_since=NOW - timedelta(minutes=59))
    assert topic.known_closed(NOW)


def test_after_the_hour_the_topic_is_tried_again() -> None:
    topic = InTopic(7, "for General", closed_since=NOW - CLOSED_TOPIC_RECHECK)
    assert not topic.known_closed(NOW)
