"""Callback data: packed and parsed in bot.texts.callbacks, matched by the routes' patterns,
in the format buttons already sent in chats carry (`<action>:<number>`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import CallbackQuery, InlineKeyboardMarkup, Update, User
from telegram.ext import Application, CallbackQueryHandler

from bot.handlers import buttons, photos
from bot.handlers.context import Context
from bot.handlers.routes import register_handlers
from bot.storage import Followed, Searchable, Shipment
from bot.texts import callbacks, finds, keyboards, lists, photo_offer
from bot.texts.callbacks import Action, Pressed, pack, parse, pattern
from bot.texts.i18n import LANGUAGES, Translator

NUMBERS = (0, 1, 42, 10**12 - 1)
# The data every action's buttons carry, as the releases so far wrote it.
KNOWN_DATA = {
    Action.DETAILS: "d",
    Action.DETAILS_FIRST_RELEASE: "st",
    Action.RENAME: "rn",
    Action.TOGGLE_MUTE: "m",
    Action.ASK_TO_REMOVE: "rm",
    Action.CONFIRM_REMOVE: "rmy",
    Action.CANCEL_REMOVE: "rmn",
    Action.REFRESH: "rf",
    Action.RETRACK: "rt",
    Action.RESTORE: "ar",
    Action.LIST_PAGE: "l",
    Action.ARCHIVED_PAGE: "la",
    Action.FIND_PAGE: "f",
    Action.PHOTO_FOLLOW: "pf",
    Action.PHOTO_IGNORE: "pi",
}
FORGED = (
    "",
    ":",
    "d",
    "d:",
    "d:abc",
    "d:-1",
    "d:+1",
    "d: 1",
    "d:1 ",
    "d:1\n",
    "d:1:2",
    "d:١",  # an Arabic-Indic digit: str.isdigit() says yes, int() would too
    "d:²",  # a superscript: str.isdigit() says yes, int() says no
    "d:" + "1" * 13,
    "st:1" + "9" * 60,
    "x" * 64,
    "zz:1",
    "D:1",
    " d:1",
    "rmyy:1",
    "l1",
)


def test_the_action_codes_never_change() -> None:
    assert {action: action.value for action in Action} == KNOWN_DATA


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("number", NUMBERS)
def test_pack_parse_round_trip(action: Action, number: int) -> None:
    data = pack(action, number)
    assert data == f"{KNOWN_DATA[action]}:{number}"
    assert len(data.encode()) <= callbacks.MAX_DATA_BYTES
    assert parse(data) == Pressed(action, number)
    assert pattern(action).match(data)
    assert callbacks.ANY_ACTION.match(data)


@pytest.mark.parametrize("action", list(Action))
def test_a_pattern_matches_only_its_own_actions(action: Action) -> None:
    for other in Action:
        matched = pattern(action).match(pack(other, 7)) is not None
        assert matched == (other == action), (action, other)


def test_the_first_release_details_data_still_parses() -> None:
    assert parse("st:12") == Pressed(Action.DETAILS_FIRST_RELEASE, 12)
    assert pattern(Action.DETAILS, Action.DETAILS_FIRST_RELEASE).match("st:12")


@pytest.mark.parametrize("data", FORGED)
def test_forged_data_matches_nothing(data: str) -> None:
    assert parse(data) is None
    assert callbacks.ANY_ACTION.match(data) is None
    for action in Action:
        assert pattern(action).match(data) is None


def test_parse_of_no_data() -> None:
    assert parse(None) is None


@pytest.mark.parametrize("number", [-1, 10**12])
def test_pack_refuses_numbers_the_patterns_would_not_match(number: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        pack(Action.DETAILS, number)


# --- the keyboards texts builds -----------------------------------------------------------


def followed(shipment_id: int, label: str | None = None) -> Followed:
    code = f"RR{shipment_id:09d}IT"
    shipment = Shipment(
        shipment_id, "poste-italiane", code, None, True, "transit", None, None, None
    )
    return Followed(shipment, label, None, None, f"2026-01-01T00:{shipment_id:02d}:00")


def callback_data(keyboard: InlineKeyboardMarkup | None) -> Iterator[str]:
    assert keyboard is not None
    for row in keyboard.inline_keyboard:
        for button in row:
            assert isinstance(button.callback_data, str)
            yield button.callback_data


def every_keyboard(t: Translator) -> Iterator[InlineKeyboardMarkup | None]:
    for status in ("transit", "expired", None):
        for muted in (False, True):
            yield keyboards.shipment_keyboard(t, 10**12 - 1, muted=muted, status=status)
    yield keyboards.remove_confirmation(t, 3)
    many = [followed(i, label="x" * 100 if i % 2 else None) for i in range(1, 36)]
    for archived in (False, True):
        for page in range(4):
            yield lists.followed_page(t, many, page, archived=archived).keyboard
    found = [Searchable(item, "In transito", "ROMA") for item in many]
    for page in range(4):
        yield finds.found_page(t, "transito", found, page).keyboard
    yield photo_offer.offer(t, ["4006381333931", "1Z999AA10123456784"])[1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_keyboard_carries_data_the_routes_match(language: str) -> None:
    seen: set[Action] = set()
    for keyboard in every_keyboard(Translator(language)):
        for data in callback_data(keyboard):
            pressed = parse(data)
            assert pressed is not None, data
            assert len(data.encode()) <= callbacks.MAX_DATA_BYTES
            seen.add(pressed.action)
    # Every action has a button, except the first release's one (no longer written).
    assert seen == set(Action) - {Action.DETAILS_FIRST_RELEASE}


def test_the_list_keyboard_pages_and_names() -> None:
    t = Translator("en")
    many = [followed(i) for i in range(1, 26)]
    page = lists.followed_page(t, many, 1)
    data = list(callback_data(page.keyboard))
    assert data[-2:] == ["l:0", "l:2"]
    assert all(d.startswith("d:") for d in data[:-2]) and len(data) == 12
    archived = lists.followed_page(t, many[:1], 0, archived=True)
    assert archived.keyboard is not None
    [[button]] = archived.keyboard.inline_keyboard
    assert (button.text, button.callback_data) == ("♻️ RR000000001IT", "ar:1")


# --- the routes ------------------------------------------------------------------------------


def button_handlers() -> list[CallbackQueryHandler[Any, Any]]:
    application = Application.builder().token("123456:TEST").build()
    register_handlers(application)
    return [
        handler
        for group in sorted(application.handlers)
        for handler in application.handlers[group]
        if isinstance(handler, CallbackQueryHandler)
    ]


def routed_to(handlers: list[CallbackQueryHandler[Any, Any]], data: str) -> object:
    query = CallbackQuery("1", User(1, "Ada", is_bot=False), "instance", data=data)
    update = Update(1, callback_query=query)
    for handler in handlers:
        if handler.check_update(update):
            return handler.callback
    return None


ROUTES: dict[Action, Callable[[Update, Context], Coroutine[Any, Any, None]]] = {
    Action.DETAILS: buttons.show_details,
    Action.DETAILS_FIRST_RELEASE: buttons.show_details,
    Action.RENAME: buttons.ask_for_name,
    Action.TOGGLE_MUTE: buttons.toggle_mute,
    Action.ASK_TO_REMOVE: buttons.ask_to_remove,
    Action.CONFIRM_REMOVE: buttons.confirm_remove,
    Action.CANCEL_REMOVE: buttons.cancel_remove,
    Action.REFRESH: buttons.refresh,
    Action.RETRACK: buttons.retrack,
    Action.RESTORE: buttons.restore,
    Action.LIST_PAGE: buttons.show_list_page,
    Action.ARCHIVED_PAGE: buttons.show_archived_page,
    Action.FIND_PAGE: buttons.show_find_page,
    Action.PHOTO_FOLLOW: photos.follow_offered,
    Action.PHOTO_IGNORE: photos.ignore_offered,
}


def test_every_action_is_routed_to_its_callback_and_the_rest_is_stale() -> None:
    handlers = button_handlers()
    assert set(ROUTES) == set(Action)
    for action, callback in ROUTES.items():
        for number in NUMBERS:
            assert routed_to(handlers, pack(action, number)) is callback, action
    for data in FORGED:
        if data:  # PTB hands a query without data to every pattern: see the next test
            assert routed_to(handlers, data) is buttons.stale_button, data
    # The catch-all comes last: nothing after it would ever run.
    assert handlers[-1].callback is buttons.stale_button and handlers[-1].pattern is None


@pytest.mark.parametrize("data", ["", None])
@pytest.mark.parametrize("action", [a for a in Action if a != Action.DETAILS_FIRST_RELEASE])
def test_a_query_without_data_reaching_a_route_is_answered_stale(
    monkeypatch: pytest.MonkeyPatch, action: Action, data: str | None
) -> None:
    """PTB's CallbackQueryHandler lets a query without data through any pattern; the routes
    read the data again, so such a query is answered like forged data."""
    answers: list[str | None] = []

    async def answer(text: str | None = None, **_: Any) -> None:
        answers.append(text)

    async def english(*_: Any) -> Translator:
        return Translator("en")

    monkeypatch.setattr(buttons, "chat_translator", english)
    update = SimpleNamespace(
        callback_query=SimpleNamespace(data=data, answer=answer),
        effective_chat=SimpleNamespace(id=1),
    )
    context = SimpleNamespace()  # no services: none may be used
    asyncio.run(ROUTES[action](update, context))  # type: ignore[arg-type]  # duck-typed stubs
    assert answers == [Translator("en").plain("button.stale")]


# --- pop-ups are plain text ------------------------------------------------------------------


def _popup_update(answers: list[str | None]) -> SimpleNamespace:
    async def answer(text: str | None = None, **_: Any) -> None:
        answers.append(text)

    async def nothing(*_: Any, **__: Any) -> None:
        return None

    query = SimpleNamespace(
        data="m:7", answer=answer, edit_message_reply_markup=nothing, edit_message_text=nothing
    )
    return SimpleNamespace(
        callback_query=query,
        effective_chat=SimpleNamespace(id=1, type="group"),
        effective_user=SimpleNamespace(id=2),
    )


def _popup_context() -> SimpleNamespace:
    async def nothing(*_: Any, **__: Any) -> None:
        return None

    async def no_list(*_: Any, **__: Any) -> list[Followed]:
        return []

    follows = SimpleNamespace(set_muted=nothing, set_archived=nothing, list_followed=no_list)
    return SimpleNamespace(services=SimpleNamespace(storage=SimpleNamespace(follows=follows)))


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (buttons.toggle_mute, "🔕 Tom & Jerry <3>: no more messages here until you unmute it."),
        (buttons.restore, "♻️ Tom & Jerry <3> is back in /list."),
        (
            buttons.confirm_remove,
            "Only the group's admins can remove a shipment someone else (Ann & Bo) added.",
        ),
    ],
)
def test_popups_show_names_as_written_not_html_escaped(
    monkeypatch: pytest.MonkeyPatch, action: Any, expected: str
) -> None:
    answers: list[str | None] = []
    item = followed(7, label="Tom & Jerry <3>")
    item = Followed(item.shipment, item.label, 99, "Ann & Bo", item.added_at, False, "2026-01-02")

    async def english(*_: Any) -> Translator:
        return Translator("en")

    async def found(*_: Any) -> Followed:
        return item

    async def not_an_admin(*_: Any) -> bool:
        return False

    monkeypatch.setattr(buttons, "chat_translator", english)
    monkeypatch.setattr(buttons, "_followed", found)
    monkeypatch.setattr(buttons, "may_manage_chat", not_an_admin)
    asyncio.run(action(_popup_update(answers), _popup_context()))
    assert answers[0] == expected
