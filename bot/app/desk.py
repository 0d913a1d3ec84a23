"""The web desk, wired: its sub-application (`bot.web.api`) with the stores, the tracker, the
access policy, and what needs the Bot: a user's place in a chat (`ChatRoles`, shared with the
access gate) and the bot's username."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from telegram import Bot

from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.handlers.roles import ChatRoles
from bot.storage import Storage
from bot.tracking.tracker import Tracker
from bot.web.api import DeskDeps, build_desk_app


def desk_app(
    settings: Settings,
    storage: Storage,
    tracker: Tracker,
    access: AccessPolicy,
    roles: ChatRoles,
    bot: Bot,
) -> Callable[[], web.Application]:
    """What the web server mounts under /desk/ (a new sub-application each time it starts)."""
    deps = DeskDeps(
        settings=settings,
        storage=storage,
        tracker=tracker,
        access=access,
        may_manage=roles.may_manage,
        belongs=roles.belongs,
        bot_username=lambda: bot.username or "",
    )
    return lambda: build_desk_app(deps)
