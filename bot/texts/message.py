"""One Telegram message: lines joined into a text, a long text cut to fit, and its HTML as
plain text (a fallback message, a result's description, the web desk's words)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from bot.texts.i18n import Html, Translator

MAX_MESSAGE_LENGTH = 4096  # Telegram's limit on one message's text
_TAG_RE = re.compile(r"<[^>]+>")


def join_lines(lines: Iterable[str | None]) -> Html:
    """The lines of a text (each already safe HTML), skipping the missing ones."""
    return Html("\n".join(line for line in lines if line is not None))


def fit(text: str, t: Translator) -> Html:
    """Cut a long text at a line boundary so it fits one Telegram message."""
    if len(text) <= MAX_MESSAGE_LENGTH:
        return Html(text)
    more = str(t("common.truncated"))
    cut = text[: MAX_MESSAGE_LENGTH - len(more) - 1].rsplit("\n", 1)[0]
    return Html(f"{cut}\n{more}")


def html_to_plain(text: str) -> str:
    """Telegram HTML as plain text: tags dropped, entities read."""
    return html.unescape(_TAG_RE.sub("", text))
