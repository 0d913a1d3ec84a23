"""Who is asking: a browser session (cookie `postino_desk`, made by opening a login link) or
a Telegram Mini App (`Authorization: tma <initData>`, signed by Telegram with the bot's token).

initData is checked as Telegram documents ("Validating data received via the Mini App"):
secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token); the data-check string is every
field but `hash`, sorted by key, as `key=value` joined by "\\n"; the hash must equal
hex(HMAC_SHA256(key=secret_key, msg=data_check_string)), and auth_date be at most 24 h old.
Nothing secret (tokens, session ids, initData, hashes) is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from bot.core.access import AccessPolicy
from bot.core.desk_tokens import SESSION_IDLE_LIMIT, new_token, token_hash
from bot.core.times import parse_iso_utc, utcnow
from bot.storage import Storage
from bot.storage.desk import DeskGrant

logger = logging.getLogger(__name__)

COOKIE_NAME = "postino_desk"
INIT_DATA_MAX_AGE_SECONDS = 24 * 3600
TOUCH_EVERY = timedelta(minutes=1)  # a session's last_seen_at is written at most this often
MAX_INIT_DATA_LENGTH = 8192


@dataclass(frozen=True)
class MiniAppUser:
    id: int
    name: str
    language_code: str | None


@dataclass(frozen=True)
class Principal:
    """An authenticated asker: this user, for this one chat."""

    chat_id: int
    user_id: int
    user_name: str
    language_code: str | None = None  # the Mini App's; sessions take the chat's
    renewed: bool = False  # a session just marked as used: its cookie's 12 hours start again


def init_data_secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def init_data_hash(fields: dict[str, str], bot_token: str) -> str:
    """The hex hash Telegram signs `fields` (every field but `hash`) with."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(init_data_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()


def validate_init_data(
    init_data: str,
    bot_token: str,
    *,
    now: float | None = None,
    max_age: float = INIT_DATA_MAX_AGE_SECONDS,
) -> MiniAppUser | None:
    """The user of genuine, fresh initData; None when forged, stale or without a user."""
    if not init_data or len(init_data) > MAX_INIT_DATA_LENGTH:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a field twice: not what Telegram signs
        return None
    given = fields.pop("hash", "")
    expected = init_data_hash(fields, bot_token)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return None
    try:
        auth_date = int(fields.get("auth_date", ""))
        user = json.loads(fields.get("user", ""))
    except ValueError:
        return None
    moment = time.time() if now is None else now
    if not isinstance(user, dict) or not 0 <= moment - auth_date <= max_age:
        return None
    user_id = user.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        return None
    name = " ".join(
        str(user[part]) for part in ("first_name", "last_name") if user.get(part)
    ) or str(user_id)
    language = user.get("language_code")
    return MiniAppUser(user_id, name, language if isinstance(language, str) else None)


class DeskAuth:
    """Login links into sessions, and sessions or initData into a `Principal`; the access
    policy (ALLOWED_USER_IDS / ALLOWED_CHAT_IDS) is applied every time."""

    def __init__(self, storage: Storage, access: AccessPolicy, bot_token: str) -> None:
        self._storage = storage
        self._access = access
        self._bot_token = bot_token

    async def open_link(self, token: str) -> str | None:
        """A new session id for a valid login link (used up by this), else None."""
        if not token or len(token) > 200:
            return None
        grant = await self._storage.desk.use_link(token_hash(token))
        if grant is None or not self._access.allows(grant.user_id, grant.chat_id):
            logger.info("a web desk login link was refused")
            return None
        session = new_token()
        await self._storage.desk.add_session(token_hash(session), grant)
        logger.info("a web desk login link was used (chat %s)", grant.chat_id)
        return session

    async def principal(self, cookie: str | None, authorization: str | None) -> Principal | None:
        if authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() != "tma":
                return None
            return self._mini_app(value.strip())
        if cookie:
            return await self._session(cookie)
        return None

    def _mini_app(self, init_data: str) -> Principal | None:
        user = validate_init_data(init_data, self._bot_token)
        if user is None or not self._access.allows(user.id, user.id):
            return None
        return Principal(user.id, user.id, user.name, user.language_code)

    async def _session(self, cookie: str) -> Principal | None:
        if len(cookie) > 200:
            return None
        now = utcnow()
        id_hash = token_hash(cookie)
        grant = await self._storage.desk.session(id_hash, now - SESSION_IDLE_LIMIT)
        if grant is None or not self._access.allows(grant.user_id, grant.chat_id):
            return None
        renewed = await self._touch(id_hash, grant, now)
        name = grant.user_name or str(grant.user_id)
        return Principal(grant.chat_id, grant.user_id, name, renewed=renewed)

    async def _touch(self, id_hash: str, grant: DeskGrant, now: datetime) -> bool:
        seen = parse_iso_utc(grant.last_seen_at)
        if seen is None or now - seen >= TOUCH_EVERY:
            await self._storage.desk.touch_session(id_hash, now)
            return True
        return False
