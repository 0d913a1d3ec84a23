"""Both languages carry every key, every placeholder, and only valid Telegram HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.texts.i18n import LANGUAGES, Translator

LOCALES = Path(__file__).resolve().parents[1] / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "tg-spoiler", "blockquote"}
SOURCE = Path(__file__).resolve().parents[1] / "bot"


def load(language: str) -> Catalog:
    with (LOCALES / language / "LC_MESSAGES" / "postino.po").open("rb") as fp:
        return read_po(fp, locale=language)


def texts(catalog: Catalog) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for message in catalog:
        if not message.id:
            continue
        # A plural message has a tuple of ids (singular, plural) and of strings (one a form).
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        result[str(key)] = [string or "" for string in strings]
    return result


CATALOGS = {language: texts(load(language)) for language in LANGUAGES}


def test_every_key_is_in_both_languages() -> None:
    it_keys, en_keys = set(CATALOGS["it"]), set(CATALOGS["en"])
    assert it_keys - en_keys == set(), "keys missing in en"
    assert en_keys - it_keys == set(), "keys missing in it"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_empty_translation(language: str) -> None:
    empty = [key for key, strings in CATALOGS[language].items() if not all(strings)]
    assert empty == []


@pytest.mark.parametrize("key", sorted(CATALOGS["en"]))
def test_placeholders_match_between_languages(key: str) -> None:
    found = {
        language: [set(PLACEHOLDER.findall(s)) for s in CATALOGS[language].get(key, [])]
        for language in LANGUAGES
    }
    union = set().union(*found["en"], *found["it"])
    for language in LANGUAGES:
        for forms in found[language]:
            assert forms == union, f"{language} {key}: {forms} != {union}"


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.bad.append(tag)
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.bad.append(f"/{tag}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_are_balanced_telegram_html(language: str) -> None:
    for key, strings in CATALOGS[language].items():
        for text in strings:
            checker = _TagChecker()
            checker.feed(text)
            assert checker.bad == [] and checker.stack == [], f"{language} {key}: {text!r}"


def test_every_key_used_in_code_exists() -> None:
    """Keys written literally in bot/ (t("x.y") or t.plural("x.y", ...)) exist in the catalogs."""
    used = set()
    for path in SOURCE.rglob("*.py"):
        used |= set(
            re.findall(r"""\bt(?:\.plural)?\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text())
        )
    assert used, "no keys found: the pattern is out of date"
    assert used - set(CATALOGS["en"]) == set()


def test_status_names_are_the_agreed_ones() -> None:
    expected = {
        "pending": ("Pending", "In attesa"),
        "notfound": ("Not found yet", "Non ancora trovata"),
        "inforeceived": ("Info received", "Dati ricevuti"),
        "transit": ("In transit", "In transito"),
        "pickup": ("Out for delivery", "In consegna"),
        "delivered": ("Delivered", "Consegnata"),
        "undelivered": ("Delivery attempt failed", "Mancata consegna"),
        "exception": ("Exception", "Anomalia"),
        "expired": ("Expired (no updates)", "Scaduta (nessun aggiornamento)"),
    }
    en, it = Translator("en"), Translator("it")
    for status, (english, italian) in expected.items():
        assert (en.status(status), it.status(status)) == (english, italian)
    assert en.status("created") == "created"
    assert en.status("<b>") == "&lt;b&gt;"


def test_placeholder_values_are_escaped() -> None:
    text = Translator("en")("remove.not_followed", code="<script>&")
    assert "<script>" not in text
    assert "&lt;script&gt;&amp;" in text
