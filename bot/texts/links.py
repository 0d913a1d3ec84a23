"""Codes and people as Telegram HTML: t.me deep links that follow a code in one tap, the
carrier's own tracking page, and mentions of a user."""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.core.codes import DEFAULT_COURIER
from bot.texts.i18n import Html, Translator, escape

START_TRACK_PREFIX = "track_"
# courier → (site name, tracking page with a `{code}` placeholder)
CARRIER_PAGES = {
    DEFAULT_COURIER: (
        "poste.it",
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{code}",
    )
}


@dataclass
class _BotIdentity:
    username: str | None = None


_bot = _BotIdentity()


def set_bot_username(username: str | None) -> None:
    """Known once the bot has introduced itself to Telegram (getMe)."""
    _bot.username = username


def deep_link(code: str, courier: str = DEFAULT_COURIER) -> str | None:
    """`t.me/<bot>?start=track_<CODE>[_<courier>]`: one tap to follow the code."""
    if not _bot.username:
        return None
    suffix = "" if courier == DEFAULT_COURIER else f"_{courier}"
    return f"https://t.me/{_bot.username}?start={START_TRACK_PREFIX}{code}{suffix}"


def parse_start_payload(payload: str) -> tuple[str, str] | None:
    """The (code, courier) of a deep link's start payload, or None."""
    if not payload.startswith(START_TRACK_PREFIX):
        return None
    code, _, courier = payload[len(START_TRACK_PREFIX) :].partition("_")
    return code, courier or DEFAULT_COURIER


def plain_code(text: str) -> Html:
    """Monospace, without a link: for what is not (or not yet) a followable code."""
    return Html(f"<code>{escape(text)}</code>")


def code_html(code: str, courier: str = DEFAULT_COURIER) -> Html:
    """The code, linked to following it in one tap when the bot's name is known."""
    link = deep_link(code, courier)
    if link is None:
        return plain_code(code)
    return Html(f'<a href="{html.escape(link)}">{escape(code)}</a>')


def carrier_page(t: Translator, code: str, courier: str) -> Html | None:
    """A line linking the carrier's own tracking page, for the couriers we know one of."""
    page = CARRIER_PAGES.get(courier)
    if page is None:
        return None
    site, url = page
    link = Html(f'<a href="{html.escape(url.format(code=code))}">{escape(site)}</a>')
    return t("shipment.carrier_page", site=link)


def mention(user_id: int, name: str | None) -> Html:
    """A link that notifies the user in a group (their name, or their id if unknown)."""
    return Html(f'<a href="tg://user?id={int(user_id)}">{escape(name or str(user_id))}</a>')
