"""The desk's page and its files (bot/web/static), and the login link that opens a session.

The page is served with a strict Content-Security-Policy (no inline code, nothing from
elsewhere; framed only by Telegram's web clients); files only from the static folder, by a
plain name (no paths, so no way out of it).
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from bot.core.desk_tokens import SESSION_IDLE_LIMIT
from bot.texts.i18n import Translator
from bot.web.auth import COOKIE_NAME, DeskAuth

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors https://web.telegram.org https://*.telegram.org "
        "'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_file(name: str) -> Path | None:
    """The static file of that plain name, or None (unknown, hidden, or a path)."""
    if not _NAME_RE.match(name) or ".." in name:
        return None
    path = STATIC_DIR / name
    if path.suffix not in CONTENT_TYPES or not path.is_file():
        return None
    return path


class Pages:
    def __init__(self, auth: DeskAuth, public_base_url: str, t: Translator) -> None:
        self._auth = auth
        self._secure = public_base_url.startswith("https://")
        base_path = public_base_url.split("://", 1)[-1].partition("/")[2].strip("/")
        self._desk_path = f"/{base_path}/desk/" if base_path else "/desk/"
        self._t = t  # the default language: a login page knows no chat yet

    def register(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/login/{token}", self.login)

    async def index(self, _request: web.Request) -> web.StreamResponse:
        path = static_file("index.html")
        if path is None:
            return _plain(404, "not found")
        return web.Response(
            body=path.read_bytes(),
            headers={**PAGE_HEADERS, "Content-Type": CONTENT_TYPES[".html"]},
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        path = static_file(request.match_info["name"])
        if path is None:
            return _plain(404, "not found")
        return web.Response(
            body=path.read_bytes(),
            headers={
                "Content-Type": CONTENT_TYPES[path.suffix],
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        session = await self._auth.open_link(request.match_info["token"])
        if session is None:
            return _plain(401, self._t.plain("webdesk.link_invalid"))
        response = web.Response(
            status=303,
            headers={
                "Location": self._desk_path,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )
        self.set_session_cookie(response, session)
        return response

    def set_session_cookie(self, response: web.StreamResponse, session: str) -> None:
        """The session's cookie, valid 12 hours from now: set at login, and again whenever
        the session is marked as used, so it lasts until 12 hours without use."""
        response.set_cookie(
            COOKIE_NAME,
            session,
            max_age=int(SESSION_IDLE_LIMIT.total_seconds()),
            path=self._desk_path,
            httponly=True,
            samesite="Lax",
            secure=self._secure,
        )


def _plain(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
