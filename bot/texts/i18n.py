"""Translations (gettext catalogs under `locales/`, read with Babel) and localized formatting.

Message ids are symbolic keys (`track.added`); every key exists in `it` and `en`. Texts are
Telegram HTML: placeholders are escaped unless the value is wrapped in `Html`, which marks
markup that the code itself built from escaped parts. Pop-ups (the answer to a button tap)
are plain text: `Translator.plain` formats them without escaping.
"""

from __future__ import annotations

import gettext
import html
import io
import logging
from datetime import date as Date  # `Translator.date` would shadow the class
from datetime import datetime as DateTime  # `Translator.datetime` would shadow the class
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.core.times import ROME

logger = logging.getLogger(__name__)

LANGUAGES = ("it", "en")
DOMAIN = "postino"
_BABEL_LOCALES = {"it": "it_IT", "en": "en_GB"}


class Html(str):
    """A string that is already safe Telegram HTML."""

    __slots__ = ()


def escape(value: object) -> str:
    return value if isinstance(value, Html) else html.escape(str(value), quote=False)


def locales_dir() -> Path:
    """The installed copy (inside the package) or the source tree's `locales/`."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "locales", package.parent / "locales", Path.cwd() / "locales"):
        if (candidate / "en" / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
            return candidate
    raise FileNotFoundError("locales/ with the translation catalogs was not found")


@cache
def _catalog(language: str) -> gettext.GNUTranslations:
    folder = locales_dir() / language / "LC_MESSAGES"
    mo_path, po_path = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo_path.is_file() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    # No compiled catalog (a source checkout): compile the .po in memory.
    with po_path.open("rb") as fp:
        catalog = read_po(fp, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def normalize_language(code: str | None) -> str | None:
    """Telegram's `language_code` to one of ours: `it*` is Italian, anything else English."""
    if not code:
        return None
    return "it" if code.lower().startswith("it") else "en"


def chat_language(
    chosen: str | None, user_language: str | None, chat_type: str, default: str
) -> str:
    """The explicit /lang choice wins; a private chat follows the user; groups the default."""
    if chosen in LANGUAGES:
        return chosen
    if chat_type == "private":
        return normalize_language(user_language) or default
    return default


class Translator:
    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        self.language = language
        self._catalog = _catalog(language)

    def __call__(self, key: str, **values: object) -> Html:
        return Html(self._template(key).format(**{k: escape(v) for k, v in values.items()}))

    def plain(self, key: str, **values: object) -> str:
        """A plain-text message (a pop-up answering a button tap): nothing is escaped, so a
        name with "&" shows "&", not "&amp;". Its template holds no markup."""
        return self._template(key).format(**{k: str(v) for k, v in values.items()})

    def _template(self, key: str) -> str:
        template = self._catalog.gettext(key)
        if template == key:
            logger.error("missing translation %r for %s", key, self.language)
        return template

    def templates(self, prefix: str) -> dict[str, str]:
        """Every key starting with `prefix` and its text as written (placeholders kept):
        what a page fills in itself. A plural key gives `key` and `key.plural`."""
        catalog: dict[object, str] = getattr(self._catalog, "_catalog", {})
        found: dict[str, str] = {}
        for key, text in catalog.items():
            if isinstance(key, tuple):  # a plural form: (msgid, index)
                msgid, index = key
                key = msgid if index == 0 else f"{msgid}.plural"
            if isinstance(key, str) and key.startswith(prefix):
                found[key] = text
        return dict(sorted(found.items()))

    def plural(self, key: str, count: int, **values: object) -> Html:
        template = self._catalog.ngettext(key, key + ".plural", count)
        return Html(template.format(count=count, **{k: escape(v) for k, v in values.items()}))

    def datetime(self, moment: DateTime, *, with_year: bool = False) -> str:
        """A local (Europe/Rome) time; naive values are already local."""
        aware = moment.replace(tzinfo=ROME) if moment.tzinfo is None else moment
        pattern = "d MMM yyyy, HH:mm" if with_year else "d MMM, HH:mm"
        return format_datetime(aware, pattern, tzinfo=ROME, locale=_BABEL_LOCALES[self.language])

    def date(self, day: Date) -> str:
        """A day with the month in words: "12 dicembre 2026", "12 December 2026"."""
        return format_date(day, "d MMMM yyyy", locale=_BABEL_LOCALES[self.language])

    def weekday(self, day: Date | str) -> str:
        """A day close ahead, with its weekday: "giovedì 3 dicembre", "Thursday 3 December";
        an ISO date as text is read first (shown as given when it cannot be)."""
        if isinstance(day, str):
            try:
                day = Date.fromisoformat(day)
            except ValueError:
                return str(day)
        return format_date(day, "EEEE d MMMM", locale=_BABEL_LOCALES[self.language])

    def time(self, moment: DateTime) -> str:
        """Hours and minutes in Italy."""
        aware = moment.replace(tzinfo=ROME) if moment.tzinfo is None else moment
        return format_datetime(aware, "HH:mm", tzinfo=ROME, locale=_BABEL_LOCALES[self.language])

    def status(self, status: str | None) -> Html:
        """The localized name of a shown status (a TrackingMore delivery_status, or
        `ready_for_pickup`, see `bot.core.shipments.shown_status`); unknown ones shown raw."""
        if not status:
            return self("status.unknown")
        key = f"status.{status}"
        name = self._catalog.gettext(key)
        return Html(name) if name != key else Html(escape(status))

    def substatus(self, substatus: str | None) -> Html | None:
        """What a substatus says beyond its status, in plain words ("signed for"); None for
        the substatuses that add nothing."""
        if not substatus:
            return None
        key = f"substatus.{substatus.strip().lower()}"
        phrase = self._catalog.gettext(key)
        return Html(phrase) if phrase != key else None


@cache
def translator(language: str) -> Translator:
    return Translator(language)
