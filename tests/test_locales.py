"""Both languages carry every key, every placeholder, and only valid Telegram HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.core.shipments import shown_status
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
            re.findall(
                r"""\bt(?:\.plural|\.plain)?\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()
            )
        )
    assert used, "no keys found: the pattern is out of date"
    assert used - set(CATALOGS["en"]) == set()


def test_status_names_are_the_agreed_ones() -> None:
    expected = {
        ("pending", ""): ("Pending", "In attesa"),
        ("notfound", "notfound001"): ("No tracking info yet", "Ancora nessuna informazione"),
        ("inforeceived", ""): ("Registered by the sender", "Registrata dal mittente"),
        ("transit", "transit004"): ("In transit", "In transito"),
        ("pickup", "pickup001"): ("Out for delivery", "In consegna"),
        ("pickup", "pickup003"): ("Out for delivery", "In consegna"),
        ("pickup", ""): ("Out for delivery", "In consegna"),
        ("pickup", "pickup002"): ("Ready for pickup", "Da ritirare"),
        ("delivered", "delivered001"): ("Delivered", "Consegnata"),
        ("undelivered", ""): ("Failed delivery", "Mancata consegna"),
        ("exception", ""): ("Delivery problem", "Anomalia"),
        ("expired", ""): ("Tracking expired", "Tracciamento scaduto"),
    }
    en, it = Translator("en"), Translator("it")
    for (status, substatus), (english, italian) in expected.items():
        shown = shown_status(status, substatus)
        assert (en.status(shown), it.status(shown)) == (english, italian)
    assert (en("status.refused"), it("status.refused")) == (
        "Code not accepted",
        "Codice non accettato",
    )
    assert en.status("created") == "created"
    assert en.status("<b>") == "&lt;b&gt;"


SUBSTATUS_PHRASES = (
    "delivered002",
    "delivered003",
    "delivered004",
    "undelivered001",
    "undelivered002",
    "undelivered003",
    "exception004",
    "transit004",
    "transit005",
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_substatuses_that_say_more_have_plain_words_and_the_others_none(language: str) -> None:
    t = Translator(language)
    for substatus in SUBSTATUS_PHRASES:
        phrase = t.substatus(substatus)
        assert phrase and phrase[0].isupper() and not PLACEHOLDER.search(phrase), substatus
    for silent in ("", "transit001", "pickup002", "delivered001", "exception001", "bogus"):
        assert t.substatus(silent) is None


# Texts that reach users (everything but the admins' /stats and alerts) never name the
# tracking service, an HTTP status or an API code.
ADMIN_KEYS = ("stats.", "alert.")
INTERNAL = re.compile(r"TrackingMore|HTTP|\b[45]\d\d\b|italy-sda|poste-italiane|courier_code", re.I)


@pytest.mark.parametrize("language", LANGUAGES)
def test_user_texts_name_no_internals(language: str) -> None:
    leaks = {
        key: text
        for key, strings in CATALOGS[language].items()
        if not key.startswith(ADMIN_KEYS)
        for text in strings
        if INTERNAL.search(text)
    }
    assert leaks == {}


# Answers to button taps are pop-ups: plain text, no markup or entities in their templates.
POPUP_KEYS = (
    "button.stale",
    "mute.on",
    "mute.off",
    "remove.admins_only",
    "refresh.too_soon",
    "refresh.failed",
    "refresh.news",
    "refresh.no_news",
    "retrack.not_expired",
    "archived.restored",
    "access.refused",
    "error.generic",
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_popup_texts_are_plain_and_short(language: str) -> None:
    for key in POPUP_KEYS:
        (text,) = CATALOGS[language][key]
        assert "<" not in text and "&" not in text, key
        assert len(text) <= 200 - 60, key  # Telegram cuts pop-ups at 200; room for a name


def test_popups_are_not_html_escaped() -> None:
    en = Translator("en")
    assert en.plain("mute.on", name="Tom & Jerry <3>") == (
        "🔕 Tom & Jerry <3>: no more messages here until you unmute it."
    )
    assert "&amp;" in en("mute.on", name="Tom & Jerry")


@pytest.mark.parametrize("language", LANGUAGES)
def test_start_fits_a_phone_screen(language: str) -> None:
    (text,) = CATALOGS[language]["start.text"]
    assert len(text.splitlines()) <= 15 and len(text) <= 650
    commands = set(re.findall(r"^(/\w+)", text, re.M))
    assert len(commands - {"/help"}) == 6 and "/help" in commands


def test_english_tracks_and_uses_contractions() -> None:
    user_texts = {
        key: " ".join(strings)
        for key, strings in CATALOGS["en"].items()
        if not key.startswith(ADMIN_KEYS)
    }
    follow = {k: v for k, v in user_texts.items() if re.search(r"\bfollow", v, re.I)}
    assert follow == {}
    stiff = re.compile(
        r"\b(?:does not|do not|is not|are not|I will|I am|could not|cannot|has not)\b"
    )
    assert {k: v for k, v in user_texts.items() if stiff.search(v)} == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_word_for_a_shipment_name(language: str) -> None:
    word = re.compile(r"etichett|\blabel", re.I)
    words = {k: PLACEHOLDER.sub("", " ".join(v)) for k, v in CATALOGS[language].items()}
    assert {k: v for k, v in words.items() if word.search(v)} == {}


def test_placeholder_values_are_escaped() -> None:
    text = Translator("en")("remove.not_followed", code="<script>&")
    assert "<script>" not in text
    assert "&lt;script&gt;&amp;" in text
