"""The web desk's JSON API under /desk/api/ (the contract: /tmp/desk/CONTRACT.md, the README's
"Web desk"), and the desk's aiohttp application (`build_desk_app`).

Every request is authenticated (`bot.web.auth`) and asks about the one chat its session or
Mini App is for; what it does goes through the chat's own code paths (the tracker, the same
10-minute refresh rule, the same stores), so the page and the chat always agree.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.core.access import AccessPolicy
from bot.core.codes import clean_label
from bot.core.desk_tokens import base_url_of
from bot.core.message_codes import parse_message
from bot.core.times import parse_iso_utc, utcnow
from bot.storage import Followed, Storage
from bot.texts import reports
from bot.texts.i18n import Translator, chat_language, translator
from bot.tracking.tracker import Requester, Tracker
from bot.web import rows
from bot.web.additions import add_answer
from bot.web.auth import COOKIE_NAME, DeskAuth, Principal
from bot.web.pages import Pages

logger = logging.getLogger(__name__)

MayManage = Callable[[int, int], Awaitable[bool]]  # (chat id, user id) → may manage the chat
MAX_JSON_BYTES = 64 * 1024
MAX_BULK_IDS = 500
MAX_ADD_CHARS = 20_000
REFRESH_INTERVAL = timedelta(minutes=10)  # as the chat's Refresh button
CLEAR_LABEL = "-"
TIMELINE_EVENTS = 200
Handler = Callable[["Asked"], Awaitable[web.StreamResponse]]
OneHandler = Callable[["Asked", Followed], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class DeskDeps:
    settings: Settings
    storage: Storage
    tracker: Tracker
    access: AccessPolicy
    may_manage: MayManage
    belongs: MayManage  # still in the chat: a group's former member loses the desk
    bot_username: Callable[[], str]


@dataclass(frozen=True)
class Asked:
    """An authenticated request about its own chat, in that chat's language."""

    request: web.Request
    who: Principal
    chat_id: int
    chat_type: str
    chat_title: str
    t: Translator
    body: Any = None

    async def can_manage(self, deps: DeskDeps) -> bool:
        if self.chat_type == "private":
            return True
        return await deps.may_manage(self.chat_id, self.who.user_id)


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store"}


def build_desk_app(deps: DeskDeps) -> web.Application:
    """The sub-application the web server mounts under /desk/."""
    api = DeskApi(deps)
    app = web.Application()
    settings = deps.settings
    base = base_url_of(
        settings.public_base_url, settings.telegram_webhook_url, settings.webhook_listen
    )
    pages = Pages(api.auth, base, translator(settings.default_language))
    pages.register(app)
    api.renew_cookie = pages.set_session_cookie
    api.register(app)
    return app


class DeskApi:
    def __init__(self, deps: DeskDeps) -> None:
        self.deps = deps
        self.auth = DeskAuth(deps.storage, deps.access, deps.settings.telegram_bot_token)
        self.renew_cookie: Callable[[web.StreamResponse, str], None] | None = None

    def register(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/session", self._route(self.session, in_chat=False))
        chat = "/api/chats/{chat_id}"
        one = chat + "/shipments/{shipment_id}"
        r.add_get(chat + "/shipments", self._route(self.shipments))
        r.add_get(one + "/timeline", self._route(self._one(self.timeline)))
        r.add_post(one + "/rename", self._route(self._one(self.rename)))
        r.add_post(one + "/mute", self._route(self._one(self.mute)))
        r.add_post(one + "/refresh", self._route(self._one(self.refresh)))
        r.add_post(one + "/remove", self._route(self._one(self.remove)))
        r.add_post(chat + "/bulk", self._route(self.bulk))
        r.add_post(chat + "/export", self._route(self.export))
        r.add_post(chat + "/add", self._route(self.add))

    # --- the checks every API request passes ------------------------------------------------

    def _route(
        self, handler: Handler, *, in_chat: bool = True
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            who = await self.auth.principal(
                request.cookies.get(COOKIE_NAME), request.headers.get("Authorization")
            )
            if who is None:
                return error(401, "unauthorized")
            if in_chat and _int(request.match_info.get("chat_id")) != who.chat_id:
                return error(403, "forbidden")
            if not await self.deps.belongs(who.chat_id, who.user_id):
                return error(403, "forbidden")
            asked = await self._asked(request, who)
            if request.method == "POST":
                refusal = await _json_body(asked)
                if isinstance(refusal, web.Response):
                    return refusal
                asked = refusal
            response = await handler(asked)
            cookie = request.cookies.get(COOKIE_NAME)
            if who.renewed and cookie and self.renew_cookie is not None:
                self.renew_cookie(response, cookie)
            return response

        return route

    async def _asked(self, request: web.Request, who: Principal) -> Asked:
        settings = self.deps.settings
        chat = await self.deps.storage.chats.get_chat(who.chat_id)
        if chat is None:  # a Mini App opened before the chat ever wrote: the user's own
            kind, title = "private", who.user_name
            language = chat_language(None, who.language_code, kind, settings.default_language)
        else:
            kind, title = chat.type, chat.title or who.user_name
            language = chat_language(
                chat.language, chat.user_language, chat.type, settings.default_language
            )
        return Asked(request, who, who.chat_id, kind, title, translator(language))

    def _one(self, handler: OneHandler) -> Handler:
        """A handler of one shipment of the chat's (`{shipment_id}`): 404 for any other."""

        async def one(asked: Asked) -> web.StreamResponse:
            followed = await self._followed(asked)
            if followed is None:
                return error(404, "not found")
            return await handler(asked, followed)

        return one

    async def _followed(self, asked: Asked) -> Followed | None:
        shipment_id = _int(asked.request.match_info.get("shipment_id"))
        if shipment_id is None:
            return None
        return await self.deps.storage.follows.get_followed_by_id(asked.chat_id, shipment_id)

    async def _row(self, asked: Asked, shipment_id: int) -> rows.Row | None:
        entries = await self.deps.storage.desk.entries(asked.chat_id, [shipment_id])
        if not entries:
            return None
        can_manage = await asked.can_manage(self.deps)
        return rows.desk_row(asked.t, entries[0], user_id=asked.who.user_id, can_manage=can_manage)

    async def _row_answer(self, asked: Asked, shipment_id: int, **extra: Any) -> web.Response:
        row = await self._row(asked, shipment_id)
        if row is None:
            return error(404, "not found")
        return web.json_response({"row": row, **extra}, headers=_NO_STORE)

    # --- reading ---------------------------------------------------------------------------

    async def session(self, asked: Asked) -> web.StreamResponse:
        t = asked.t
        return web.json_response(
            {
                "chat": {"id": asked.chat_id, "title": asked.chat_title, "type": asked.chat_type},
                "user": {"id": asked.who.user_id, "name": asked.who.user_name},
                "language": t.language,
                "can_manage": await asked.can_manage(self.deps),
                "bot_username": self.deps.bot_username(),
                "texts": t.templates("desk."),
            },
            headers=_NO_STORE,
        )

    async def shipments(self, asked: Asked) -> web.StreamResponse:
        can_manage = await asked.can_manage(self.deps)
        user_id = asked.who.user_id
        revision = rows.revision(
            await self.deps.storage.desk.fingerprint(asked.chat_id),
            language=asked.t.language,
            user_id=user_id,
            can_manage=can_manage,
        )
        # Weak: the same rows go out gzipped or not, byte for byte different.
        etag = f'W/"{revision}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache, private"}
        given = [
            tag.strip().removeprefix("W/")
            for tag in asked.request.headers.get("If-None-Match", "").split(",")
        ]
        if f'"{revision}"' in given or revision in given:
            return web.Response(status=304, headers=headers)
        # Read after the revision: a change in between shows now and moves the next revision.
        entries = await self.deps.storage.desk.entries(asked.chat_id)
        shown = rows.rows_of(asked.t, entries, user_id=user_id, can_manage=can_manage)
        rows_json = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"rows":{rows_json},"revision":"{revision}"}}'.encode()
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in asked.request.headers.get("Accept-Encoding", "").lower():
            # 2,000 rows are 1.3 MB of JSON, a phone's whole page: gzip's fastest level takes
            # them to about a tenth in a few milliseconds (the default level costs ~10x more).
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def timeline(self, asked: Asked, followed: Followed) -> web.StreamResponse:
        events = await self.deps.storage.follows.events(followed.shipment.id, TIMELINE_EVENTS)
        return web.json_response({"events": rows.timeline(asked.t, events)}, headers=_NO_STORE)

    # --- one shipment -----------------------------------------------------------------------

    async def rename(self, asked: Asked, followed: Followed) -> web.StreamResponse:
        text = asked.body.get("label")
        if not isinstance(text, str):
            return error(400, asked.t.plain("webdesk.error.bad_request"))
        text = text.strip()
        label = None if text in ("", CLEAR_LABEL) else clean_label(text)[0]
        await self.deps.storage.follows.set_label(asked.chat_id, followed.shipment.id, label)
        return await self._row_answer(asked, followed.shipment.id)

    async def mute(self, asked: Asked, followed: Followed) -> web.StreamResponse:
        muted = asked.body.get("muted")
        if not isinstance(muted, bool):
            return error(400, asked.t.plain("webdesk.error.bad_request"))
        await self.deps.storage.follows.set_muted(asked.chat_id, followed.shipment.id, muted)
        return await self._row_answer(asked, followed.shipment.id)

    async def refresh(self, asked: Asked, followed: Followed) -> web.StreamResponse:
        t = asked.t
        shipment = followed.shipment
        blocked_by = await self.deps.storage.follows.claim_refresh(
            shipment.id, utcnow() - REFRESH_INTERVAL
        )
        if blocked_by is not None:
            last = parse_iso_utc(blocked_by) or utcnow()
            return error(429, t.plain("refresh.too_soon", when=t.time(last + REFRESH_INTERVAL)))
        try:
            changed = await self.deps.tracker.refresh(shipment)
        except Exception as exc:  # CarrierError, TimeoutError: the carrier did not answer
            logger.warning("desk refresh of %s failed: %r", shipment.code, exc)
            return error(502, t.plain("refresh.failed"))
        return await self._row_answer(asked, shipment.id, changed=changed)

    async def remove(self, asked: Asked, followed: Followed) -> web.StreamResponse:
        if not await self._may_remove(asked, followed):
            name = followed.added_by_name or "?"
            return error(403, asked.t.plain("remove.admins_only", name=name))
        await self.deps.storage.follows.unfollow_by_id(asked.chat_id, followed.shipment.id)
        return web.json_response({"removed": True}, headers=_NO_STORE)

    async def _may_remove(self, asked: Asked, followed: Followed) -> bool:
        if rows.may_remove(followed.added_by, asked.who.user_id, can_manage=False):
            return True
        return await asked.can_manage(self.deps)

    # --- many shipments ---------------------------------------------------------------------

    async def bulk(self, asked: Asked) -> web.StreamResponse:
        action, ids = asked.body.get("action"), _ids(asked.body.get("ids"))
        if action not in ("remove", "mute", "unmute") or ids is None:
            return error(400, asked.t.plain("webdesk.error.bad_request"))
        if len(ids) > MAX_BULK_IDS:
            return error(400, asked.t.plain("webdesk.error.too_many", limit=MAX_BULK_IDS))
        follows = self.deps.storage.follows
        done: list[int] = []
        refused: list[int] = []
        for shipment_id in dict.fromkeys(ids):
            followed = await follows.get_followed_by_id(asked.chat_id, shipment_id)
            if followed is None or (
                action == "remove" and not await self._may_remove(asked, followed)
            ):
                refused.append(shipment_id)
                continue
            if action == "remove":
                await follows.unfollow_by_id(asked.chat_id, shipment_id)
            else:
                await follows.set_muted(asked.chat_id, shipment_id, action == "mute")
            done.append(shipment_id)
        return web.json_response({"done": done, "refused": refused}, headers=_NO_STORE)

    async def export(self, asked: Asked) -> web.StreamResponse:
        ids = _ids(asked.body.get("ids", []))
        if ids is None:
            return error(400, asked.t.plain("webdesk.error.bad_request"))
        entries = await self.deps.storage.desk.entries(asked.chat_id, ids or None)
        filename = reports.export_filename(asked.chat_id, utcnow())
        return web.Response(
            body=reports.export_csv(asked.t, [entry.row for entry in entries]),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{filename}"',
                **_NO_STORE,
            },
        )

    async def add(self, asked: Asked) -> web.StreamResponse:
        text = asked.body.get("text")
        if not isinstance(text, str):
            return error(400, asked.t.plain("webdesk.error.bad_request"))
        if len(text) > MAX_ADD_CHARS:
            return error(413, asked.t.plain("webdesk.error.too_long", limit=MAX_ADD_CHARS))
        settings = self.deps.settings
        parsed = parse_message(text, max_codes=settings.max_codes_per_import)
        who = Requester(asked.chat_id, asked.who.user_id, asked.who.user_name)
        results = await self.deps.tracker.follow(who, parsed.entries) if parsed.entries else []
        return web.json_response(
            add_answer(asked.t, parsed, results, settings.max_shipments_per_chat),
            headers=_NO_STORE,
        )


async def _json_body(asked: Asked) -> Asked | web.Response:
    request, t = asked.request, asked.t
    if request.content_type != "application/json":
        return error(415, t.plain("webdesk.error.not_json"))
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        return error(413, t.plain("webdesk.error.too_large"))
    raw = await request.read()
    if len(raw) > MAX_JSON_BYTES:
        return error(413, t.plain("webdesk.error.too_large"))
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return error(400, t.plain("webdesk.error.bad_json"))
    if not isinstance(body, dict):
        return error(400, t.plain("webdesk.error.bad_request"))
    return Asked(request, asked.who, asked.chat_id, asked.chat_type, asked.chat_title, t, body)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _ids(value: Any) -> Sequence[int] | None:
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        return None
    return value
