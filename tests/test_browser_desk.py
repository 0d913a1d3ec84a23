"""The web desk's page in a real browser (headless Chromium, Debian's; Playwright drives it)
against the real bot and the fake servers: the login link from /desk, the table, filters and
search, actions that the chat then shows, live updates, the Mini App (initData and theme),
and screenshots at phone and desktop widths, in both languages, light and Telegram-dark.

Screenshots go to artifacts/desk-screenshots/ under the repository root (git-ignored), or to
$DESK_SCREENSHOTS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from conftest import BotFactory
from fakes.telegram import FakeTelegram
from fakes.trackingmore import FakeTrackingMore
from parcels import s10

pytestmark = [pytest.mark.full, pytest.mark.e2e]

playwright_sync = pytest.importorskip("playwright.sync_api")

ALICE = 1001
ADDED = s10(87_654_321)  # not one of PARCELS
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(
    os.environ.get("DESK_SCREENSHOTS")
    or Path(__file__).resolve().parents[1] / "artifacts" / "desk-screenshots"
)
LIVE_WITHIN_MS = 5000
DARK_THEME = {
    "bg_color": "#17212b",
    "secondary_bg_color": "#232e3c",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
}
# Codes the chat tracks, in several statuses (what the fake TrackingMore says about each).
PARCELS = {
    "RR123456785IT": ("Perché no", "exception", "Indirizzo incompleto", "CMP BOLOGNA"),
    "EE123456785IT": ("Cliente Rossi", "transit", "Arrivata al centro di smistamento", "ROMA"),
    "CB123456785IT": ("Scarpe", "undelivered", "Destinatario assente", "TORINO"),
    "LY123456785IT": ("Libri", "delivered", "Consegnata", "MILANO"),
    "RA123456785IT": (None, "pending", None, None),
}
EXPECTED_CODE, EXPECTED_DATE = "EE123456785IT", "2026-12-03"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def desk_env(bot_env: dict[str, str]) -> dict[str, str]:
    port = _free_port()
    bot_env["WEBHOOK_LISTEN"] = f"127.0.0.1:{port}"
    bot_env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    return bot_env


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield launched
        launched.close()


@pytest.fixture
def pages(browser: Any) -> Iterator[Any]:
    """new(width, scheme) → a page in a fresh context (its own cookies); page errors fail."""
    contexts: list[Any] = []
    errors: list[str] = []

    def new(width: int = 1280, scheme: str = "light") -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": 860},
            color_scheme=scheme,
            accept_downloads=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            # The answers the page is meant to handle (401, 429…) are checked by the tests.
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        return page

    yield new
    for context in contexts:
        context.close()
    assert errors == [], errors


def script(fake_tm: FakeTrackingMore) -> None:
    for code, (_label, status, event, place) in PARCELS.items():
        events = [{"detail": "Accettata", "location": "ROMA", "status": "transit"}]
        if event:
            events.append({"detail": event, "location": place, "status": status})
        fake_tm.script(code, status=status, events=events if status != "pending" else ())
    # the parcel on its way has a date, as TrackingMore gives it
    fake_tm.set_fields(EXPECTED_CODE, scheduled_delivery_date=EXPECTED_DATE)


def ask(fake_tg: FakeTelegram, chat: int, text: str, language: str = "en") -> dict[str, Any]:
    before = len(fake_tg.messages(chat))
    fake_tg.send_text(chat, text, language_code=language)
    return fake_tg.wait_for_messages(chat, before + 1)[before]


def follow_all(fake_tg: FakeTelegram, language: str = "en") -> None:
    lines = [f"{code} {label}" if label else code for code, (label, *_r) in PARCELS.items()]
    ask(fake_tg, ALICE, "\n".join(lines), language)


def login_link(fake_tg: FakeTelegram, language: str = "en") -> str:
    """The /desk answer's url button (or the link in its text)."""
    message = ask(fake_tg, ALICE, "/desk", language)
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    for button in (b for row in rows for b in row):
        if "/desk/login/" in str(button.get("url", "")):
            return str(button["url"])
    found = re.search(r"https?://\S+/desk/login/\S+", message["text"])
    assert found, message
    return found.group(0).rstrip(".,)<")


def sign_init_data(token: str, user_id: int, language: str = "en") -> str:
    """Mini App initData signed as Telegram documents it: secret_key =
    HMAC_SHA256(key="WebAppData", msg=bot_token); hash = hex HMAC_SHA256(secret_key,
    data_check_string), the other fields sorted as key=value lines."""
    user = {"id": user_id, "first_name": "Ada", "language_code": language}
    fields = {
        "auth_date": str(int(time.time())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def mini_app_url(base: str, init_data: str, theme: dict[str, str]) -> str:
    return (
        f"{base}/desk/#tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"
        f"&tgWebAppPlatform=android&tgWebAppThemeParams={quote(json.dumps(theme), safe='')}"
    )


def codes_shown(page: Any) -> list[str]:
    return list(page.locator("#rows tr.row a.code").all_inner_texts())


def wait_codes(page: Any, expected: set[str]) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#rows tr.row').length === n", arg=len(expected)
    )
    assert set(codes_shown(page)) == expected


def row(page: Any, code: str) -> Any:
    return page.locator("#rows tr.row", has=page.locator("a.code", has_text=code))


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)  # the toast's fade
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_desk(page: Any, link: str) -> None:
    page.goto(link)  # 303 to /desk/ with the session cookie
    assert urlsplit(page.url).path == "/desk/"
    page.wait_for_selector("#rows tr.row")


@pytest.mark.in_process
def test_the_page_lists_filters_searches_renames_and_updates_live(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    desk_env: dict[str, str],
    pages: Any,
) -> None:
    script(fake_tm)
    bot_factory()
    follow_all(fake_tg)
    page = pages(1280)
    open_desk(page, login_link(fake_tg))

    # Every code the chat tracks, what needs someone first; the words are English.
    wait_codes(page, set(PARCELS))
    assert set(codes_shown(page)[:2]) == {"RR123456785IT", "CB123456785IT"}
    assert page.locator("h1#title").inner_text() == "Shipments"
    badge = row(page, "RR123456785IT").locator(".badge")
    assert badge.inner_text().strip() == "Delivery problem"
    link = row(page, "RR123456785IT").locator("a.code")
    assert (link.get_attribute("href") or "").startswith("http")
    expected = row(page, EXPECTED_CODE).locator("td.c-expected").inner_text()
    assert "3 December" in expected, expected
    shoot(page, "en-1280-light")

    # A status chip narrows the table to that status, with its count; All brings back all.
    chip = page.locator("#chips .chip.s-undelivered")
    assert chip.locator(".chip-count").inner_text() == "1"
    chip.click()
    wait_codes(page, {"CB123456785IT"})
    assert chip.get_attribute("aria-pressed") == "true"
    page.locator("#chips .chip.s-all").click()
    wait_codes(page, set(PARCELS))

    # The search ignores case and accents, and reads names, events and places.
    page.fill("#q", "PERCHE")
    wait_codes(page, {"RR123456785IT"})
    page.fill("#q", "torino")
    wait_codes(page, {"CB123456785IT"})
    page.fill("#q", "smistamento")
    wait_codes(page, {"EE123456785IT"})
    page.fill("#q", "")
    wait_codes(page, set(PARCELS))

    # Sorting by a column's header (keyboard too), with aria-sort.
    header = page.locator("th[data-sort=code] button")
    header.focus()
    page.keyboard.press("Enter")
    assert page.locator("th[data-sort=code]").get_attribute("aria-sort") == "ascending"
    assert codes_shown(page) == sorted(PARCELS)
    page.keyboard.press("Enter")
    assert codes_shown(page) == sorted(PARCELS, reverse=True)

    # Rename on the page: the chat's /list shows the new name.
    row(page, "RA123456785IT").locator("button.more").click()
    page.locator("#menu [data-act=rename]").click()
    page.fill("#rn-input", "Regalo di Anna")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rows td.c-label')]"
        ".some(td => td.textContent === 'Regalo di Anna')"
    )
    assert "Regalo di Anna" in page.locator("#toast").inner_text()
    listed = ask(fake_tg, ALICE, "/list")
    assert "Regalo di Anna" in listed["text"]

    # The timeline opens from the row (Enter), and Escape closes it.
    row(page, "EE123456785IT").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#timeline[open] .tl-event")
    events = page.locator("#tl-events .tl-event .tl-what").all_inner_texts()
    assert events[0] == "Arrivata al centro di smistamento" and "Accettata" in events
    page.keyboard.press("Escape")
    page.wait_for_selector("#timeline:not([open])", state="attached")

    # A move at the carrier shows on the open page, without a reload, within 5 s; the
    # open timeline follows it, and the selection and the focus stay.
    row(page, "EE123456785IT").locator("input.pick").check()
    row(page, "LY123456785IT").locator("input.pick").check()
    page.locator("#q").focus()
    began = time.monotonic()
    fake_tm.move("EE123456785IT", "pickup", "In consegna", "ROMA EUR")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rows tr.row')].some(tr =>"
        " tr.textContent.includes('EE123456785IT') && tr.textContent.includes('ROMA EUR'))",
        timeout=LIVE_WITHIN_MS,
    )
    assert time.monotonic() - began < LIVE_WITHIN_MS / 1000
    assert row(page, "EE123456785IT").locator(".badge").inner_text().strip() == "Out for delivery"
    assert page.evaluate("document.activeElement.id") == "q"
    assert page.locator("#bulk-count").inner_text() == "Selected: 2"
    shoot(page, "en-1280-light-selection")

    # The selection downloads as CSV: the header and exactly those two rows.
    with page.expect_download() as download:
        page.locator("#bulk [data-bulk=export]").click()
    saved = download.value.path()
    csv_text = Path(saved).read_text(encoding="utf-8-sig")
    body = [line for line in csv_text.splitlines()[1:] if line.strip()]
    assert len(body) == 2 and "EE123456785IT" in csv_text and "LY123456785IT" in csv_text
    assert download.value.suggested_filename.endswith(".csv")

    # Check now: the first one asks the carrier, the second within 10 minutes is refused
    # with the server's words.
    for attempt in range(2):
        row(page, "LY123456785IT").locator("button.more").click()
        page.locator("#menu [data-act=refresh]").click()
        page.wait_for_function(
            "wanted => document.querySelector('#toast').classList.contains('error') === wanted",
            arg=attempt == 1,
        )
    assert page.locator("#toast").inner_text()

    # Remove, after a confirmation: gone from the page and from the chat's list.
    row(page, "LY123456785IT").locator("button.more").click()
    page.locator("#menu [data-act=remove]").click()
    page.wait_for_selector("#confirm[open]")
    page.locator("#confirm [value=yes]").click()
    wait_codes(page, set(PARCELS) - {"LY123456785IT"})
    assert page.locator("#bulk-count").inner_text() == "Selected: 1"
    listed = ask(fake_tg, ALICE, "/list")["text"]
    assert "EE123456785IT" in listed and "LY123456785IT" not in listed

    # Adding codes as in a chat message: the summary shows and so do the rows.
    page.locator("#add-open").click()
    page.fill("#add-text", f"{ADDED} Vasi\nnot a code at all")
    page.locator("#add-panel [type=submit]").click()
    page.wait_for_selector("#add-result:not([hidden])")
    assert "Vasi" in page.locator("#add-result").inner_text()  # the chat's answer, as text
    assert page.locator("#toast").inner_text() == "1 shipment added"
    wait_codes(page, (set(PARCELS) - {"LY123456785IT"}) | {ADDED})

    # The phone width: cards, every action still reachable.
    page.set_viewport_size({"width": 360, "height": 800})
    page.locator("#add-cancel").click()
    page.wait_for_timeout(100)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "en-360-light")


@pytest.mark.in_process
def test_an_italian_chat_reads_italian_in_light_and_dark(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    desk_env: dict[str, str],
    pages: Any,
) -> None:
    script(fake_tm)
    bot_factory()
    ask(fake_tg, ALICE, "/lang it", "it")
    follow_all(fake_tg, "it")
    link = login_link(fake_tg, "it")
    page = pages(1280, "light")
    open_desk(page, link)
    wait_codes(page, set(PARCELS))
    assert page.locator("h1#title").inner_text() == "Spedizioni"
    assert page.locator("html").get_attribute("lang") == "it"
    assert row(page, "RR123456785IT").locator(".badge").inner_text().strip() == "Anomalia"
    assert page.locator("#q").get_attribute("placeholder") == "Codice, nome, aggiornamento o luogo"
    shoot(page, "it-1280-light")
    row(page, "CB123456785IT").click()
    page.wait_for_selector("#timeline[open] .tl-event")
    assert page.locator("#tl-title").inner_text() == "Cronologia di Scarpe"
    shoot(page, "it-1280-light-timeline")
    page.keyboard.press("Escape")

    for width in (360, 1280):
        dark = pages(width, "dark")
        open_desk(dark, login_link(fake_tg, "it"))
        wait_codes(dark, set(PARCELS))
        background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        assert _is_dark(background), background
        shoot(dark, f"it-{width}-dark")
    phone = pages(360, "light")
    open_desk(phone, login_link(fake_tg, "it"))
    wait_codes(phone, set(PARCELS))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(phone, "it-360-light")


@pytest.mark.in_process
def test_the_mini_app_signs_in_with_init_data_and_takes_telegrams_theme(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    fake_tm: FakeTrackingMore,
    desk_env: dict[str, str],
    pages: Any,
) -> None:
    script(fake_tm)
    bot_factory()
    follow_all(fake_tg)
    base = desk_env["PUBLIC_BASE_URL"]
    init_data = sign_init_data(desk_env["TELEGRAM_BOT_TOKEN"], ALICE)
    for width in (360, 1280):
        page = pages(width, "light")  # Telegram's dark theme wins over the browser's light
        page.goto(mini_app_url(base, init_data, DARK_THEME))
        page.wait_for_selector("#rows tr.row")
        wait_codes(page, set(PARCELS))
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(23, 33, 43)", background
        assert page.evaluate("document.cookie") == ""  # no cookie: initData alone
        shoot(page, f"en-{width}-telegram-dark")

    # initData signed with another token: the not-signed-in page, in the user's language.
    forged = sign_init_data("123456:not-the-bots-token", ALICE)
    page = pages(360, "light")
    page.goto(mini_app_url(base, forged, DARK_THEME))
    page.wait_for_selector("#fallback-expired:not([hidden])")
    assert page.locator("#app").is_hidden()
    visible = page.locator("#fallback-expired [data-lang]:visible")
    assert visible.count() == 1
    assert "This link has expired" in visible.inner_text()
    assert "/desk" in visible.inner_text()
    shoot(page, "en-360-telegram-dark-forged")


@pytest.mark.in_process
def test_no_session_shows_the_expired_page_in_both_languages(
    bot_factory: BotFactory,
    fake_tg: FakeTelegram,
    desk_env: dict[str, str],
    pages: Any,
) -> None:
    bot_factory()
    base = desk_env["PUBLIC_BASE_URL"]
    page = pages(1280, "light")
    page.goto(f"{base}/desk/")  # no cookie, no initData
    page.wait_for_selector("#fallback-expired:not([hidden])")
    text = page.locator("#fallback-expired").inner_text()
    # The browser's language is English here: the English words; the Italian ones exist
    # for an Italian browser.
    assert "Send /desk again" in text
    italian = page.locator("#fallback-expired [data-lang=it]")
    assert italian.is_hidden() and "Questo link è scaduto" in (italian.text_content() or "")
    assert page.locator("#app").is_hidden()
    shoot(page, "no-session-1280-light")


def _is_dark(css_colour: str) -> bool:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 80
