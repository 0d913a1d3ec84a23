"""Words about forum topics: which topic a message was for, and what a topic's list covers."""

from __future__ import annotations

from bot.texts.i18n import Html, Translator


def topic_title(t: Translator, thread_id: int, name: str | None) -> str:
    """The topic's name as the bot last saw it, or its number when it never saw one (plain
    text: `t` escapes it where it is placed)."""
    return name or t.plain("topic.unnamed", number=thread_id)


def for_general(t: Translator, thread_id: int, name: str | None, text: str) -> Html:
    """A message meant for a topic Telegram refused (deleted or closed), said in General."""
    return Html(f"{t('topic.fallback', topic=topic_title(t, thread_id, name))}\n{text}")


def scope_note(t: Translator) -> str:
    """Under a list of one topic's shipments: General's shows the whole group's."""
    return t("topic.scope")
