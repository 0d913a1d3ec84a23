"""The services handlers use, reachable from PTB's callback context (`context.services`).

`bot.app` builds them; handlers only read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.carrier import TrackingMoreClient
from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.handlers.roles import ChatRoles
from bot.outbound.digest import Digests
from bot.outbound.notifier import Notifier
from bot.storage import Storage
from bot.tracking.couriers import CourierDirectory
from bot.tracking.poller import Poller
from bot.tracking.tracker import Tracker

SERVICES_KEY = "services"


@dataclass
class Services:
    settings: Settings
    storage: Storage
    carrier: TrackingMoreClient
    tracker: Tracker
    poller: Poller
    notifier: Notifier
    access: AccessPolicy
    digests: Digests
    couriers: CourierDirectory
    roles: ChatRoles


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return services_of(self.application)


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    return application.bot_data[SERVICES_KEY]  # type: ignore[no-any-return]
