"""A fake Telegram Bot API server speaking real HTTP, shaped after what python-telegram-bot sends.

PTB 22 POSTs every call to ``{base_url}{token}/{method}`` as ``application/x-www-form-urlencoded``
(``multipart/form-data`` when a file is uploaded). Every parameter value is a string: plain strings
travel verbatim, everything else (ints, bools, nested objects such as ``reply_markup``) is JSON
encoded. File downloads are GETs of ``{base_file_url}{token}/{file_path}``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web

from . import BackgroundServer, TokenBucket, take_all_or_wait
from .forums import Forums

JSON = dict[str, Any]

MAX_POLL_SECONDS = 5.0
DEFAULT_GROUP_USER_ID = 424242
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
PHOTO_SIDES = (90, 320, 800, 1280, 2560)  # the sizes Telegram makes of a photo, up to 2560 px
# What Telegram answers the getUpdates a newer one terminated (from any client).
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

# Parameters whose value is a plain string even when it looks like JSON ("123", "true").
_RAW_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "file_id",
        "url",
        "secret_token",
        "language_code",
        "action",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
    }
)
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(@\w+)?")
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_START_PARAMETER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# answerInlineQuery: how long a query may wait for its answer, and what one answer holds.
INLINE_ANSWER_SECONDS = 10.0
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


class TelegramApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description", ...}``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {detail}")


def _forbidden(detail: str) -> TelegramApiError:
    return TelegramApiError(403, f"Forbidden: {detail}")


def _retry_after(seconds: int) -> TelegramApiError:
    return TelegramApiError(
        429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
    )


def _migrated(new_chat_id: int) -> TelegramApiError:
    return TelegramApiError(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": new_chat_id},
    )


# A 1×1 white PNG: what a recorded update's files hold here (their real bytes are not published).
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7356b000000"
    "0049454e44ae426082"
)

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_ERROR_FACTORIES: dict[str, Callable[[str], TelegramApiError]] = {
    "retry_after": lambda arg: _retry_after(int(arg)),
    "blocked": lambda _: _forbidden("bot was blocked by the user"),
    "kicked": lambda _: _forbidden("bot was kicked from the group chat"),
    "migrate": lambda arg: _migrated(int(arg)),
    "parse_entities": lambda _: _bad_request(
        'can\'t parse entities: Unsupported start tag "x" at byte offset 0'
    ),
    "not_modified": lambda _: _bad_request(_NOT_MODIFIED),
    "server_error": lambda _: TelegramApiError(500, "Internal Server Error"),
    # What Telegram answers for a button to an address it will not link (LAN, localhost).
    "button_url": lambda url: _bad_request(f"inline keyboard button URL '{url}' is invalid"),
}


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    mime_type: str


Handler = Callable[[JSON, dict[str, Upload]], Any]


@dataclass
class _StoredFile:
    file_id: str
    unique_id: str
    path: str
    name: str
    content: bytes
    mime_type: str

    def as_file(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.unique_id,
            "file_size": len(self.content),
            "file_path": self.path,
        }

    def as_document(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.unique_id,
            "file_name": self.name,
            "mime_type": self.mime_type,
            "file_size": len(self.content),
        }


@dataclass
class _Poll:
    """A getUpdates in progress; ``terminated`` once a newer one has taken over."""

    request: web.Request
    terminated: bool = False

    def client_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


@dataclass
class _FailRule:
    method: str
    chat_id: int | None
    remaining: int
    error: TelegramApiError | None
    delay: float


@dataclass
class _Limits:
    global_bucket: TokenBucket
    per_chat_per_s: float
    per_group_per_min: float
    chats: dict[int, TokenBucket] = field(default_factory=dict)

    def bucket(self, chat_id: int) -> TokenBucket:
        if chat_id not in self.chats:
            if chat_id < 0:
                rate, capacity = self.per_group_per_min / 60.0, self.per_group_per_min
            else:
                rate, capacity = self.per_chat_per_s, max(1.0, self.per_chat_per_s)
            self.chats[chat_id] = TokenBucket(rate, capacity)
        return self.chats[chat_id]


def _parse_error(spec: str) -> tuple[TelegramApiError | None, float]:
    """``"retry_after:3"`` → (error, 0.0); ``"timeout:2.5"`` → (None, 2.5)."""
    name, _, arg = spec.partition(":")
    if name == "timeout":
        return None, float(arg)
    if name not in _ERROR_FACTORIES:
        raise ValueError(f"unknown Telegram error kind {spec!r}")
    return _ERROR_FACTORIES[name](arg), 0.0


def _decode_param(name: str, value: str) -> Any:
    if name in _RAW_STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, Upload]]:
    """Query string, then the urlencoded / multipart / JSON body; files are returned apart."""
    params: JSON = {key: _decode_param(key, value) for key, value in request.query.items()}
    uploads: dict[str, Upload] = {}
    if not request.body_exists:
        return params, uploads
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
        return params, uploads
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            uploads[key] = Upload(value.filename, value.file.read(), value.content_type)
        else:
            params[key] = _decode_param(key, str(value))
    return params, uploads


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> JSON:
    match = _COMMAND_RE.match(text)
    if not match:
        return {}
    return {"entities": [{"type": "bot_command", "offset": 0, "length": _utf16_len(match[0])}]}


def _photo_sizes(image_bytes: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, JPEG) of each size Telegram would make of a photo, smallest first."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = opened.convert("RGB")
    sizes = []
    for side in PHOTO_SIDES:
        scaled = image.copy()
        scaled.thumbnail((side, side))
        out = io.BytesIO()
        scaled.save(out, "JPEG", quality=87)
        sizes.append((scaled.width, scaled.height, out.getvalue()))
        if max(image.size) <= side:
            break
    return sizes


def _check_html(text: str) -> None:
    """Reject what Telegram rejects most often: unsupported tags and unbalanced end tags."""
    open_tags: list[str] = []
    for match in _TAG_RE.finditer(text):
        closing, tag = match[1] == "/", match[2].lower()
        offset = len(text[: match.start()].encode())
        if tag not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _bad_request(
                f'can\'t parse entities: Unsupported {kind} tag "{tag}" at byte offset {offset}'
            )
        if not closing:
            open_tags.append(tag)
        elif not open_tags or open_tags.pop() != tag:
            raise _bad_request(f"can't parse entities: Unexpected end tag at byte offset {offset}")
    if open_tags:
        detail = f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"'
        raise _bad_request(f"can't parse entities: {detail}")


def _check_text(text: Any, parse_mode: Any, *, limit: int, what: str) -> None:
    if len(str(text)) > limit:
        raise _bad_request(f"{what} is too long")
    if str(parse_mode).upper() == "HTML":
        _check_html(str(text))


def _as_int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad_request(f"{what} not found") from None


def _reply_to_id(params: JSON) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        return int(reply["message_id"])
    value = params.get("reply_to_message_id")
    return None if value is None else int(value)


def _check_inline_results(results: list[Any]) -> None:
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict) or not result.get("type"):
            raise _bad_request("RESULT_TYPE_INVALID")
        result_id = str(result.get("id") or "")
        if not result_id or len(result_id.encode()) > MAX_INLINE_RESULT_ID_BYTES:
            raise _bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise _bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article" and not str(result.get("title") or "").strip():
            raise _bad_request("RESULT_TITLE_EMPTY")
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            text = str(content["message_text"])
            if not text.strip():
                raise _bad_request("message text is empty")
            _check_text(text, content.get("parse_mode"), limit=MAX_TEXT_LENGTH, what="message")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not str(button.get("text") or "").strip():
        raise _bad_request("BUTTON_TEXT_INVALID")
    start = button.get("start_parameter")
    if start is not None and not _START_PARAMETER_RE.fullmatch(str(start)):
        raise _bad_request("START_PARAM_INVALID")


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


class FakeTelegram(BackgroundServer):
    """A fake Bot API: serves the bot, records what it sends, injects updates and errors."""

    def __init__(
        self,
        token: str = "123456:TEST-secret-token",
        bot_id: int = 123456,
        bot_username: str = "postino_test_bot",
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Postino Test",
            "username": bot_username,
        }
        self._handlers: dict[str, Handler] = self._sync_handlers()
        self._method_names = {name.lower(): name for name in [*self._handlers, "getUpdates"]}
        self._update_ids = count(1)
        self._upload_ids = count(1)
        self._callback_ids = count(1)
        self._inline_ids = count(1)
        self._updates: list[JSON] = []
        self._allowed_updates: list[str] = []
        self._webhook_url = ""
        self._last_message_id: dict[int, int] = {}
        self._stored: dict[tuple[int, int], JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._files: dict[str, _StoredFile] = {}
        self._sent: list[JSON] = []
        self._calls: list[JSON] = []
        self._failed: list[JSON] = []
        self._callbacks: set[str] = set()
        self._answers: list[JSON] = []
        self._inline_queries: dict[str, float] = {}  # id → when asked (monotonic)
        self._inline_answers: list[JSON] = []
        self._commands: dict[str, JSON] = {}
        self._admins: dict[int, list[int]] = {}
        self._creators: dict[int, int] = {}
        self._blocked: set[int] = set()
        self._migrations: dict[int, int] = {}
        self._fail_rules: list[_FailRule] = []
        self._limits: _Limits | None = None
        self._rate_limited = 0
        self._poll_event = asyncio.Event()
        self._closing = False
        self._answer_seconds: float | None = None  # answer_one_at_a_time
        self._in_turn = asyncio.Lock()
        self._dropped = 0
        self._poll: _Poll | None = None  # the getUpdates in progress, if any
        self._conflicts = 0
        self._forums = Forums()
        # Who is in each group, as far as getChatMember tells: whoever wrote or pressed a
        # button there, or joined (join_chat); the creator and admins are in by their role.
        self._members: dict[int, set[int]] = {}

    # -- URLs ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What PTB takes as ``base_url``: the token is appended to it."""
        return f"{self.root_url}/bot"

    @property
    def file_base_url(self) -> str:
        """What PTB takes as ``base_file_url``."""
        return f"{self.root_url}/file/bot"

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        self._poll_event = asyncio.Event()
        self._closing = False
        self._in_turn = asyncio.Lock()
        self._poll = None
        app = self._new_app()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        app.on_shutdown.append(self._release_pollers)
        return app

    async def _release_pollers(self, _app: web.Application) -> None:
        self._closing = True
        self._wake_pollers()

    def _wake_pollers(self) -> None:
        """Runs on the loop: wake every pending getUpdates."""
        event, self._poll_event = self._poll_event, asyncio.Event()
        event.set()

    async def _handle_api(self, request: web.Request) -> web.Response:
        params, uploads = await _read_params(request)
        requested = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._fail(requested, params, TelegramApiError(401, "Unauthorized"))
        method = self._method_names.get(requested.lower())
        if method is None:
            return self._fail(requested, params, TelegramApiError(404, "Not Found"))
        self._record_call(method, params, uploads)
        if self._answer_seconds is not None and method == "sendMessage":
            return await self._answer_in_turn(request, method, params, uploads)
        try:
            result = await self._dispatch(request, method, params, uploads)
        except TelegramApiError as error:
            return self._fail(method, params, error)
        return _json_response({"ok": True, "result": result})

    async def _dispatch(
        self, request: web.Request, method: str, params: JSON, uploads: dict[str, Upload]
    ) -> Any:
        delay = self._take_fail_rule(method, params)
        if delay:
            await asyncio.sleep(delay)
        if method == "getUpdates":
            return await self._long_poll(request, params)
        with self._cond:
            self._check_chat_state(method, params)
            self._check_rate_limits(method, params)
            result = self._handlers[method](params, uploads)
            self._changed()
            return copy.deepcopy(result)

    async def _answer_in_turn(
        self, request: web.Request, method: str, params: JSON, uploads: dict[str, Upload]
    ) -> web.Response:
        """``answer_one_at_a_time``: sendMessage calls are taken one at a time; each is
        delivered when its turn comes and answered ``seconds`` later, then the next is taken.
        A call whose sender hung up while it waited its turn is never taken: what a dead bot
        had in Telegram's hands is the one message being answered."""
        async with self._in_turn:
            transport = request.transport
            if transport is None or transport.is_closing():
                with self._cond:
                    self._dropped += 1
                    self._changed()
                return _json_response({"ok": False, "error_code": 499, "description": "gone"})
            try:
                result = await self._dispatch(request, method, params, uploads)
            except TelegramApiError as error:
                return self._fail(method, params, error)
            await asyncio.sleep(self._answer_seconds or 0.0)
            return _json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(TelegramApiError(401, "Unauthorized").body(), 401)
        path = request.match_info["path"]
        with self._cond:
            stored = next((f for f in self._files.values() if f.path == path), None)
        if stored is None:
            return _json_response(TelegramApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    def _fail(self, method: str, params: JSON, error: TelegramApiError) -> web.Response:
        with self._cond:
            self._failed.append(
                {
                    "method": method,
                    "chat_id": params.get("chat_id"),
                    "error_code": error.status,
                    "description": error.description,
                    "params": params,
                    "time": time.monotonic(),
                }
            )
            self._changed()
        return _json_response(error.body(), error.status)

    def _record_call(self, method: str, params: JSON, uploads: dict[str, Upload]) -> None:
        with self._cond:
            self._calls.append(
                {
                    "method": method,
                    "params": params,
                    "files": {key: upload.filename for key, upload in uploads.items()},
                    "time": time.monotonic(),
                }
            )
            self._changed()

    # -- injected failures, persistent chat states, rate limits -----------------------------

    def _take_fail_rule(self, method: str, params: JSON) -> float:
        """Consume the first matching ``fail_next`` rule: raise its error or return its delay."""
        chat_id = params.get("chat_id")
        with self._cond:
            for rule in self._fail_rules:
                if rule.method == method.lower() and rule.chat_id in (None, chat_id):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._fail_rules.remove(rule)
                    if rule.error is not None:
                        raise rule.error
                    return rule.delay
        return 0.0

    def _check_chat_state(self, method: str, params: JSON) -> None:
        chat_id = params.get("chat_id")
        if chat_id in self._migrations:
            raise _migrated(self._migrations[chat_id])
        if method.startswith(("send", "copy", "forward")) and (
            refusal := self._forums.refusal(
                _as_int(chat_id, "chat"), params.get("message_thread_id")
            )
        ):
            raise _bad_request(refusal)
        if chat_id in self._blocked and method.startswith(("send", "edit", "copy", "forward")):
            raise _forbidden(
                "bot was blocked by the user"
                if int(chat_id) > 0
                else "bot was kicked from the group chat"
            )

    def _check_rate_limits(self, method: str, params: JSON) -> None:
        if self._limits is None or not method.startswith(("send", "edit")):
            return
        chat_id = _as_int(params.get("chat_id"), "chat")
        wait = take_all_or_wait([self._limits.global_bucket, self._limits.bucket(chat_id)])
        if wait:
            self._rate_limited += 1
            raise _retry_after(wait)

    # -- Bot API methods ---------------------------------------------------------------------

    def _sync_handlers(self) -> dict[str, Handler]:
        """Every method but getUpdates, which is a long poll served by ``_long_poll``."""
        return {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
            "sendChatAction": self._true,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "setChatMenuButton": self._true,
            "leaveChat": self._true,
            "setMyDescription": self._true,
            "setMyShortDescription": self._true,
            "setMyName": self._true,
        }

    def _true(self, _params: JSON, _uploads: dict[str, Upload]) -> bool:
        return True

    def _get_me(self, _params: JSON, _uploads: dict[str, Upload]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _long_poll(self, request: web.Request, params: JSON) -> list[JSON]:
        """One getUpdates at a time, as Telegram serves them: a newer call (from any client)
        terminates the one in progress, which is answered 409 (``conflict_count``)."""
        poll = self._take_over(request)
        try:
            loop = asyncio.get_running_loop()
            timeout = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
            deadline = loop.time() + timeout
            while True:
                if poll.terminated:
                    return self._end_terminated(poll)
                with self._cond:
                    batch = self._take_updates(params)
                    self._changed()  # confirmed updates are gone: wait_for_updates_taken
                remaining = deadline - loop.time()
                if batch or self._closing or remaining <= 0:
                    return batch
                event = self._poll_event
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return []
        finally:
            with self._cond:
                if self._poll is poll:
                    self._poll = None

    def _take_over(self, request: web.Request) -> _Poll:
        """Runs on the loop: ``request`` becomes the getUpdates in progress; the one it
        replaces is woken to be answered."""
        poll = _Poll(request)
        with self._cond:
            previous, self._poll = self._poll, poll
        if previous is not None:
            previous.terminated = True
            self._wake_pollers()
        return poll

    def _end_terminated(self, poll: _Poll) -> list[JSON]:
        """The 409 of a terminated getUpdates. One whose client hung up (a killed or stopped
        bot's, still waiting here when its successor polls) is no conflict: it ends quietly,
        since nobody is there to hear the answer."""
        if poll.client_gone():
            return []
        with self._cond:
            self._conflicts += 1
            self._changed()
        raise TelegramApiError(409, GET_UPDATES_CONFLICT)

    def _take_updates(self, params: JSON) -> list[JSON]:
        """getUpdates semantics: ``offset`` confirms older updates, ``limit`` caps the batch."""
        if self._webhook_url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        if self._allowed_updates:
            self._updates = [u for u in self._updates if _update_type(u) in self._allowed_updates]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        return copy.deepcopy(self._updates[:limit])

    def _delete_webhook(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _set_webhook(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        self._webhook_url = str(params.get("url") or "")
        return True

    def _get_webhook_info(self, _params: JSON, _uploads: dict[str, Upload]) -> JSON:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: JSON) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        commands = list(params.get("commands") or [])
        for command in commands:
            if not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
        self._commands[self._commands_key(params)] = {
            "scope": params.get("scope") or {"type": "default"},
            "language_code": params.get("language_code") or "",
            "commands": commands,
        }
        return True

    def _get_my_commands(self, params: JSON, _uploads: dict[str, Upload]) -> list[JSON]:
        record = self._commands.get(self._commands_key(params))
        return record["commands"] if record else []

    def _delete_my_commands(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _send_message(self, params: JSON, _uploads: dict[str, Upload]) -> JSON:
        chat_id = _as_int(params.get("chat_id"), "chat")
        text = params.get("text")
        if not text or not str(text).strip():
            raise _bad_request("message text is empty")
        _check_text(text, params.get("parse_mode"), limit=MAX_TEXT_LENGTH, what="message")
        message = self._bot_message(chat_id, params, text=str(text))
        self._record_sent("sendMessage", chat_id, params, message)
        return message

    def _send_document(self, params: JSON, uploads: dict[str, Upload]) -> JSON:
        chat_id = _as_int(params.get("chat_id"), "chat")
        stored = self._document_from(params, uploads)
        content: JSON = {"document": stored.as_document()}
        if params.get("caption"):
            caption = str(params["caption"])
            _check_text(caption, params.get("parse_mode"), limit=MAX_CAPTION_LENGTH, what="caption")
            content["caption"] = caption
        message = self._bot_message(chat_id, params, **content)
        self._record_sent(
            "sendDocument", chat_id, params, message, document=(stored.name, stored.content)
        )
        return message

    def _document_from(self, params: JSON, uploads: dict[str, Upload]) -> _StoredFile:
        if "document" in uploads:
            upload = uploads["document"]
            return self._store_file(upload.filename, upload.content, upload.mime_type)
        stored = self._files.get(str(params.get("document")))
        if stored is None:
            raise _bad_request("there is no document in the request")
        return stored

    def _edit_message_text(self, params: JSON, _uploads: dict[str, Upload]) -> JSON | bool:
        text = str(params.get("text") or "")
        if not text.strip():
            raise _bad_request("message text is empty")
        _check_text(text, params.get("parse_mode"), limit=MAX_TEXT_LENGTH, what="message")
        return self._edit("editMessageText", params, text=text)

    def _edit_message_reply_markup(self, params: JSON, _uploads: dict[str, Upload]) -> Any:
        return self._edit("editMessageReplyMarkup", params)

    def _edit(self, method: str, params: JSON, **content: Any) -> JSON | bool:
        """Replace text (if given) and reply markup (dropped when absent, as Telegram does)."""
        if params.get("inline_message_id"):
            return True
        chat_id = _as_int(params.get("chat_id"), "chat")
        message = self._stored.get((chat_id, int(params.get("message_id") or 0)))
        if message is None:
            raise _bad_request("message to edit not found")
        markup = params.get("reply_markup")
        if all(message.get(k) == v for k, v in content.items()) and (
            message.get("reply_markup") == markup
        ):
            raise _bad_request(_NOT_MODIFIED)
        message.update(content, edit_date=int(time.time()))
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self._record_sent(method, chat_id, params, message)
        return message

    def _delete_message(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        chat_id = _as_int(params.get("chat_id"), "chat")
        key = (chat_id, int(params.get("message_id") or 0))
        if self._stored.pop(key, None) is None:
            raise _bad_request("message to delete not found")
        self._record_sent("deleteMessage", chat_id, params, {"message_id": key[1]})
        return True

    def _answer_callback_query(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        callback_id = str(params.get("callback_query_id"))
        if callback_id not in self._callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._answers.append(
            {
                "callback_query_id": callback_id,
                "text": params.get("text"),
                "show_alert": bool(params.get("show_alert")),
                "url": params.get("url"),
                "params": params,
                "time": time.monotonic(),
            }
        )
        return True

    def _answer_inline_query(self, params: JSON, _uploads: dict[str, Upload]) -> bool:
        """Validated as Telegram does: a known query answered once, within ~10 s; at most 50
        results with unique ids of at most 64 bytes; each text 1-4096 characters of valid
        HTML; a button with a start parameter of A-Z a-z 0-9 _ - (1-64)."""
        query_id = str(params.get("inline_query_id"))
        asked = self._inline_queries.get(query_id)
        if asked is None or time.monotonic() - asked > INLINE_ANSWER_SECONDS:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH")
        _check_inline_results(results)
        next_offset = "" if params.get("next_offset") is None else str(params["next_offset"])
        if len(next_offset.encode()) > 64:
            raise _bad_request("NEXT_OFFSET_INVALID")
        button = params.get("button")
        if button is not None:
            _check_inline_button(button)
        del self._inline_queries[query_id]
        self._inline_answers.append(
            {
                "inline_query_id": query_id,
                "results": results,
                "cache_time": params.get("cache_time"),
                "is_personal": bool(params.get("is_personal")),
                "next_offset": next_offset,
                "button": button,
                "params": params,
                "time": time.monotonic(),
            }
        )
        return True

    def _get_file(self, params: JSON, _uploads: dict[str, Upload]) -> JSON:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise _bad_request("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_BYTES:  # the Bot API downloads up to 20 MB
            raise _bad_request("file is too big")
        return stored.as_file()

    def _get_chat(self, params: JSON, _uploads: dict[str, Upload]) -> JSON:
        chat = self._chat(_as_int(params.get("chat_id"), "chat"))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": _NO_GIFTS,
        }

    def _get_chat_member(self, params: JSON, _uploads: dict[str, Upload]) -> JSON:
        chat_id = _as_int(params.get("chat_id"), "chat")
        return self._member(chat_id, _as_int(params.get("user_id"), "user"))

    def _get_chat_administrators(self, params: JSON, _uploads: dict[str, Upload]) -> list[JSON]:
        chat_id = _as_int(params.get("chat_id"), "chat")
        if chat_id > 0:
            raise _bad_request("there are no administrators in the private chat")
        creator = [self._creators[chat_id]] if chat_id in self._creators else []
        return [self._member(chat_id, user) for user in creator + self._admins.get(chat_id, [])]

    def _member(self, chat_id: int, user_id: int) -> JSON:
        user = self._user(user_id)
        if self._creators.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self._admins.get(chat_id, []):
            return {"status": "administrator", "user": user, **_ADMIN_RIGHTS}
        if user_id == self.bot_id or user_id in self._members.get(chat_id, set()):
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}  # Telegram's answer for anyone not in it

    # -- state helpers (call with the lock held) ---------------------------------------------

    def _chat(self, chat_id: int) -> JSON:
        """The known chat, or a plausible one for an id the tests never introduced."""
        if chat_id not in self._chats:
            if chat_id > 0:
                self._chats[chat_id] = {"id": chat_id, "type": "private", "first_name": "Ada"}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                self._chats[chat_id] = {"id": chat_id, "type": kind, "title": "Test group"}
        return self._chats[chat_id]

    def _user(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        return self._users.get(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        )

    def _new_message(self, chat_id: int, sender: JSON | None, content: JSON) -> JSON:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        message: JSON = {"message_id": message_id, "date": int(time.time())}
        if sender is not None:
            message["from"] = sender
        message.update(chat=self._chat(chat_id), **content)
        self._stored[(chat_id, message_id)] = message
        if chat_id < 0 and sender is not None and not sender.get("is_bot"):
            self._members.setdefault(chat_id, set()).add(int(sender["id"]))
        return message

    def _bot_message(self, chat_id: int, params: JSON, **content: Any) -> JSON:
        markup = params.get("reply_markup")
        # A Message carries only inline keyboards; ForceReply and reply keyboards are not echoed.
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        reply_to = _reply_to_id(params)
        if reply_to is not None and (chat_id, reply_to) in self._stored:
            content["reply_to_message"] = self._quoted(chat_id, reply_to)
        content.update(self._forums.topic_fields(chat_id, params.get("message_thread_id")))
        return self._new_message(chat_id, self.bot_user, content)

    def _quoted(self, chat_id: int, message_id: int) -> JSON:
        quoted = copy.deepcopy(self._stored[(chat_id, message_id)])
        quoted.pop("reply_to_message", None)
        return quoted

    def _record_sent(
        self,
        method: str,
        chat_id: int,
        params: JSON,
        message: JSON,
        document: tuple[str, bytes] | None = None,
    ) -> None:
        self._sent.append(
            {
                "method": method,
                "chat_id": chat_id,
                "text": params.get("text", params.get("caption")),
                "parse_mode": params.get("parse_mode"),
                "reply_markup": params.get("reply_markup"),
                "disable_notification": bool(params.get("disable_notification")),
                "message_id": message.get("message_id"),
                "reply_to_message_id": _reply_to_id(params),
                "document": document,
                "params": params,
                "time": time.monotonic(),
            }
        )

    def _store_file(self, name: str, content: bytes, mime_type: str) -> _StoredFile:
        number = next(self._upload_ids)
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = _StoredFile(
            file_id=f"BQACAgQAAxkBAAI{number:06d}",
            unique_id=f"AgAD{number:06d}",
            path=f"documents/file_{number}.{suffix}",
            name=name,
            content=content,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    def _push_update(self, payload: JSON) -> JSON:
        update = copy.deepcopy(payload)
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._changed()
        self._call_in_loop(self._wake_pollers)
        return copy.deepcopy(update)

    def _incoming(
        self,
        chat_id: int,
        chat_type: str,
        sender: JSON,
        content: JSON,
        title: str | None = None,
    ) -> JSON:
        """Register the chat and push a message (``channel_post`` for channels) update."""
        self._register_chat(chat_id, chat_type, sender, title)
        if chat_type == "channel":
            content = {"sender_chat": self._chat(chat_id), **content}
            return self._push_update({"channel_post": self._new_message(chat_id, None, content)})
        self._users[sender["id"]] = sender
        return self._push_update({"message": self._new_message(chat_id, sender, content)})

    def _register_chat(self, chat_id: int, chat_type: str, sender: JSON, title: str | None) -> None:
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
            if "username" in sender:
                chat["username"] = sender["username"]
        else:
            default = self._chats.get(chat_id, {}).get("title", f"Test {chat_type}")
            chat = {"id": chat_id, "type": chat_type, "title": title or default}
            if self._forums.is_forum(chat_id):
                chat["is_forum"] = True
        self._chats[chat_id] = chat

    @staticmethod
    def _sender(
        user_id: int, language_code: str, first_name: str = "Ada", username: str | None = None
    ) -> JSON:
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if username:
            user["username"] = username
        return user

    @staticmethod
    def _default_user(chat_id: int, chat_type: str, user_id: int | None) -> int:
        if user_id is not None:
            return user_id
        return chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID

    # -- updates injected by tests ---------------------------------------------------------

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        first_name: str = "Ada",
        username: str | None = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        """A user (or, for ``chat_type="channel"``, the channel) writes ``text``; in forum
        topic ``thread_id`` if given (the message quotes the topic's first one, as there)."""
        user = self._default_user(chat_id, chat_type, user_id)
        sender = self._sender(user, language_code, first_name, username)
        content: JSON = {"text": text, **_command_entities(text)}
        with self._cond:
            if thread_id is not None:
                topic = self._forums.get(chat_id, thread_id)
                content.update(self._forums.topic_fields(chat_id, thread_id))
                content["reply_to_message"] = copy.deepcopy(topic.created)
            if reply_to_message_id is not None:
                if (chat_id, reply_to_message_id) not in self._stored:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                content["reply_to_message"] = self._quoted(chat_id, reply_to_message_id)
            return self._incoming(chat_id, chat_type, sender, content, title)

    # -- forum topics (Telegram's answers for closed and deleted ones: fakes/forums.py) ------

    def create_forum_topic(
        self,
        chat_id: int,
        name: str,
        *,
        user_id: int | None = None,
        title: str = "Shop",
        announce: bool = True,
    ) -> int:
        """A member opens a topic in supergroup ``chat_id`` (made a forum); the bot sees the
        service message (unless not ``announce``: opened before the bot was there). Returns
        the topic's ``message_thread_id``."""
        sender = self._sender(self._default_user(chat_id, "supergroup", user_id), "en")
        with self._cond:
            self._forums.make_forum(chat_id)
            self._register_chat(chat_id, "supergroup", sender, title)
            content = self._forums.created_content(name)
            message = self._new_message(chat_id, sender, content)
            message.update(message_thread_id=message["message_id"], is_topic_message=True)
            topic = self._forums.add(chat_id, copy.deepcopy(message))
            if announce:
                self._push_update({"message": message})
            return topic.thread_id

    def close_forum_topic(
        self,
        chat_id: int,
        thread_id: int,
        *,
        closed: bool = True,
        announce: bool = True,
        user_id: int | None = None,
    ) -> None:
        """Closed (or reopened): Telegram refuses messages for it with TOPIC_CLOSED. As in a
        real forum, the topic shows a service message (`forum_topic_closed` or
        `forum_topic_reopened`), which every bot in the group gets; `announce=False` for one
        the bot missed (it was down)."""
        sender = self._sender(self._default_user(chat_id, "supergroup", user_id), "en")
        with self._cond:
            self._forums.get(chat_id, thread_id).closed = closed
            if announce:
                content = {
                    ("forum_topic_closed" if closed else "forum_topic_reopened"): {},
                    **self._forums.topic_fields(chat_id, thread_id),
                }
                self._push_update({"message": self._new_message(chat_id, sender, content)})

    def delete_forum_topic(self, chat_id: int, thread_id: int) -> None:
        """Deleted with its messages: "message thread not found" from now on."""
        with self._cond:
            self._forums.get(chat_id, thread_id).deleted = True

    def rename_forum_topic(
        self, chat_id: int, thread_id: int, name: str, *, user_id: int | None = None
    ) -> None:
        sender = self._sender(self._default_user(chat_id, "supergroup", user_id), "en")
        with self._cond:
            topic = self._forums.get(chat_id, thread_id)
            topic.name = name
            content = {
                "forum_topic_edited": {"name": name},
                **self._forums.topic_fields(chat_id, thread_id),
            }
            self._push_update({"message": self._new_message(chat_id, sender, content)})

    def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        mime_type: str = "text/csv",
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
    ) -> JSON:
        """A user uploads a file; getFile and the download route serve it afterwards."""
        sender = self._sender(self._default_user(chat_id, chat_type, user_id), language_code)
        with self._cond:
            document = self._store_file(filename, content, mime_type).as_document()
            body: JSON = {"document": document}
            if caption is not None:
                body["caption"] = caption
            return self._incoming(chat_id, chat_type, sender, body)

    def send_photo(
        self,
        chat_id: int,
        image_bytes: bytes,
        *,
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        reply_to_message_id: int | None = None,
        title: str | None = None,
    ) -> JSON:
        """A user sends a picture as a photo: like Telegram, a `photo` array of JPEG sizes
        (each side at most 90, 320, 800, 1280 and 2560 px, none larger than the picture)."""
        sender = self._sender(self._default_user(chat_id, chat_type, user_id), language_code)
        sizes = _photo_sizes(image_bytes)
        with self._cond:
            photo = []
            for number, (width, height, jpeg) in enumerate(sizes):
                stored = self._store_file(f"photo_{number}.jpg", jpeg, "image/jpeg")
                photo.append(
                    {
                        "file_id": stored.file_id,
                        "file_unique_id": stored.unique_id,
                        "width": width,
                        "height": height,
                        "file_size": len(jpeg),
                    }
                )
            body: JSON = {"photo": photo}
            if caption is not None:
                body["caption"] = caption
                body.update({f"caption_{k}": v for k, v in _command_entities(caption).items()})
            if reply_to_message_id is not None:
                if (chat_id, reply_to_message_id) not in self._stored:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
                body["reply_to_message"] = self._quoted(chat_id, reply_to_message_id)
            return self._incoming(chat_id, chat_type, sender, body, title)

    def send_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
    ) -> JSON:
        sender = self._sender(self._default_user(chat_id, chat_type, user_id), language_code)
        sticker = {
            "file_id": "CAACAgIAAxkBAAIBsticker",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        with self._cond:
            return self._incoming(chat_id, chat_type, sender, {"sticker": sticker})

    def edit_text(
        self,
        chat_id: int,
        message_id: int,
        new_text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
    ) -> JSON:
        """The user edits an earlier message of theirs: an ``edited_message`` update."""
        sender = self._sender(self._default_user(chat_id, chat_type, user_id), language_code)
        with self._cond:
            message = self._stored.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            message.pop("entities", None)
            message.update(text=new_text, edit_date=int(time.time()), **_command_entities(new_text))
            self._users[sender["id"]] = sender
            return self._push_update({"edited_message": copy.deepcopy(message)})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
    ) -> str:
        """The user presses an inline button of a bot message; returns the callback query id."""
        sender = self._sender(self._default_user(chat_id, chat_type, user_id), language_code)
        with self._cond:
            callback_id = f"cbq-{next(self._callback_ids)}"
            message = self._stored.get((chat_id, message_id)) or {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat(chat_id),
                "from": self.bot_user,
            }
            self._callbacks.add(callback_id)
            self._users[sender["id"]] = sender
            if chat_id < 0:  # who sees a group's message is in the group
                self._members.setdefault(chat_id, set()).add(int(sender["id"]))
            self._push_update(
                {
                    "callback_query": {
                        "id": callback_id,
                        "from": sender,
                        "chat_instance": f"ci{chat_id}",
                        "message": copy.deepcopy(message),
                        "data": data,
                    }
                }
            )
            return callback_id

    def send_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        language_code: str = "en",
        chat_type: str = "sender",
    ) -> str:
        """The user types ``@bot query`` in a chat of ``chat_type``; returns the query id."""
        sender = self._sender(user_id, language_code)
        with self._cond:
            query_id = f"iq-{next(self._inline_ids)}"
            self._inline_queries[query_id] = time.monotonic()
            self._users[user_id] = sender
            inline: JSON = {"id": query_id, "from": sender, "query": query, "offset": offset}
            if chat_type:
                inline["chat_type"] = chat_type
            self._push_update({"inline_query": inline})
            return query_id

    def add_raw_update(self, update: JSON) -> JSON:
        """Queue an arbitrary update; an ``update_id`` is assigned unless present."""
        with self._cond:
            return self._push_update(update)

    def replay_update(self, recorded: JSON) -> JSON:
        """Queue a recorded update (e.g. a published sample) as Telegram would deliver it now:
        with a fresh ``update_id`` (Telegram's only grow; the recorded one is dropped) and its
        callback query, if any, answerable like one just pressed. Returns the update queued."""
        update = {key: value for key, value in recorded.items() if key != "update_id"}
        with self._cond:
            query = update.get("callback_query")
            if isinstance(query, dict) and "id" in query:
                self._callbacks.add(str(query["id"]))
            self._serve_recorded_files(update)
            return self._push_update(update)

    def _serve_recorded_files(self, value: Any) -> None:
        """Every file a recorded update names (photo sizes, documents…) becomes downloadable,
        as on Telegram, with a blank picture as its content: the bot's path for files runs."""
        if isinstance(value, list):
            for item in value:
                self._serve_recorded_files(item)
        elif isinstance(value, dict):
            file_id = value.get("file_id")
            if isinstance(file_id, str) and file_id not in self._files:
                number = next(self._upload_ids)
                self._files[file_id] = _StoredFile(
                    file_id=file_id,
                    unique_id=str(value.get("file_unique_id") or f"AgAD{number:06d}"),
                    path=f"recorded/file_{number}.png",
                    name=str(value.get("file_name") or f"file_{number}.png"),
                    content=BLANK_PNG,
                    mime_type="image/png",
                )
            for item in value.values():
                self._serve_recorded_files(item)

    # -- configuration by tests ------------------------------------------------------------

    def set_chat_admins(
        self, chat_id: int, user_ids: list[int], *, creator: int | None = None
    ) -> None:
        """``user_ids`` become administrators of the group; ``creator`` its owner."""
        with self._cond:
            self._admins[chat_id] = list(user_ids)
            if creator is None:
                self._creators.pop(chat_id, None)
            else:
                self._creators[chat_id] = creator

    def join_chat(self, chat_id: int, user_id: int) -> None:
        """The user is in the group without having written there yet."""
        with self._cond:
            self._members.setdefault(chat_id, set()).add(user_id)

    def leave_chat(self, chat_id: int, user_id: int) -> None:
        """The user leaves (or is removed from) the group: getChatMember says "left" (until
        they write there again: back in)."""
        with self._cond:
            self._members.get(chat_id, set()).discard(user_id)
            admins = self._admins.get(chat_id, [])
            if user_id in admins:
                admins.remove(user_id)

    def fail_next(
        self, method: str, error: str, *, chat_id: int | None = None, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id`` if given) fail with ``error``.

        ``error``: ``retry_after:N``, ``blocked``, ``kicked``, ``migrate:NEWID``,
        ``parse_entities``, ``not_modified``, ``server_error`` or ``timeout:S`` (answer late).
        """
        parsed, delay = _parse_error(error)
        with self._cond:
            self._fail_rules.append(_FailRule(method.lower(), chat_id, times, parsed, delay))

    def block_chat(self, chat_id: int) -> None:
        with self._cond:
            self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        with self._cond:
            self._blocked.discard(chat_id)

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        with self._cond:
            self._migrations[old_id] = new_id
            self._chats[new_id] = {**self._chat(old_id), "id": new_id, "type": "supergroup"}

    def answer_one_at_a_time(self, seconds: float = 0.02) -> None:
        """sendMessage is taken one call at a time and answered ``seconds`` after it was
        taken; a call whose sender hung up before its turn is never taken (``dropped_count``)."""
        with self._cond:
            self._answer_seconds = seconds

    @property
    def dropped_count(self) -> int:
        with self._cond:
            return self._dropped

    def enforce_limits(
        self,
        global_per_s: float = 30,
        per_chat_per_s: float = 1,
        per_group_per_min: float = 20,
    ) -> None:
        """Answer 429 (with ``retry_after``) to sends beyond Telegram's documented rates."""
        with self._cond:
            self._limits = _Limits(
                TokenBucket(global_per_s, global_per_s), per_chat_per_s, per_group_per_min
            )

    # -- queries ---------------------------------------------------------------------------

    @property
    def rate_limited_count(self) -> int:
        with self._cond:
            return self._rate_limited

    @property
    def conflict_count(self) -> int:
        """getUpdates calls answered 409 because a newer one took over while they waited."""
        with self._cond:
            return self._conflicts

    def messages(self, chat_id: int | None = None) -> list[JSON]:
        """Successful sendMessage / sendDocument / edit* / deleteMessage calls, in order."""
        with self._cond:
            return copy.deepcopy(
                [r for r in self._sent if chat_id is None or r["chat_id"] == chat_id]
            )

    def sent_times(self, method: str = "sendMessage") -> list[tuple[int, float]]:
        """(chat id, monotonic time) of each successful ``method`` call, without copying the
        records: cheap enough to poll during a benchmark's thousands of messages."""
        with self._cond:
            return [(r["chat_id"], r["time"]) for r in self._sent if r["method"] == method]

    def texts(self, chat_id: int) -> list[str]:
        """Texts of the successful sendMessage calls to ``chat_id``."""
        return [r["text"] for r in self.messages(chat_id) if r["method"] == "sendMessage"]

    def calls(self, method: str | None = None) -> list[JSON]:
        """Every API request with a known method (getUpdates included), failed or not."""
        with self._cond:
            return copy.deepcopy(
                [c for c in self._calls if method is None or c["method"].lower() == method.lower()]
            )

    def failed_calls(self, method: str | None = None) -> list[JSON]:
        """Requests answered with an error (injected, persistent, limits, validation, 401/404)."""
        with self._cond:
            return copy.deepcopy(
                [c for c in self._failed if method is None or c["method"].lower() == method.lower()]
            )

    def callback_answers(self, callback_id: str | None = None) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(
                [
                    a
                    for a in self._answers
                    if callback_id is None or a["callback_query_id"] == callback_id
                ]
            )

    def inline_answers(self, query_id: str | None = None) -> list[JSON]:
        """Accepted answerInlineQuery calls (of ``query_id``), in order."""
        with self._cond:
            return copy.deepcopy(
                [
                    a
                    for a in self._inline_answers
                    if query_id is None or a["inline_query_id"] == query_id
                ]
            )

    def commands(self) -> list[JSON]:
        """Current setMyCommands state: one ``{scope, language_code, commands}`` per key."""
        with self._cond:
            return copy.deepcopy(list(self._commands.values()))

    def pending_updates(self) -> list[JSON]:
        """Updates injected but not yet confirmed by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    def stored_message(self, chat_id: int, message_id: int) -> JSON | None:
        """The message as Telegram holds it now (after edits), or None if unknown/deleted."""
        with self._cond:
            return copy.deepcopy(self._stored.get((chat_id, message_id)))

    def clear(self) -> None:
        """Forget sent records, failed calls and callback answers (not the chats' messages)."""
        with self._cond:
            self._sent.clear()
            self._failed.clear()
            self._answers.clear()

    # -- waiting ---------------------------------------------------------------------------

    def wait_until(
        self, predicate: Callable[[FakeTelegram], Any], timeout: float = 15, what: str = "condition"
    ) -> Any:
        """Block until ``predicate(self)`` is truthy and return its value."""
        return self._wait(lambda: predicate(self), timeout, what)

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 15) -> list[JSON]:
        """The first ``count`` sendMessage records to ``chat_id``, once there are that many."""

        def ready() -> list[JSON] | None:
            sent = [r for r in self.messages(chat_id) if r["method"] == "sendMessage"]
            return sent[:count] if len(sent) >= count else None

        return self._wait(ready, timeout, f"{count} sendMessage to chat {chat_id}")

    def wait_for_updates_taken(self, timeout: float = 15) -> None:
        """Block until the bot has confirmed (by a getUpdates offset) every injected update,
        i.e. it has fetched them all and handed them to its handlers."""
        self._wait(lambda: not self._updates, timeout, "the bot to take every pending update")

    def wait_for_get_updates(self, timeout: float = 20) -> bool:
        """True once the bot has polled at least once (the "bot is ready" signal)."""
        return self._wait(lambda: bool(self.calls("getUpdates")), timeout, "a getUpdates call")

    def _dump(self) -> str:
        with self._cond:
            counts: dict[str, int] = {}
            for call in self._calls:
                counts[call["method"]] = counts.get(call["method"], 0) + 1
            lines = [f"calls per method: {counts}", f"sent ({len(self._sent)}):"]
            lines += [
                f"  {r['method']} chat={r['chat_id']} id={r['message_id']} text={r['text']!r:.300}"
                for r in self._sent[-30:]
            ]
            lines.append(f"failed ({len(self._failed)}):")
            lines += [
                f"  {f['method']} chat={f['chat_id']} {f['error_code']} {f['description']}"
                for f in self._failed[-20:]
            ]
            lines.append(f"pending updates: {len(self._updates)}")
            lines.append(f"getUpdates conflicts (409): {self._conflicts}")
            return "\n".join(lines)
